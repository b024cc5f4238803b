"""Nearest-neighbour detectors (seed 000): the anomaly score is the distance to the nearest
normal training image in some representation, searched exactly or by product quantization."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..data.validation import to_float_nchw
from ..scoring.knn import INDEX_TYPES, KNNScorer
from .base import BaseDetector, Interval, OneOf, NoneOr

__all__ = ["RawNNQED", "KNNScoring", "pad_to_size"]


def pad_to_size(X: np.ndarray, size: int | None) -> np.ndarray:
    """Zero-pad ``N x C x H x W`` images symmetrically up to ``size`` x ``size`` (no-op if larger).

    Seed 000's code pads 28 px MNIST / Fashion-MNIST by 2 px per side to 32 x 32.
    """
    if size is None:
        return X
    _, _, h, w = X.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph == 0 and pw == 0:
        return X
    return np.pad(X, ((0, 0), (0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))


class KNNScoring:
    """The nearest-neighbour scorer part of every NN-QED detector: its parameters (``index``,
    ``m``, ``nbits``, ``k``, ``seed``), its minimum training size and its saved state (the faiss
    index bytes + the vector dimension). The host class says which vectors are indexed."""

    KNN_CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "index": OneOf(INDEX_TYPES),
        "m": Interval(int, 1, None),
        "nbits": Interval(int, 1, 16),
        "k": Interval(int, 1, None),
    }

    def _new_scorer(self) -> KNNScorer:
        return KNNScorer(index=self.index, m=self.m, nbits=self.nbits, k=self.k, seed=self.seed)

    def _min_train_samples(self) -> int:
        return max(self.k + 1, 2**self.nbits if self.index != "flat" else 2)

    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {"index_bytes": self.scorer_.to_bytes()}

    def _fitted_scalars(self) -> dict[str, Any]:
        return {"dim": self.scorer_.dim_}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.scorer_ = self._new_scorer().from_bytes(tensors["index_bytes"], int(scalars["dim"]))


class RawNNQED(KNNScoring, BaseDetector):
    """Raw NN-QED: distance to the nearest training image in raw pixel space (seed 000, Table 4).

    Pixels are scaled to [0, 1] (divided by 255) and images smaller than ``pad_to`` are
    zero-padded to it, as in the authors' code (28 -> 32 px), then flattened (C x H x W order).
    The score is the squared Euclidean distance to the nearest training vector: exact
    (``index="flat"``, the paper's EED), product-quantized (``"pq"``, the paper's QED, faiss
    ``IndexPQ`` with ``m`` sub-quantizers of ``nbits`` bits) or the same codes searched with
    faiss fast-scan (``"pq_fastscan"``).

    Training scores for the threshold are leave-one-out: each training image's distance to
    its nearest *other* training image.

    Parameters
    ----------
    index : {"flat", "pq", "pq_fastscan"}, default "pq_fastscan"
        The presets pin ``"pq"`` (the paper's QED); the default is the fast-scan search of the
        same PQ codes, which ranked within 0.01 AUROC points of ``"pq"`` on MNIST and searched
        30-60x faster on 2 CPU cores (``benchmarks/KNN_SPEED.md``).
    m : int, default 32
        PQ sub-quantizers (paper: m = 32).
    nbits : int, default 4
        Bits per code (paper: c = 4).
    k : int, default 1
        Distance to the k-th nearest neighbour (paper: 1).
    pad_to : int or None, default 32
        Zero-pad smaller images to this square size; ``None`` keeps them as they are.
    threshold_quantile : float, default 0.99
        ``threshold_`` is this quantile of the leave-one-out training scores.
    image_size : int or None
        Size image *files* are resized to (arrays are used as given).
    seed : int, default 0
        Seed of the PQ k-means.

    Attributes
    ----------
    scorer_ : KNNScorer
        The fitted faiss index wrapper.
    input_shape_ : tuple
        ``(H, W, C)`` of the training images.
    train_scores_ : ndarray
        Leave-one-out training scores.
    threshold_ : float
    """

    name: ClassVar[str] = "raw_nnqed"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"index": "pq", "m": 32, "nbits": 4, "k": 1, "pad_to": 32},
        # Nothing is trained, so the CPU-sized preset is the paper's setting.
        "quick": {"index": "pq", "m": 32, "nbits": 4, "k": 1, "pad_to": 32},
    }
    _param_constraints: ClassVar[dict[str, Any]] = {
        **BaseDetector._param_constraints,
        **KNNScoring.KNN_CONSTRAINTS,
        "pad_to": NoneOr(Interval(int, 1, None)),
        "image_size": NoneOr(Interval(int, 1, None)),
    }

    def __init__(
        self,
        *,
        index: str = "pq_fastscan",
        m: int = 32,
        nbits: int = 4,
        k: int = 1,
        pad_to: int | None = 32,
        threshold_quantile: float = 0.99,
        image_size: int | None = None,
        seed: int = 0,
    ):
        self.index = index
        self.m = m
        self.nbits = nbits
        self.k = k
        self.pad_to = pad_to
        self.threshold_quantile = threshold_quantile
        self.image_size = image_size
        self.seed = seed

    def _vectors(self, X: np.ndarray) -> np.ndarray:
        x = pad_to_size(to_float_nchw(X), self.pad_to)
        return x.reshape(len(x), -1)

    def _fit(self, X: np.ndarray) -> None:
        self.scorer_ = self._new_scorer().fit(self._vectors(X))

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score_training(self._vectors(X))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score(self._vectors(X))

    def _get_state(self) -> dict[str, np.ndarray]:
        return self._scorer_state()

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self._set_scorer_state(tensors, scalars)
