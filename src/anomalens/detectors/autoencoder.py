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
from .base import BaseDetector, Interval, NoneOr, OneOf
from .knn import KNNScoring

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
    **BaseDetector._param_constraints,
    "epochs": Interval(int, 0, None),
    "finetune_epochs": Interval(int, 0, None),
    "lr": Interval(float, 0.0, None, lo_open=True),
    "finetune_lr": Interval(float, 0.0, None, lo_open=True),
    "batch_size": Interval(int, 1, None),
    "weight_decay": Interval(float, 0.0, None),
    "pad_to": NoneOr(Interval(int, 1, None)),
    "image_size": NoneOr(Interval(int, 1, None)),
    "precision": OneOf(("fp32", "bf16")),
    "verbose": OneOf((True, False)),
}

#: what the trained network depends on: ``derive`` may not change these
_TRAINING_PARAMS = ("epochs", "finetune_epochs", "lr", "finetune_lr", "batch_size", "weight_decay", "pad_to", "precision", "seed")

_PAPER = {"epochs": 100, "finetune_epochs": 50, "lr": 1e-4, "finetune_lr": 1e-5, "batch_size": 200, "weight_decay": 1e-6}
_PAPER_CIFAR = {**_PAPER, "epochs": 250, "finetune_epochs": 100}
# CPU-sized: a few epochs at a 10x larger rate; about a minute per MNIST class on 2 cores.
_QUICK = {"epochs": 1, "finetune_epochs": 1, "lr": 1e-3, "finetune_lr": 1e-4, "batch_size": 200, "weight_decay": 1e-6}


