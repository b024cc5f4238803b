#!/bin/sh
# Beyond the papers, nothing trained, frozen ImageNet VGG19 features. Resumable.
#   pooled: vgg19_nnqed (NN-QED on globally pooled features) on every class of each dataset
#   patch:  vgg19_patch_nnqed (patch-level NN-QED with anomaly maps) on every synthetic_parts category
#   coreset: the same with PatchCore's memory bank at equal memory: a greedy k-center 1/64 of the
#           training patches, exact search (3 KB a patch x 1/64 = the PQ codes' 48 bytes a patch)
# One seed by default (the seed only draws the PQ k-means and, for patch, the held-out images).
# Environment (defaults in brackets):
#   ANOMALENS   the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   PARTS       ["pooled patch coreset"]   DATASETS [fashion_mnist mnist]   SEEDS [0]   RESULTS [benchmarks/results]
#   INPUT_SIZES pooled: images resized to each size before VGG19, "none" = as they are (32 px) [none];
#               "none 224" adds the ImageNet-sized run (about 50x the compute: a GPU job)
#   PATCH_DATASET  patch: synthetic_parts, or folder with DATA_ROOT=... (MVTec AD) [synthetic_parts]
#   PATCH_METHOD   patch / coreset: vgg19_patch_nnqed, or effnet_patch_nnqed (the same on a frozen
#               EfficientNet-Lite0; its PQ codes are also 1/64 of float32, so 1/64 is again equal memory),
#               or augnet_patch_nnqed (the same on a frozen self-supervised ResNet-50, AugNet weights)
#               [vgg19_patch_nnqed]
#   SCORES      per-image score records for the report's figures [$RESULTS/scores]
set -eu
A=${ANOMALENS:-anomalens}
S=${SEEDS:-0}
R=${RESULTS:-benchmarks/results}
for part in ${PARTS:-pooled patch coreset}; do
    case $part in
    pooled)
        for size in ${INPUT_SIZES:-none}; do
            set_size=""
            [ "$size" = none ] || set_size="--set input_size=$size"
            for ds in ${DATASETS:-fashion_mnist mnist}; do
                $A benchmark --method vgg19_nnqed --dataset "$ds" --preset quick --seeds "$S" $set_size \
                    --out "$R/vgg19_nnqed-$ds-quick.jsonl"
            done
        done ;;
    patch|coreset)
        D=${PATCH_DATASET:-synthetic_parts}
        ROOT=""
        if [ -n "${DATA_ROOT:-}" ]; then ROOT="--data-root $DATA_ROOT"; fi
        # patch keeps score records for the report's figures; coreset is its equal-memory variant
        if [ "$part" = patch ]; then set -- --scores "${SCORES:-$R/scores}"
        else set -- --set coreset=0.015625 --set index=flat; fi
        M=${PATCH_METHOD:-vgg19_patch_nnqed}
        $A benchmark --method "$M" --dataset "$D" $ROOT --category all --preset quick --seeds "$S" \
            "$@" --out "$R/$M-$D-quick.jsonl" ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
