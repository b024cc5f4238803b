#!/bin/sh
# Run THERE, on the lent GPU machine (the `run` tool), after benchmarks/device_prepare.sh here:
#   run(command="sh benchmarks/device.sh 520 tests train_speed seed000", carry=[".whl", ".data"], timeout_s=580)
# Jobs run in turn until BUDGET seconds are spent (a job still running then is stopped; the
# seed scripts are resumable and append a row per finished run, so what finished is kept):
#   tests        the CUDA tests (tests/test_train.py)
#   train_speed  benchmarks/train_speed.py (1 model, CUDA graph, K models batched)
#   seed000 ... seed004   benchmarks/seedNNN.sh with their own environment (PRESET [paper], SEEDS,
#                DATASETS, BATCH, PARTS, ...; see each script), e.g. SEEDS=0 BATCH="--batch-models 10"
#   vgg19        benchmarks/vgg19.sh: vgg19_nnqed at 32 px and 224 px (INPUT_SIZES) and vgg19_patch_nnqed
#                on synthetic_parts (PARTS="pooled patch coreset"); needs the VGG19 weights:
#                VGG19=1 sh benchmarks/device_prepare.sh, carry ".vgg19"; with PATCH_METHOD=effnet_patch_nnqed
#                PARTS="patch coreset", EFFNET=1 instead (synthetic_parts is generated: carry ".whl" ".vgg19" only)
# Everything comes back as $OUT/results.tar.gz (benchmarks/results and the speed tables) and
# $OUT/device.log; here: tar xzf <files_at>/results.tar.gz && make report.
set -u
: "${OUT:?run this through the device tool, which sets OUT}"
BUDGET=${1:?usage: device.sh BUDGET_SECONDS JOB...}
shift
END=$(( $(date +%s) + BUDGET ))
LOG="$OUT/device.log"
pack() {  # $1: a temporary name in $OUT; the archive appears whole under its own name or not at all
    tar czf "$OUT/$1" benchmarks/results $(ls benchmarks/*.md 2>/dev/null) 2>>"$LOG" && mv "$OUT/$1" "$OUT/results.tar.gz"
}
# The lease can end before BUDGET when less device time is left than asked for: pack every
# PACK_EVERY seconds too, so what finished comes back even if the command itself is killed.
# The loop and the final pack write different temporary files: a loop tar still running when
# the loop is killed cannot garble the final archive.
(while sleep "${PACK_EVERY:-60}"; do pack .loop.tar.gz; done) &
PACKER=$!
trap 'kill $PACKER 2>/dev/null; pack .final.tar.gz; rm -f "$OUT/.loop.tar.gz"
      echo "packed $(tar tzf "$OUT/results.tar.gz" | wc -l) paths" >> "$LOG"' EXIT
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        >> "$LOG" 2>&1 || { echo "wheel install failed" >> "$LOG"; exit 1; }
    export PYTHONPATH="src:/tmp/site"
else
    export PYTHONPATH=src
fi
export ANOMALENS_DATA=/tmp/anomalens-data ANOMALENS="python3 -m anomalens" PYTHON=python3 PYTHONUNBUFFERED=1
export TQDM_MININTERVAL=30  # the per-run training bars: a line every 30 s in the log, not every 0.1 s
export PRESET=${PRESET:-paper}
for xz in .data/*/*.xz; do  # from device_prepare.sh
    [ -f "$xz" ] || continue
    ds=$(basename "$(dirname "$xz")")
    mkdir -p "$ANOMALENS_DATA/$ds"
    python3 -c "import lzma, sys; open(sys.argv[2], 'wb').write(lzma.open(sys.argv[1]).read())" \
        "$xz" "$ANOMALENS_DATA/$ds/$(basename "$xz" .xz)"
done
ls .vgg19/*.bin >/dev/null 2>&1 && export ANOMALENS_VGG19="$(ls "$PWD"/.vgg19/*.bin | head -1)"
ls .vgg19/*.pth >/dev/null 2>&1 && export ANOMALENS_EFFICIENTNET_LITE0="$(ls "$PWD"/.vgg19/*.pth | head -1)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$LOG" 2>&1
for job in "$@"; do
    left=$(( END - $(date +%s) ))
    if [ "$left" -lt 20 ]; then echo "budget spent: $job not started" | tee -a "$LOG"; continue; fi
    echo "== $job ($left s left) $(date -u +%T)" | tee -a "$LOG"
    case $job in
    tests) cmd="python3 -m pytest -q -p no:cacheprovider tests/test_train.py" ;;
    train_speed) cmd="python3 benchmarks/train_speed.py --nets inception,baseline,wrn --out benchmarks/results/train_speed.json --markdown benchmarks/TRAIN_SPEED.md" ;;
    seed00[0-4]) cmd="sh benchmarks/$job.sh" ;;
    vgg19) export INPUT_SIZES="${INPUT_SIZES:-none 224}"; cmd="sh benchmarks/vgg19.sh" ;;
    *) echo "unknown job $job" | tee -a "$LOG"; continue ;;
    esac
    timeout "$left" $cmd 2>&1 | tail -n 40 | tee -a "$LOG"
    echo "== $job done $(date -u +%T)" | tee -a "$LOG"
done
