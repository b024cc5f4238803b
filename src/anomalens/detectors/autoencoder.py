"""Autoencoder detectors of seed 000: InceptionCAE / baseline CAE with NN-QED, reconstruction
error, OCSVM, and Deep SVDD on the baseline CAE encoder.

All of them train their network with :func:`anomalens.train.train_models` (Adam, the
paper's two-phase schedule, batch 200, weight decay 1e-6, MSE) on images scaled to [0, 1]
and zero-padded to ``pad_to`` (28 -> 32 px, as in the authors' code), and differ only in
how a trained network turns an image into a score:

=========================  ======================  ========================================
detector                   network                 score
=========================  ======================  ========================================
``inception_cae_nnqed``    InceptionCAE (Table 1)  NN distance of the GAP bottleneck (128-d)
``cae_nnqed``              baseline CAE            NN distance of the dense bottleneck (128-d)
``inception_cae_re``       InceptionCAE            reconstruction error (mean squared)
``cae_re``                 baseline CAE            reconstruction error
``cae_ocsvm``              baseline CAE            -OCSVM decision (RBF, gamma=1/d, nu=0.5)
``deepsvdd``               bias-free baseline CAE  squared distance to the centre c
=========================  ======================  ========================================

Several seeds of one detector train together as one batched network (``fit_seeds``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..scoring.ocsvm import OCSVMScorer
from .base import Interval, OneOf
from .knn import KNNScoring
from .network import TRAIN_CONSTRAINTS, NetworkDetector, store_params

__all__ = ["InceptionCAENNQED", "CAENNQED", "InceptionCAERE", "CAERE", "CAEOCSVM", "DeepSVDD"]

_TRAIN_DOC = """
    epochs, finetune_epochs : int, default 100, 50
        Epochs at ``lr`` then at ``finetune_lr`` (seed 000: 100 + 50 for MNIST and
        Fashion-MNIST, 250 + 100 for CIFAR: preset ``paper_cifar``).
    lr, finetune_lr : float, default 1e-4, 1e-5
    batch_size : int, default 200
    weight_decay : float, default 1e-6
        Adam's L2 penalty.
    pad_to : int or None, default 32
        Zero-pad smaller images to this square size (28 -> 32 px as in the authors' code).
    threshold_quantile : float, default 0.99
        ``threshold_`` is this quantile of the training scores.
    image_size : int or None
        Size image *files* are resized to (arrays are used as given).
    device : str, default "auto"
        "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
    precision : {"fp32", "bf16"}, default "fp32"
        bf16 autocast of the training forward pass on CUDA.
    seed : int, default 0
        Seeds the initial weights and the batch order.
    verbose : bool, default False
        Show a progress bar with the loss while training.
"""

_TRAIN_CONSTRAINTS: dict[str, Any] = {
    **TRAIN_CONSTRAINTS,
    "epochs": Interval(int, 0, None),
    "finetune_epochs": Interval(int, 0, None),
    "finetune_lr": Interval(float, 0.0, None, lo_open=True),
    "train_gap": OneOf((None, "reshape", "tile")),
}

_PAPER = {"epochs": 100, "finetune_epochs": 50, "lr": 1e-4, "finetune_lr": 1e-5, "batch_size": 200, "weight_decay": 1e-6}
_PAPER_CIFAR = {**_PAPER, "epochs": 250, "finetune_epochs": 100}
# CPU-sized: a few epochs at a 10x larger rate; about a minute per MNIST class on 2 cores.
_QUICK = {"epochs": 1, "finetune_epochs": 1, "lr": 1e-3, "finetune_lr": 1e-4, "batch_size": 200, "weight_decay": 1e-6}

_store = store_params

_GAP_DOC = """
    train_gap : {None, "reshape", "tile"}, default None
        Train with the GAP layer inside the network, as the paper's text says it did for MNIST
        and Fashion-MNIST (preset ``paper``: ``"reshape"``); the decoder then starts from the
        pooled 128-d code laid out as 4 x 4 x 8 (``"reshape"``) or repeated over 4 x 4
        (``"tile"``), see :class:`anomalens.nn.InceptionCAE`. ``None``: trained without it,
        GAP applied only to extract the embedding (the authors' public code; the paper's
        setting for CIFAR, preset ``paper_cifar``)."""
#: the InceptionCAE presets: GAP inside the network for the 28 px datasets only (seed 000, 4.3)
_INCEPTION_PRESETS = {"paper": {**_PAPER, "train_gap": "reshape"}, "paper_cifar": {**_PAPER_CIFAR, "train_gap": None},
                      "quick": {**_QUICK, "train_gap": None}}


class _NetworkDetector(NetworkDetector):
    """The seed-000 autoencoders: MSE on images in [0, 1]; subclasses add the scorer."""

    arch: ClassVar[str] = "inception"  # "inception" | "baseline" | "baseline_nobias"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "paper_cifar": _PAPER_CIFAR, "quick": _QUICK}
    _param_constraints: ClassVar[dict[str, Any]] = _TRAIN_CONSTRAINTS
    _training_params: ClassVar[tuple[str, ...]] = (
        *NetworkDetector._training_params, "finetune_epochs", "finetune_lr", "train_gap")

    @staticmethod
    def _loss(forward, x, target):
        return (forward(x) - x).pow(2).mean()

    def _network_key(self) -> tuple:
        return ("cae", self.arch, getattr(self, "train_gap", None))

    def _build_net(self, in_channels: int):
        from ..nn import BaselineCAE, InceptionCAE, SVDDCAE
        from ..train import seeded

        if self.arch == "inception":
            return seeded(self.seed, lambda: InceptionCAE(in_channels, train_gap=self.train_gap))
        if self.arch == "baseline":
            return seeded(self.seed, lambda: BaselineCAE(in_channels))
        return seeded(self.seed, lambda: SVDDCAE(in_channels))  # Deep SVDD: Ruff et al.'s bias-free network

    def _check_tensor(self, x) -> None:
        h, w = x.shape[-2:]
        if self.arch != "inception" and (h, w) != (32, 32):
            raise ValueError(
                f"{type(self).__name__} uses the baseline CAE, which takes 32 x 32 images; got {h} x {w} "
                f"after padding (pad_to={self.pad_to}); resize the images (image_size=32) or pad them"
            )
        if getattr(self, "train_gap", None) == "reshape" and (h, w) != (32, 32):
            raise ValueError(f"{type(self).__name__} with train_gap='reshape' takes 32 x 32 images (a 4 x 4 x 8 "
                             f"code); got {h} x {w} after padding (pad_to={self.pad_to})")
        if h % 8 or w % 8:
            raise ValueError(f"{type(self).__name__}: image height and width must be multiples of 8 after padding, got {h} x {w}")

    def _train(self, dets, nets, data, loss=None, targets=None, views=None, what: str = "autoencoder"):
        return super()._train(dets, nets, data, loss=loss, targets=targets, views=views, what=what)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        return self._apply(self.net_.embed, X)


class _KNNMixin(KNNScoring):
    """NN-QED on the network's embedding (shared by the InceptionCAE and baseline CAE detectors)."""

    @classmethod
    def _after_training(cls, dets, datas) -> None:
        from ..train import predict_batches

        for d, data in zip(dets, datas):
            emb = predict_batches(d.net_.embed, data)
            d.scorer_ = d._new_scorer().fit(emb)
            d._train_embedding = emb

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        emb = self.__dict__.pop("_train_embedding", None)
        return self.scorer_.score_training(self._embed(X) if emb is None else emb)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score(self._embed(X))


class InceptionCAENNQED(_KNNMixin, _NetworkDetector):
    __doc__ = """InceptionCAE NN-QED, the method of seed 000 (Sarafijanovic-Djukic & Davis).

    An Inception-like CAE (Table 1) is trained on the normal images; the global average pool
    of its ``4 x 4 x 128`` bottleneck is the 128-d embedding; the score is the squared
    Euclidean distance to the nearest training embedding, product-quantized (faiss, m = 32,
    4 bits; the presets use the paper's ``IndexPQ``, the class default searches the same codes
    with fast-scan). ``threshold_`` comes from leave-one-out training
    scores. The ``paper`` preset trains with the GAP layer inside the network
    (``train_gap="reshape"``), as the paper's text says for MNIST and Fashion-MNIST.

    Parameters
    ----------
    index : {"flat", "pq", "pq_fastscan"}, default "pq_fastscan"
        ``flat`` = exact distance (EED), ``pq`` = QED (the presets' and the paper's choice),
        ``pq_fastscan`` = the same PQ codes searched with faiss fast-scan (the default: same
        ranking within 0.01 AUROC points on MNIST, far faster; ``benchmarks/KNN_SPEED.md``).
    m, nbits, k : int, default 32, 4, 1
        PQ sub-quantizers, bits per code (the paper's c) and which neighbour.""" + _TRAIN_DOC + _GAP_DOC

    name: ClassVar[str] = "inception_cae_nnqed"
    arch: ClassVar[str] = "inception"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        name: {**preset, "index": "pq", "m": 32, "nbits": 4, "k": 1} for name, preset in _INCEPTION_PRESETS.items()}
    _param_constraints: ClassVar[dict[str, Any]] = {**_TRAIN_CONSTRAINTS, **KNNScoring.KNN_CONSTRAINTS}

    def __init__(
        self, *, index: str = "pq_fastscan", m: int = 32, nbits: int = 4, k: int = 1, epochs: int = 100,
        finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5, batch_size: int = 200,
        weight_decay: float = 1e-6, pad_to: int | None = 32, train_gap: str | None = None, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        _store(self, locals())


class CAENNQED(InceptionCAENNQED):
    __doc__ = """CAE NN-QED (seed 000, Table 4): NN-QED on the 128-d dense bottleneck of the
    baseline CAE (Deep SVDD's CAE architecture), otherwise as :class:`InceptionCAENNQED`.""" + _TRAIN_DOC

    name: ClassVar[str] = "cae_nnqed"
    arch: ClassVar[str] = "baseline"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        name: {k: v for k, v in preset.items() if k != "train_gap"} for name, preset in InceptionCAENNQED.PRESETS.items()}

    def __init__(
        self, *, index: str = "pq_fastscan", m: int = 32, nbits: int = 4, k: int = 1, epochs: int = 100,
        finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5, batch_size: int = 200,
        weight_decay: float = 1e-6, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        _store(self, locals())


class _REMixin:
    """Reconstruction error: mean squared error between the (padded) image and its reconstruction."""

    @staticmethod
    def _re(net):
        return lambda x: (net(x) - x).pow(2).mean(dim=(1, 2, 3))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._apply(self._re(self.net_), X)


class InceptionCAERE(_REMixin, _NetworkDetector):
    __doc__ = """InceptionCAE RE (seed 000, Table 6): the score is the InceptionCAE's mean
    squared reconstruction error. ``threshold_`` is a quantile of the (in-sample) training
    reconstruction errors.""" + _TRAIN_DOC + _GAP_DOC

    name: ClassVar[str] = "inception_cae_re"
    arch: ClassVar[str] = "inception"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = _INCEPTION_PRESETS

    def __init__(
        self, *, epochs: int = 100, finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5,
        batch_size: int = 200, weight_decay: float = 1e-6, pad_to: int | None = 32, train_gap: str | None = None,
        threshold_quantile: float = 0.99, image_size: int | None = None, device: str = "auto", precision: str = "fp32",
        seed: int = 0, verbose: bool = False,
    ):
        _store(self, locals())


class CAERE(InceptionCAERE):
    __doc__ = """CAE RE (seed 000, Table 6): reconstruction error of the baseline CAE.""" + _TRAIN_DOC

    name: ClassVar[str] = "cae_re"
    arch: ClassVar[str] = "baseline"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = _NetworkDetector.PRESETS

    def __init__(
        self, *, epochs: int = 100, finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5,
        batch_size: int = 200, weight_decay: float = 1e-6, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        _store(self, locals())


class CAEOCSVM(_NetworkDetector):
    __doc__ = """CAE OCSVM (seed 000, Tables 2-3): a one-class SVM on the baseline CAE's 128-d
    bottleneck, scikit-learn ``OneClassSVM(kernel="rbf", gamma=1/n_features, nu=0.5)`` as in
    the paper; score = minus the decision function. ``threshold_`` is a quantile of the
    in-sample training scores.

    Parameters
    ----------
    nu : float, default 0.5
    gamma : float or {"auto", "scale"}, default "auto" (= 1 / n_features)""" + _TRAIN_DOC

    name: ClassVar[str] = "cae_ocsvm"
    arch: ClassVar[str] = "baseline"
    _param_constraints: ClassVar[dict[str, Any]] = {**_TRAIN_CONSTRAINTS, "nu": Interval(float, 0.0, 1.0, lo_open=True)}

    def __init__(
        self, *, nu: float = 0.5, gamma: float | str = "auto", epochs: int = 100, finetune_epochs: int = 50,
        lr: float = 1e-4, finetune_lr: float = 1e-5, batch_size: int = 200, weight_decay: float = 1e-6,
        pad_to: int | None = 32, threshold_quantile: float = 0.99, image_size: int | None = None,
        device: str = "auto", precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        _store(self, locals())

    def _validate_params(self) -> None:
        super()._validate_params()
        if not (self.gamma in ("auto", "scale") or (isinstance(self.gamma, (int, float)) and self.gamma > 0)):
            raise ValueError(f"parameter 'gamma' must be 'auto', 'scale' or a positive number, got {self.gamma!r}")

    @classmethod
    def _after_training(cls, dets, datas) -> None:
        from ..train import predict_batches

        for d, data in zip(dets, datas):
            d.scorer_ = OCSVMScorer(nu=d.nu, gamma=d.gamma).fit(predict_batches(d.net_.embed, data))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score(self._embed(X))

    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {f"ocsvm.{k}": v for k, v in self.scorer_.get_state().items()}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.scorer_ = OCSVMScorer(nu=self.nu, gamma=self.gamma).set_state({k[6:]: v for k, v in tensors.items()})


class DeepSVDD(_NetworkDetector):
    __doc__ = """One-class Deep SVDD (Ruff et al. 2018), a baseline of seed 000, on the baseline
    CAE encoder made bias-free (no bias terms, BatchNorm without affine parameters), as Deep
    SVDD requires to avoid a collapsed solution.

    Two stages, each with the same schedule (``epochs`` + ``finetune_epochs``): (1) the CAE is
    pretrained as an autoencoder (MSE); (2) the centre ``c`` is the mean embedding of the
    training images (entries closer to 0 than ``eps`` are pushed to +-``eps``), and the
    encoder is trained to minimise the mean squared distance of the embeddings to ``c``. The
    score is that squared distance. ``threshold_`` is a quantile of the in-sample training
    scores.

    Parameters
    ----------
    eps : float, default 0.1
        Minimum magnitude of the centre's entries (Ruff et al.'s code).""" + _TRAIN_DOC

    name: ClassVar[str] = "deepsvdd"
    arch: ClassVar[str] = "baseline_nobias"
    _param_constraints: ClassVar[dict[str, Any]] = {**_TRAIN_CONSTRAINTS, "eps": Interval(float, 0.0, None)}

    def __init__(
        self, *, eps: float = 0.1, epochs: int = 100, finetune_epochs: int = 50, lr: float = 1e-4,
        finetune_lr: float = 1e-5, batch_size: int = 200, weight_decay: float = 1e-6, pad_to: int | None = 32,
        threshold_quantile: float = 0.99, image_size: int | None = None, device: str = "auto",
        precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        _store(self, locals())

    @classmethod
    def _after_training(cls, dets, datas) -> None:
        import torch

        from ..nn import EncoderOnly
        from ..train import predict_batches

        d0 = dets[0]
        centres = []
        for d, data in zip(dets, datas):
            c = predict_batches(d.net_.embed, data).mean(axis=0)
            small = np.abs(c) < d.eps
            c[small] = np.where(c[small] < 0, -d.eps, d.eps)
            centres.append(c)
        encoders = [EncoderOnly(d.net_) for d in dets]
        targets = torch.tensor(np.stack(centres), dtype=torch.float32, device=datas[0].device)
        log = d0._train(dets, encoders, datas, loss=_svdd_loss, targets=targets, what="svdd")
        for d, c in zip(dets, centres):
            d.net_.eval()
            d.center_ = c
            d.svdd_log_ = log

    def _score(self, X: np.ndarray) -> np.ndarray:
        return ((self._embed(X) - self.center_) ** 2).sum(axis=1)

    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {"center": self.center_}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.center_ = tensors["center"].astype(np.float64)


def _svdd_loss(forward, x, center):
    return (forward(x) - center).pow(2).sum(dim=1).mean()
