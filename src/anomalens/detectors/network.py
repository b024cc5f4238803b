"""The shared part of every detector that trains a network: build, train (with the one loop
of :mod:`anomalens.train`), batch several seeds or classes together, save and load, and
score the same trained network another way (:meth:`NetworkDetector.derive`).

A subclass says which network (``_build_net``), which loss (``_loss``, and ``_views`` for
self-labelled sets such as GEOM's 72 transformations) and how the trained network turns
images into scores (``_after_training`` fits the scorer, ``_score`` scores).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import BaseDetector, Interval, NoneOr, OneOf

__all__ = ["TorchDevice", "NetworkDetector", "HoldoutNetworkDetector", "TRAIN_CONSTRAINTS", "HOLDOUT_CONSTRAINTS", "store_params"]


def store_params(obj: Any, values: dict[str, Any]) -> None:
    """``__init__`` helper: store every keyword verbatim (``store_params(self, locals())``)."""
    for key, value in values.items():
        if key not in ("self", "__class__"):
            setattr(obj, key, value)


TRAIN_CONSTRAINTS: dict[str, Any] = {
    **BaseDetector._param_constraints,
    "epochs": Interval(float, 0.0, None),
    "lr": Interval(float, 0.0, None, lo_open=True),
    "batch_size": Interval(int, 1, None),
    "weight_decay": Interval(float, 0.0, None),
    "pad_to": NoneOr(Interval(int, 1, None)),
    "image_size": NoneOr(Interval(int, 1, None)),
    "precision": OneOf(("fp32", "bf16")),
    "verbose": OneOf((True, False)),
}


class TorchDevice:
    """The ``device`` parameter of a detector that runs torch: checked with the other parameters
    (``"auto"`` = CUDA when present), resolved by ``_torch_device``, named by ``device_name``."""

    def _validate_params(self) -> None:
        super()._validate_params()
        try:
            self._torch_device()
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"parameter 'device' is invalid: {e}") from e

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


class NetworkDetector(TorchDevice, BaseDetector):
    """Base of the detectors that train a network; subclasses add the network and the scorer."""

    #: parameters the trained network depends on: ``derive`` may not change them
    _training_params: ClassVar[tuple[str, ...]] = ("epochs", "lr", "batch_size", "weight_decay", "pad_to", "precision", "seed")
    #: training items per image (see ``train_models(views=)``)
    _views: ClassVar[int] = 1
    _param_constraints: ClassVar[dict[str, Any]] = TRAIN_CONSTRAINTS

    # -- what subclasses provide -----------------------------------------------------------
    def _build_net(self, in_channels: int):
        raise NotImplementedError

    def _network_key(self) -> tuple:
        """Detectors with equal keys train the same network (``derive`` may share it)."""
        return (type(self).__name__,)

    @staticmethod
    def _loss(forward, x, target):
        raise NotImplementedError

    def _net_channels(self, channels: int) -> int:
        """Channels the network takes for input images of ``channels`` channels."""
        return channels

    def _check_tensor(self, x) -> None:
        """Raise ValueError if the network cannot take images of this shape."""

    def _input_size(self) -> int:
        """Side of the (square) images the network sees: the fitted height, padded to ``pad_to``."""
        return max(int(self.input_shape_[0]), self.pad_to or 0)

    def _require_power_of_two_square(self, x) -> None:
        """``_check_tensor`` for DCGAN-style networks (halving down to 4 x 4)."""
        h, w = x.shape[-2:]
        if h != w or h < 8 or h & (h - 1):
            raise ValueError(f"{self.name}'s DCGAN takes square images with a power-of-two side >= 8 (after "
                             f"padding to pad_to={self.pad_to}); got {h} x {w}")

    @classmethod
    def _after_training(cls, dets: list, datas: list) -> None:
        """Fit each detector's scorer on its trained network (``datas``: each one's training tensor)."""

    # -- shared machinery --------------------------------------------------------------------
    def _tensor(self, X: np.ndarray, device=None):
        """Images -> padded uint8 ``N x C x H x W`` tensor on the detector's device."""
        from ..train import to_uint8_tensor

        x = to_uint8_tensor(X, device or self._torch_device(), self.pad_to)
        self._check_tensor(x)
        return x

    def _phases(self):
        from ..train import Phase

        schedule = ((self.epochs, self.lr), (getattr(self, "finetune_epochs", 0), getattr(self, "finetune_lr", self.lr)))
        return [Phase(e, lr) for e, lr in schedule if e > 0]

    def _train(self, dets: list, nets: list, data, loss=None, targets=None, views: int | None = None,
               what: str = "network", **options):
        """Train ``nets`` with the shared loop; ``options`` go to :func:`~anomalens.train.train_models`
        (optimizer, early stopping, labels)."""
        from ..train import train_models

        phases = self._phases()
        if not phases:
            return None
        return train_models(
            nets, data, loss or type(self)._loss, phases=phases, batch_size=self.batch_size,
            weight_decay=self.weight_decay, seeds=[d.seed for d in dets], targets=targets,
            views=self._views if views is None else views, precision=self.precision, progress=self.verbose,
            desc=f"{self.name} {what} x{len(nets)}", **options,
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

    def derived_unfitted(self, name: str, **overrides: Any) -> NetworkDetector:
        """The unfitted detector :meth:`derive` would fit: ``name`` with this detector's
        training parameters and ``overrides``. Its ``get_params()`` are the derived run's
        settings, known before anything is trained or loaded."""
        from ..registry import create

        mine = self.get_params()
        other = create(name)
        shared = {k: mine[k] for k in other.get_params() if k in mine}
        other.set_params(**{**shared, **overrides})
        changed = [k for k in self._training_params if k in overrides and overrides[k] != mine.get(k)]
        if changed:
            raise ValueError(f"derive() cannot change training parameters ({', '.join(changed)}); fit a new detector")
        if not isinstance(other, NetworkDetector) or other._network_key() != self._network_key():
            raise ValueError(f"{name!r} uses another network than {self.name!r}; it cannot share its training")
        return other

    def derive(self, name: str, X: Any, **overrides: Any) -> NetworkDetector:
        """Another detector on this detector's *trained network*, fitted on the same images ``X``.

        ``name`` must be a detector of the same network (``inception_cae_re`` from
        ``inception_cae_nnqed``, ``cae_ocsvm`` from ``cae_nnqed``, ``geom`` with another
        ``score_mode``, or the same name with another ``index``); the training parameters are
        copied, ``overrides`` set the scorer's own (e.g. ``index="flat"``). Only the scorer is
        fitted, so comparisons of scores on one network (EED vs QED, RE vs NN-QED, the m / c
        sweep, GEOM's two scores) cost one training.
        """
        self._check_is_fitted()
        other = self.derived_unfitted(name, **overrides)
        arr = other._begin_fit(X)
        if tuple(other.input_shape_) != tuple(self.input_shape_):
            raise ValueError(f"X has shape {other.input_shape_}, the network was trained on {tuple(self.input_shape_)}")
        other.net_, other.train_log_ = self.net_, getattr(self, "train_log_", None)
        held = getattr(self, "held_idx_", None)  # the same held-out images, for the scorer and threshold
        fit_arr = arr if held is None or not len(held) else np.delete(arr, held, axis=0)
        type(other)._after_training([other], [other._tensor(fit_arr)])
        if held is not None:
            other.held_idx_ = held
        other._end_fit(arr)
        return other

    def _apply(self, fn, X: np.ndarray) -> np.ndarray:
        from ..train import predict_batches

        return predict_batches(fn, self._tensor(X), batch_size=1000)

    # -- persistence -----------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {f"net.{k}": v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        return {**state, **self._scorer_state()}

    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        import torch

        net = self._build_net(self._net_channels(int(self.input_shape_[2])))
        net_state = {k[4:]: torch.from_numpy(np.array(v)) for k, v in tensors.items() if k.startswith("net.")}
        net.load_state_dict(net_state)
        self.net_ = net.to(self._torch_device()).eval()
        self._set_scorer_state({k: v for k, v in tensors.items() if not k.startswith("net.")}, scalars)

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        pass


HOLDOUT_CONSTRAINTS: dict[str, Any] = {
    **TRAIN_CONSTRAINTS,
    "epochs": Interval(int, 0, None),
    "patience": Interval(int, 1, None),
    "val_fraction": Interval(float, 0.0, 0.5),
    "grayscale": OneOf((True, False)),
    "optimizer": OneOf(("adam", "adadelta", "rmsprop")),
}


class HoldoutNetworkDetector(NetworkDetector):
    """A network detector that resizes its input to ``image_size`` (grayscale if asked), holds
    ``val_fraction`` of the normal training images out (seeded) for early stopping, and sets
    ``threshold_`` from the held-out images' scores (seed 001's autoencoders, DPA)."""

    _param_constraints: ClassVar[dict[str, Any]] = HOLDOUT_CONSTRAINTS
    _training_params: ClassVar[tuple[str, ...]] = (
        "epochs", "lr", "batch_size", "weight_decay", "precision", "seed", "image_size", "grayscale", "patience",
        "val_fraction", "optimizer",
    )
    #: extra optimizer settings (Keras defaults where the authors used them)
    _optimizer_options: ClassVar[dict[str, dict]] = {"adadelta": {"rho": 0.95, "eps": 1e-7}, "rmsprop": {"alpha": 0.9, "eps": 1e-7}}
    _multiple: ClassVar[int] = 1  # image_size must be a multiple of this

    def _validate_params(self) -> None:
        super()._validate_params()
        if not isinstance(self.image_size, int) or self.image_size < self._multiple or self.image_size % self._multiple:
            raise ValueError(f"parameter 'image_size' must be a positive multiple of {self._multiple} for {self.name}, "
                             f"got {self.image_size!r}")

    _net_kind: ClassVar[str] = ""

    def _network_key(self) -> tuple:
        return (self._net_kind, *(getattr(self, k) for k in self._training_params))

    # -- input ---------------------------------------------------------------------------
    def _net_channels(self, channels: int) -> int:
        return 1 if self.grayscale else channels

    def _tensor(self, X: np.ndarray, device=None):
        """Images -> uint8 ``N x C x S x S`` tensor (grayscale if asked, resized to ``image_size``)."""
        import torch
        from torch.nn import functional as F

        from ..train import to_uint8_tensor

        x = to_uint8_tensor(X, device or self._torch_device())
        if self.grayscale and x.shape[1] == 3:
            w = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
            x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        s = self.image_size
        if tuple(x.shape[-2:]) != (s, s):
            out = []
            for i in range(0, len(x), 256):  # in chunks: a float copy of 300 x 3 x 1024^2 would be 3.8 GB
                xf = F.interpolate(x[i : i + 256].float(), size=(s, s), mode="bilinear", align_corners=False, antialias=True)
                out.append(xf.round().clamp(0, 255).to(torch.uint8))
            x = torch.cat(out)
        return x

    def _resize_maps(self, maps: np.ndarray) -> np.ndarray:
        """``N x s x s`` maps at the network's resolution -> the fitted input's ``H x W``."""
        import torch
        from torch.nn import functional as F

        h, w = int(self.input_shape_[0]), int(self.input_shape_[1])
        if maps.shape[1:] == (h, w):
            return maps
        t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
        return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[:, 0].numpy().astype(np.float64)

    # -- training ----------------------------------------------------------------------------
    def _prepare_training(self, data):
        """Hook: change the training tensor before training (NI-CAE's noise injection)."""
        return data

    @classmethod
    def _fit_group(cls, dets, Xs) -> None:
        d0 = dets[0]
        device = d0._torch_device()
        splits = [d._holdout_split(len(X), d.val_fraction) for d, X in zip(dets, Xs)]
        datas = [d._prepare_training(d0._tensor(X[tr], device)) for d, X, (tr, _) in zip(dets, Xs, splits)]
        options: dict[str, Any] = {"optimizer": d0.optimizer,
                                   "optimizer_options": cls._optimizer_options.get(d0.optimizer)}
        if all(len(held) for _, held in splits):
            options.update(val_data=[d0._tensor(X[held], device) for X, (_, held) in zip(Xs, splits)], patience=d0.patience)
        nets = [d._build_net(datas[0].shape[1]).to(device) for d in dets]
        log = d0._train(dets, nets, datas, what="autoencoder", **options)
        for d, net, (_, held) in zip(dets, nets, splits):
            d.net_ = net.eval()
            d.train_log_ = log
            d.held_idx_ = held
        cls._after_training(dets, datas)

    def _threshold_from(self, train_scores: np.ndarray) -> float:
        held = getattr(self, "held_idx_", None)
        if held is None or not len(held):
            return super()._threshold_from(train_scores)
        return float(np.quantile(train_scores[held], self.threshold_quantile))

    def _reconstruct(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(network input, reconstruction) as float ``N x C x s x s`` arrays in [0, 1]."""
        from ..train import predict_batches

        x = self._tensor(X)
        return predict_batches(lambda t: t, x, batch_size=64), predict_batches(self.net_, x, batch_size=64)

    # -- persistence ---------------------------------------------------------------------------
    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {"held_idx": np.asarray(self.held_idx_, dtype=np.int64)}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.held_idx_ = tensors.get("held_idx", np.zeros(0, np.int64))
