#!/bin/sh
# Seed 003 (encoder + RealNVP): MNIST leave-one-class-out (the paper's protocol), MNIST
# one-vs-rest (to compare with the other seeds), the pixel-likelihood variant, and the
# cross-dataset check MNIST <-> Fashion-MNIST, on the latent (ood) and on pixels (ood_pixels,
# the paper's motivation: a pixel likelihood can favour the other dataset). One command,
# resumable. Environment:
#   ANOMALENS  the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   PRESET     paper | quick [paper]     SEEDS [0]     RESULTS [benchmarks/results]
#   BATCH      extra runner flags, e.g. "--batch-models 10"
#   PARTS      which parts to run ["loo ovr pixels ood ood_pixels ganomaly"]
set -eu
A=${ANOMALENS:-anomalens}
P=${PRESET:-paper}
S=${SEEDS:-0}
R=${RESULTS:-benchmarks/results}
B=${BATCH:-}
for part in ${PARTS:-loo ovr pixels ood ood_pixels ganomaly}; do
    case $part in
    loo) $A benchmark --method encoder_flow --dataset mnist --protocol leave_one_out --preset "$P" --seeds "$S" \
             --out "$R/encoder_flow-mnist-$P.jsonl" $B ;;
    ovr) $A benchmark --method encoder_flow --dataset mnist --protocol one_vs_rest --preset "$P" --seeds "$S" \
             --out "$R/encoder_flow-mnist-$P.jsonl" $B ;;
    pixels) $A benchmark --method encoder_flow --dataset mnist --protocol leave_one_out --preset "$P" --seeds "$S" \
             --set on=pixels --out "$R/encoder_flow-mnist-$P.jsonl" $B ;;
    ood|ood_pixels)
         on=latent; [ "$part" = ood ] || on=pixels
         for pair in "mnist fashion_mnist" "fashion_mnist mnist"; do
             set -- $pair
             $A benchmark --method encoder_flow --dataset "$1" --ood-dataset "$2" --preset "$P" --seeds "$S" \
                 --set on=$on --out "$R/encoder_flow-$1-$P.jsonl" $B
         done ;;
    ganomaly) if $A list | grep -q '^ *ganomaly'; then
             $A benchmark --method ganomaly --dataset mnist --protocol leave_one_out --preset "$P" --seeds "$S" \
                 --out "$R/ganomaly-mnist-$P.jsonl" $B
         fi ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
