#!/bin/sh
# Beyond the papers: vgg19_nnqed (NN-QED on frozen ImageNet VGG19 features) on every class of
# each dataset, one seed (nothing is trained; the seed only seeds the PQ k-means). Resumable.
# Environment (defaults in brackets):
#   ANOMALENS   the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   DATASETS    [fashion_mnist mnist]     SEEDS [0]     RESULTS [benchmarks/results]
#   INPUT_SIZES images resized to each size before VGG19, "none" = as they are (32 px) [none];
#               "none 224" adds the ImageNet-sized run (about 50x the compute: a GPU job)
set -eu
A=${ANOMALENS:-anomalens}
S=${SEEDS:-0}
R=${RESULTS:-benchmarks/results}
for size in ${INPUT_SIZES:-none}; do
    set_size=""
    [ "$size" = none ] || set_size="--set input_size=$size"
    for ds in ${DATASETS:-fashion_mnist mnist}; do
        $A benchmark --method vgg19_nnqed --dataset "$ds" --preset quick --seeds "$S" $set_size \
            --out "$R/vgg19_nnqed-$ds-quick.jsonl"
    done
done
