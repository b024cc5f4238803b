#!/bin/sh
# Seed 002 (GEOM) reproduction: Table 1's Fashion-MNIST block (and MNIST, beside seed 000),
# both scores from one trained network per (class, seed). One command, resumable (finished
# rows are skipped). Environment (defaults in brackets):
#   ANOMALENS  the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   PRESET     paper | quick [paper]     SEEDS  [0-2]     DATASETS ["fashion_mnist mnist"]
#   RESULTS    results folder [benchmarks/results]
#   BATCH      extra runner flags, e.g. "--batch-models 10" to train ten classes as one batched network
#   DATA_ROOT  optional: a folder with cifar10/, cifar100/ and catsvsdogs/ (published formats);
#              when set, those blocks of Table 1 run too (CatsVsDogs uses WRN-16-8 at 64 px)
set -eu
A=${ANOMALENS:-anomalens}
P=${PRESET:-paper}
S=${SEEDS:-0-2}
R=${RESULTS:-benchmarks/results}
B=${BATCH:-}
run() {  # dataset, extra flags
    ds=$1
    shift
    $A benchmark --method geom --dataset "$ds" --preset "$P" --seeds "$S" --out "$R/geom-$ds-$P.jsonl" $B \
        --also geom:score_mode=simple "$@"
}
for ds in ${DATASETS:-fashion_mnist mnist}; do
    run "$ds"
done
if [ -n "${DATA_ROOT:-}" ]; then
    for ds in cifar10 cifar100 catsvsdogs; do
        if [ -d "$DATA_ROOT/$ds" ]; then
            run "$ds" --data-root "$DATA_ROOT/$ds"
        fi
    done
fi
