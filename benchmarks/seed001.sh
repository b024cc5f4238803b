#!/bin/sh
# Seed 001 (industrial inspection) on every category of synthetic_parts (or, with
# DATASET=folder DATA_ROOT=$ANOMALENS_MVTEC CATEGORIES=toothbrush,bottle,screw,leather,transistor,
# on MVTec AD): KD-CAE, NI-CAE with and without noise, the supervised CNN, and KD-CAE / NI-CAE
# with DCGAN-augmented training sets; raw_nnqed as the calibration baseline. One command,
# resumable. Environment:
#   ANOMALENS  the command [anomalens]; on a machine without the venv: "python3 -m anomalens"
#   PRESET     paper | quick [paper]    SEEDS [0-2]    RESULTS [benchmarks/results]
#   PARTS      ["raw kd ni ssim cnn kd_dcgan ni_dcgan"]
#   SCORES     per-image score records for the report's figures [$RESULTS/scores]
#   DCGAN_SET  DCGAN overrides for the +dcgan parts, e.g. "epochs=300" (rows record them as params.dcgan)
#   MODELS     git-ignored folder; the +dcgan parts keep their DCGANs in $MODELS/dcgan, so kd_dcgan and
#              ni_dcgan train one generator per category and seed and use the same images [models]
set -eu
A=${ANOMALENS:-anomalens}
P=${PRESET:-paper}
S=${SEEDS:-0-2}
R=${RESULTS:-benchmarks/results}
D=${DATASET:-synthetic_parts}
C=${CATEGORIES:-all}
ROOT=""
if [ -n "${DATA_ROOT:-}" ]; then ROOT="--data-root $DATA_ROOT"; fi
run() {  # run METHOD OUTNAME [extra flags]
    m=$1; name=$2; shift 2
    $A benchmark --method "$m" --dataset "$D" $ROOT --category "$C" --preset "$P" --seeds "$S" \
        --out "$R/$name-$D-$P.jsonl" --scores "${SCORES:-$R/scores}" "$@"
}
DSET="--dcgan-cache ${MODELS:-models}/dcgan"
for kv in ${DCGAN_SET:-}; do DSET="$DSET --augment-set $kv"; done
for part in ${PARTS:-raw kd ni ssim cnn kd_dcgan ni_dcgan}; do
    case $part in
    raw) run raw_nnqed raw_nnqed ;;
    kd) run kd_cae kd_cae --also kd_cae:score_mode=re --also kd_cae:score_mode=kde ;;
    ni) run ni_cae ni_cae ;;
    ssim) run cae_ssim cae_ssim ;;
    cnn) run supervised_cnn supervised_cnn ;;
    kd_dcgan) run kd_cae kd_cae+dcgan --augment dcgan $DSET ;;
    ni_dcgan) run ni_cae ni_cae+dcgan --augment dcgan $DSET ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