def _store(obj: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in ("self", "__class__"):
            setattr(obj, key, value)


def _mse(forward, x, target):
    return (forward(x) - x).pow(2).mean()


class _NetworkDetector(BaseDetector):
    """Shared part: build, train, save and run the network; subclasses add the scorer."""

    arch: ClassVar[str] = "inception"  # "inception" | "baseline" | "baseline_nobias"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "paper_cifar": _PAPER_CIFAR, "quick": _QUICK}
    _param_constraints: ClassVar[dict[str, Any]] = _TRAIN_CONSTRAINTS

    def _validate_params(self) -> None:
        super()._validate_params()
        try:
            self._torch_device()
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"parameter 'device' is invalid: {e}") from e

    # -- network -----------------------------------------------------------------------
    def _build_net(self, in_channels: int):
        from ..nn import BaselineCAE, InceptionCAE
        from ..train import seeded

        if self.arch == "inception":
            return seeded(self.seed, lambda: InceptionCAE(in_channels))
        if self.arch == "baseline":
            return seeded(self.seed, lambda: BaselineCAE(in_channels))
        # Deep SVDD: Ruff et al.'s bias-free network with PyTorch-style BatchNorm (eps 1e-4, momentum 0.1)
        return seeded(self.seed, lambda: BaselineCAE(in_channels, bias=False, bn_affine=False, bn={"eps": 1e-4, "momentum": 0.1}))

    def _torch_device(self):
        from ..train import resolve_device

        return resolve_device(self.device)

    @property
    def device_name(self) -> str:
        dev = self._torch_device()
        if dev.type == "cuda":
            import torch

            return f"cuda ({torch.cuda.get_device_name(dev)})"
        return "cpu"

    def _tensor(self, X: np.ndarray, device=None):
        """Images -> padded uint8 ``N x C x H x W`` tensor on the detector's device."""
        from ..train import to_uint8_tensor

        x = to_uint8_tensor(X, device or self._torch_device(), self.pad_to)
        h, w = x.shape[-2:]
        if self.arch != "inception" and (h, w) != (32, 32):
            raise ValueError(
                f"{type(self).__name__} uses the baseline CAE, which takes 32 x 32 images; got {h} x {w} "
                f"after padding (pad_to={self.pad_to}); resize the images (image_size=32) or pad them"
            )
        if h % 8 or w % 8:
            raise ValueError(f"{type(self).__name__}: image height and width must be multiples of 8 after padding, got {h} x {w}")
        return x

    def _phases(self):
        from ..train import Phase

        return [Phase(e, lr) for e, lr in ((self.epochs, self.lr), (self.finetune_epochs, self.finetune_lr)) if e > 0]

    def _train(self, dets: list[_NetworkDetector], nets: list, data, loss=_mse, targets=None, what: str = "autoencoder"):
        from ..train import train_models

        phases = self._phases()
        if not phases:
            return None
        return train_models(
            nets, data, loss, phases=phases, batch_size=self.batch_size, weight_decay=self.weight_decay,
            seeds=[d.seed for d in dets], targets=targets, precision=self.precision, progress=self.verbose,
            desc=f"{self.name} {what} x{len(nets)}",
        )

    @classmethod
    def _fit_group(cls, dets: list[BaseDetector], Xs: list[np.ndarray]) -> None:
        d0 = dets[0]
        device = d0._torch_device()
        tensors: dict[int, Any] = {}
        for X in Xs:  # one device copy per distinct training set
            if id(X) not in tensors:
                tensors[id(X)] = d0._tensor(X, device)
        datas = [tensors[id(X)] for X in Xs]
        nets = [d._build_net(datas[0].shape[1]).to(device) for d in dets]
        log = d0._train(dets, nets, datas)
        for d, net in zip(dets, nets):
            net.eval()
            d.net_ = net
            d.train_log_ = log
        cls._after_training(dets, datas)

    def _fit(self, X: np.ndarray) -> None:
        type(self)._fit_group([self], [X])

    @classmethod
    def _after_training(cls, dets: list, datas: list) -> None:
        """Fit each detector's scorer on its trained network (``datas``: each one's training tensor)."""

    def derive(self, name: str, X: Any, **overrides: Any) -> _NetworkDetector:
        """Another detector on this detector's *trained network*, fitted on the same images ``X``.

        ``name`` must be a detector of the same network (``inception_cae_re`` from
        ``inception_cae_nnqed``, ``cae_ocsvm`` from ``cae_nnqed``, or the same name with another
        ``index``); the training parameters are copied, ``overrides`` set the scorer's own
        (e.g. ``index="flat"``). Only the scorer is fitted, so the paper's comparisons of
        scores on one network (EED vs QED, RE vs NN-QED, m / c sweep) cost one training.
        """
        from ..registry import create

        self._check_is_fitted()
        mine = self.get_params()
        other = create(name)
        shared = {k: mine[k] for k in other.get_params() if k in mine}
        other.set_params(**{**shared, **overrides})
        if getattr(other, "arch", None) != self.arch:
            raise ValueError(f"{name!r} uses another network than {self.name!r}; it cannot share its training")
        changed = [k for k in _TRAINING_PARAMS if k in overrides and overrides[k] != mine[k]]
        if changed:
            raise ValueError(f"derive() cannot change training parameters ({', '.join(changed)}); fit a new detector")
        arr = other._begin_fit(X)
        if tuple(other.input_shape_) != tuple(self.input_shape_):
            raise ValueError(f"X has shape {other.input_shape_}, the network was trained on {tuple(self.input_shape_)}")
        other.net_, other.train_log_ = self.net_, getattr(self, "train_log_", None)
        type(other)._after_training([other], [other._tensor(arr)])
        other._end_fit(arr)
        return other

    def _apply(self, fn, X: np.ndarray) -> np.ndarray:
        from ..train import predict_batches

        return predict_batches(fn, self._tensor(X), batch_size=1000)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        return self._apply(self.net_.embed, X)

    # -- persistence -----------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"net.{k}": v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        return {**state, **self._scorer_state()}

    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        import torch

        net = self._build_net(int(self.input_shape_[2]))
        net_state = {k[4:]: torch.from_numpy(np.array(v)) for k, v in tensors.items() if k.startswith("net.")}
        net.load_state_dict(net_state)
        self.net_ = net.to(self._torch_device()).eval()
        self._set_scorer_state({k: v for k, v in tensors.items() if not k.startswith("net.")}, scalars)

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        pass


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
    scores. As in the authors' code the network is trained without the GAP layer and GAP is
    applied when extracting the embedding.

    Parameters
    ----------
    index : {"flat", "pq", "pq_fastscan"}, default "pq_fastscan"
        ``flat`` = exact distance (EED), ``pq`` = QED (the presets' and the paper's choice),
        ``pq_fastscan`` = the same PQ codes searched with faiss fast-scan (the default: same
        ranking within 0.01 AUROC points on MNIST, far faster; ``benchmarks/KNN_SPEED.md``).
    m, nbits, k : int, default 32, 4, 1
        PQ sub-quantizers, bits per code (the paper's c) and which neighbour.""" + _TRAIN_DOC

    name: ClassVar[str] = "inception_cae_nnqed"
    arch: ClassVar[str] = "inception"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        name: {**preset, "index": "pq", "m": 32, "nbits": 4, "k": 1}
        for name, preset in (("paper", _PAPER), ("paper_cifar", _PAPER_CIFAR), ("quick", _QUICK))
    }
    _param_constraints: ClassVar[dict[str, Any]] = {**_TRAIN_CONSTRAINTS, **KNNScoring.KNN_CONSTRAINTS}

    def __init__(
        self, *, index: str = "pq_fastscan", m: int = 32, nbits: int = 4, k: int = 1, epochs: int = 100,
        finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5, batch_size: int = 200,
        weight_decay: float = 1e-6, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        _store(self, locals())


class CAENNQED(InceptionCAENNQED):
    __doc__ = """CAE NN-QED (seed 000, Table 4): NN-QED on the 128-d dense bottleneck of the
    baseline CAE (Deep SVDD's CAE architecture), otherwise as :class:`InceptionCAENNQED`.""" + _TRAIN_DOC

    name: ClassVar[str] = "cae_nnqed"
    arch: ClassVar[str] = "baseline"


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
    reconstruction errors.""" + _TRAIN_DOC

    name: ClassVar[str] = "inception_cae_re"
    arch: ClassVar[str] = "inception"

    def __init__(
        self, *, epochs: int = 100, finetune_epochs: int = 50, lr: float = 1e-4, finetune_lr: float = 1e-5,
        batch_size: int = 200, weight_decay: float = 1e-6, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        _store(self, locals())


class CAERE(InceptionCAERE):
    __doc__ = """CAE RE (seed 000, Table 6): reconstruction error of the baseline CAE.""" + _TRAIN_DOC

    name: ClassVar[str] = "cae_re"
    arch: ClassVar[str] = "baseline"


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
