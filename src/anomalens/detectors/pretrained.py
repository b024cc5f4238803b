"""Nearest-neighbour distance on frozen pretrained features -- beyond the seed papers.

Seed 000's scorer (distance to the nearest normal training vector, exact or product-quantized)
on the embedding of a network that is *not* trained on the normal images at all: the ImageNet
VGG19 that seed 004 uses for its perceptual loss. Nothing is fitted but the faiss index, so a
class takes seconds on a GPU and minutes on a CPU, and no seed changes the network. The idea is
that of Bergman, Cohen & Hoshen, *Deep Nearest Neighbor Anomaly Detection* (2020), who use an
ImageNet ResNet at 224 px; no such ResNet can be had here (see DESIGN.md, *Pretrained
backbones*), hence VGG19, at the images' own size by default.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..nn.vgg import VGG19_LAYERS
from .base import Interval, NoneOr, OneOf
from .knn import RawNNQED
from .network import TorchDevice, store_params

__all__ = ["VGG19NNQED", "pretrained_vgg19"]

_VGG: dict[str, Any] = {}


def pretrained_vgg19(device: Any):
    """One frozen ImageNet VGG19 (eval mode) per device, shared by every detector in the process."""
    key = str(device)
    if key not in _VGG:
        from ..data.backbones import load_vgg19_weights
        from ..nn.vgg import VGG19

        vgg = VGG19()
        vgg.load_state_dict(load_vgg19_weights())
        _VGG[key] = vgg.to(device).eval()
    return _VGG[key]


class VGG19NNQED(TorchDevice, RawNNQED):
    """NN-QED on frozen ImageNet VGG19 features (not from a seed paper; see the module docstring).

    Each image is zero-padded to ``pad_to`` (28 -> 32 px, as seed 000 does), optionally resized
    (bilinear) to ``input_size``, given VGG19's Caffe preprocessing (grayscale repeated to three
    channels), and embedded as the global average of the ReLU output ``layer`` (512-d for
    ``relu4_*`` / ``relu5_*``). The score is the squared L2 distance to the nearest training
    embedding, searched as ``index`` says (seed 000's ``flat`` / ``pq`` / ``pq_fastscan``, PQ with
    ``m`` sub-quantizers of ``nbits`` bits); ``threshold_`` is the ``threshold_quantile`` of the
    leave-one-out training scores. Only the faiss index is saved: the VGG19 weights come from
    the installed backbone package (:mod:`anomalens.data.backbones`) when a model is loaded.

    The default ``layer`` (``relu5_4``, the last convolution, as the ImageNet features Bergman et
    al. pool) was fixed before any test result was seen; results with other layers or sizes are
    ablations, never a choice made on test labels.

    Parameters
    ----------
    layer : str, default "relu5_4"
        VGG19 ReLU output to pool (``relu1_1`` ... ``relu5_4``).
    input_size : int or None, default None
        Resize the padded images to this square size before VGG19 (``None``: as they are; at
        least 16, the stride of ``relu5_*``). Larger inputs are closer to ImageNet's 224 px
        and cost about ``(input_size / 32) ** 2`` times more.
    batch_size : int, default 256
        Images per VGG19 forward pass.
    device : str, default "auto"
        ``"auto"`` = CUDA when present, else CPU; or a torch device (``"cpu"``, ``"cuda:1"``).
    verbose : bool, default False
        Progress bar over the embedding batches.
    index, m, nbits, k, pad_to, threshold_quantile, image_size, seed
        As in :class:`~anomalens.detectors.knn.RawNNQED` (``seed`` seeds only the PQ k-means).
    """

    name: ClassVar[str] = "vgg19_nnqed"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # Nothing is trained and there is no paper setting: the one preset is the class defaults,
        # which run on 2 CPU cores (about 130 images/s per core at 32 px).
        "quick": {"index": "pq_fastscan", "m": 32, "nbits": 4, "k": 1, "pad_to": 32, "layer": "relu5_4",
                  "input_size": None},
    }
    _param_constraints: ClassVar[dict[str, Any]] = {
        **RawNNQED._param_constraints,
        "layer": OneOf(VGG19_LAYERS),
        "input_size": NoneOr(Interval(int, 16, None)),
        "batch_size": Interval(int, 1, None),
    }

    def __init__(
        self,
        *,
        layer: str = "relu5_4",
        input_size: int | None = None,
        batch_size: int = 256,
        index: str = "pq_fastscan",
        m: int = 32,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = 32,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _vectors(self, X: np.ndarray) -> np.ndarray:
        """``N x H x W x C`` images -> ``N x channels`` float32 pooled VGG19 features."""
        import torch
        from tqdm.auto import tqdm

        from ..train import to_uint8_tensor

        dev = self._torch_device()
        vgg = pretrained_vgg19(dev)
        data = to_uint8_tensor(X, torch.device("cpu"), self.pad_to)
        if min(data.shape[2:]) < 16 and self.input_size is None:
            raise ValueError(f"images of {tuple(data.shape[2:])} px are too small for VGG19 (at least 16 px); "
                             "set input_size or pad_to")
        out = []
        starts = range(0, len(data), self.batch_size)
        with torch.inference_mode():
            for i in tqdm(starts, desc=f"{self.name} embedding", unit="batch", disable=not self.verbose, leave=False):
                x = data[i : i + self.batch_size].to(dev).float().div_(255.0)
                if self.input_size is not None:
                    x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                                        align_corners=False)
                feats = vgg(vgg.preprocess(x), [self.layer])[self.layer]
                out.append(feats.mean(dim=(2, 3)).float().cpu())
        return torch.cat(out).numpy().astype(np.float32)

    # the training images are embedded once: _fit keeps their vectors for the leave-one-out scores
    def _fit(self, X: np.ndarray) -> None:
        vectors = self._vectors(X)
        self.scorer_ = self._new_scorer().fit(vectors)
        self._train_vectors = (X, vectors)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        cached, vectors = self.__dict__.pop("_train_vectors", (None, None))
        return self.scorer_.score_training(vectors if cached is X else self._vectors(X))
