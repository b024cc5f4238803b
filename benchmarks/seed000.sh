#!/bin/sh
# Seed 000 reproduction: every detector of the paper's Tables 2 and 4-6 and the m/c sweep.
# One command, resumable (finished rows are skipped). Each network is trained once; the
# paper's comparisons on one network (EED vs QED vs fast-scan, RE vs NN-QED, OCSVM) are
# scored from it with --also. Environment (defaults in brackets):
#   ANOMALENS   the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   PRESET      paper | quick [paper]       SEEDS    [0-2]      DATASETS ["mnist fashion_mnist"]
#   RESULTS     results folder [benchmarks/results]             MODELS   [models] (git-ignored)
#   BATCH       extra runner flags, e.g. "--batch-models 30" to train 10 classes x 3 seeds at once (rows are
#               written when a batch ends: on a time-limited device call leave it empty, so the default,
#               each class's seeds together on CUDA, writes rows class by class)
#   SWEEP       1 = run the m/c sweep on Fashion-MNIST from the saved InceptionCAE models [1]
#   SWEEP_SEEDS seeds of the sweep [0] (65 settings per model; about 4 min per model on 2 cores)
#   PYTHON      for the sweep script [python3]
set -eu
A=${ANOMALENS:-anomalens}
P=${PRESET:-paper}
S=${SEEDS:-0-2}
R=${RESULTS:-benchmarks/results}
M=${MODELS:-models}
B=${BATCH:-}
for ds in ${DATASETS:-mnist fashion_mnist}; do
    $A benchmark --method inception_cae_nnqed --dataset "$ds" --preset "$P" --seeds "$S" \
        --out "$R/inception_cae_nnqed-$ds-$P.jsonl" --save-models "$M" $B \
        --also inception_cae_nnqed:index=flat --also inception_cae_nnqed:index=pq_fastscan --also inception_cae_re
    $A benchmark --method cae_nnqed --dataset "$ds" --preset "$P" --seeds "$S" \
        --out "$R/cae_nnqed-$ds-$P.jsonl" $B \
        --also cae_nnqed:index=flat --also cae_re --also cae_ocsvm
    $A benchmark --method deepsvdd --dataset "$ds" --preset "$P" --seeds "$S" \
        --out "$R/deepsvdd-$ds-$P.jsonl" $B
done
if [ "${SWEEP:-1}" = 1 ] && [ -d "$M/inception_cae_nnqed-fashion_mnist-$P" ]; then
    ${PYTHON:-python3} benchmarks/pq_sweep.py --dataset fashion_mnist --models "$M/inception_cae_nnqed-fashion_mnist-$P" \
        --seeds "${SWEEP_SEEDS:-0}" --out "$R/sweeps/pq_sweep-fashion_mnist-$P.jsonl" --markdown "benchmarks/PQ_SWEEP-$P.md"
fi
