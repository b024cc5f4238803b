#!/bin/sh
# Run HERE (the machine with network and the venv) before a session's first device call: puts
# what the lent GPU machine lacks into git-ignored folders that `run`'s `carry` takes along
# (64 MiB a call in all):
#   .whl/   faiss-cpu as a cp312 manylinux wheel (its python3 has torch, numpy, scikit-learn,
#           scikit-image, ... but no faiss)                                          ~19 MB
#   .data/  MNIST and Fashion-MNIST as xz files, from this machine's cache (fetching them
#           first); benchmarks/device.sh unpacks them there                          ~36 MB
#   .vgg19/ the pinned VGG19 weights file (seed 004 only; VGG19=1)                    ~20 MB
#           and/or the pinned EfficientNet-Lite0 weights file (effnet_patch_nnqed; EFFNET=1) ~19 MB
# Idempotent. Usage: sh benchmarks/device_prepare.sh [datasets, default "mnist fashion_mnist"]
set -eu
PY=${PYTHON:-.venv/bin/python}
FAISS=$($PY -c "import importlib.metadata as m; print(m.version('faiss-cpu'))")
if ! ls .whl/faiss_cpu-"$FAISS"-*.whl >/dev/null 2>&1; then
    $PY -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "faiss-cpu==$FAISS"
fi
for ds in ${1:-mnist fashion_mnist}; do
    folder=$($PY -c "from anomalens.data import load_dataset; from anomalens.data.fetch import cache_dir
load_dataset('$ds'); print(cache_dir() / '$ds')")
    mkdir -p ".data/$ds"
    rm -f ".data/$ds"/*.gz  # older sessions' gzip copies: xz keeps MNIST + Fashion-MNIST + faiss under 64 MiB
    for f in "$folder"/*; do
        out=".data/$ds/$(basename "$f").xz"
        [ -f "$out" ] || $PY -c "import lzma, sys, os
data = open(sys.argv[1], 'rb').read()
with open(sys.argv[2] + '.tmp', 'wb') as fh:
    fh.write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
os.replace(sys.argv[2] + '.tmp', sys.argv[2])" "$f" "$out"
    done
done
if [ "${VGG19:-0}" = 1 ]; then
    mkdir -p .vgg19
    cp -u "$($PY -c 'from anomalens.data.backbones import vgg19_weights_file; print(vgg19_weights_file())')" .vgg19/
fi
if [ "${EFFNET:-0}" = 1 ]; then
    mkdir -p .vgg19
    cp -u "$($PY -c 'from anomalens.data.backbones import efficientnet_lite0_weights_file as f; print(f())')" .vgg19/
fi
du -sh .whl .data .vgg19 2>/dev/null || true
