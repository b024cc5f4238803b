"""Seed 004 (Tuluptceva et al.): the Deep Perceptual Autoencoder and its ablations.

One implementation, :class:`DPA`; the registered names are settings of it (``VARIANTS``):

=============  ===================================================  =======================
name           loss / selection                                      paper (Table 4 row)
=============  ===================================================  =======================
``dpa``        relative-perceptual-L1, weakly-supervised selection   row 3 (Table 1 setting)
``dpa_pg``     the same + progressive growing                        row 10
``dpa_unsup``  relative-perceptual-L1, unsupervised selection        row 2
``dpa_l1``     L1, unsupervised selection                            row 1
``dpa_l1mix``  perceptual + 0.1 L1, weakly-supervised                row 7
=============  ===================================================  =======================
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .base import Interval, NoneOr, OneOf
from .network import HOLDOUT_CONSTRAINTS, HoldoutNetworkDetector, store_params

__all__ = ["DPA", "authors_lr", "pg_layers"]

#: Adam learning rate by latent size in the authors' CIFAR-10 / SVHN configurations
_AUTHORS_LR = {8: 1e-2, 16: 5e-3, 32: 2e-3, 64: 1e-3, 256: 2e-4}
_RELU_PER_BLOCK = {1: 2, 2: 2, 3: 4, 4: 4, 5: 4}

_PAPER: dict[str, Any] = {
    "latent_grid": (8, 16, 32, 64, 256), "layer_grid": (("relu3_2",), ("relu4_2",), ("relu3_2", "relu4_2")),
    "cv_folds": 3, "max_iters": 20000, "val_every": 1000, "patience": 3, "min_delta": 0.001, "batch_size": 128,
    "pg_start": 8, "pg_iters": 20000, "val_fraction": 0.2, "image_size": 32,
}
#: sized for 2 CPU cores (about 20 minutes per class and seed for dpa): a 2-point grid, 200 iterations of 32
_QUICK: dict[str, Any] = {
    **_PAPER, "latent_grid": (16, 64), "layer_grid": (("relu3_2",),), "max_iters": 200, "val_every": 50,
    "batch_size": 32, "pg_iters": 50,
}


def authors_lr(latent_dim: int) -> float:
    """The authors' learning rate for a latent size (log-log interpolation between their values)."""
    keys = sorted(_AUTHORS_LR)
    if latent_dim in _AUTHORS_LR:
        return _AUTHORS_LR[latent_dim]
    lo = max([k for k in keys if k < latent_dim], default=keys[0])
    hi = min([k for k in keys if k > latent_dim], default=keys[-1])
    if lo == hi:
        return _AUTHORS_LR[lo]
    t = (math.log(latent_dim) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return float(math.exp((1 - t) * math.log(_AUTHORS_LR[lo]) + t * math.log(_AUTHORS_LR[hi])))


def pg_layers(layers: tuple[str, ...], shift: int) -> tuple[str, ...]:
    """The perceptual layers at ``shift`` halvings below the full resolution: each layer moves
    ``shift`` VGG blocks shallower (``relu4_2`` -> ``relu3_2`` -> ``relu2_2`` -> ``relu1_2``),
    so the depth of the loss grows with the autoencoder's resolution."""
    out = []
    for name in layers:
        block, idx = int(name[4]), int(name[6])
        b = max(1, block - shift)
        out.append(f"relu{b}_{min(idx, _RELU_PER_BLOCK[b])}")
    return tuple(dict.fromkeys(out))


_PERCEPTUAL: dict[str, Any] = {}


def _perceptual(device):
    """One frozen VGG19 + statistics per device, shared by every DPA in the process."""
    key = str(device)
    if key not in _PERCEPTUAL:
        from ..data.backbones import vgg19_feature_stats
        from ..nn.dpa import PerceptualDistance
        from .pretrained import pretrained_vgg19

        _PERCEPTUAL[key] = PerceptualDistance(pretrained_vgg19(device), vgg19_feature_stats()).to(device).eval()
    return _PERCEPTUAL[key]


class DPA(HoldoutNetworkDetector):
    """Deep Perceptual Autoencoder (seed 004): a residual autoencoder trained with, and
    scored by, the relative-perceptual-L1 distance on VGG19 features.

    Score: ``||f^(x) - f^(g(x))||_1 / ||f^(x)||_1`` (``f^`` = VGG19 ReLU features normalised per
    channel, averaged over ``layers``); ``anomaly_map`` is the per-location feature
    difference upsampled to the image. Images are resized to ``image_size`` (32 px for the
    natural-image benchmarks; MNIST's 28 px digits are resized up) and scaled to [-1, 1].

    Training (the authors' code): Adam (lr by latent size, see :func:`authors_lr`), batch
    128, at most ``max_iters`` iterations; every ``val_every`` iterations the loss on the
    held-out ``val_fraction`` of the normal training images is computed, and training stops
    at the ``patience + 1``-th validation in a row without an improvement of ``min_delta``
    (their test is ``(n_iter - best_iter) / val_iter > patience``); the best weights are kept.

    Hyper-parameters: with ``selection="weak"`` the latent size and the VGG layer(s) are
    chosen by ``cv_folds``-fold cross-validation maximising ROC AUC against a few labelled
    anomalies of one type -- ``fit(X, y)`` with ``y = 1`` marking them (they are used for
    nothing else); ``"unsupervised"``: the lowest mean held-out loss; ``"none"``:
    ``latent_dim`` and ``layers`` as given. The choice is in ``selection_``.

    Parameters
    ----------
    loss : {"perceptual", "l1"}
        Relative-perceptual-L1, or L1 on the [-1, 1] pixels (ablation row 1).
    l1_weight : float
        Adds ``l1_weight`` x L1 to the perceptual loss (ablation rows 6-7).
    latent_dim, layers
        Bottleneck size and VGG19 ReLU layer(s) when ``selection="none"``.
    lr : float or None
        Adam's learning rate; None = the authors' value for the latent size.
    selection : {"weak", "unsupervised", "none"}
    latent_grid, layer_grid
        The grid searched (``layer_grid`` is ignored for ``loss="l1"``).
    cv_folds : int
    progressive : bool
        Progressive growing from ``pg_start`` px to ``image_size``: each lower resolution and
        each fade-in (transition) trains ``pg_iters`` iterations, the perceptual layers
        moving one VGG block deeper per doubling (:func:`pg_layers`) with the synchronised
        fade ``alpha * L(f2) + (1 - alpha) * L(f1(down(.)))``; the full resolution then trains
        with early stopping as above.
    max_iters, val_every, patience, min_delta, val_fraction, batch_size
        Training length and early stopping, in iterations (as the authors count).
    image_size : int
        A power of two >= 8.
    grayscale, threshold_quantile, device, precision, seed, verbose
        As for the other network detectors; ``threshold_`` is the ``threshold_quantile``
        quantile of the held-out normal images' scores.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "quick": _QUICK}
    #: the registered names: settings of this one class (see anomalens.registry.create)
    VARIANTS: ClassVar[dict[str, dict[str, Any]]] = {
        "dpa": {"loss": "perceptual", "l1_weight": 0.0, "selection": "weak", "progressive": False},
        "dpa_pg": {"loss": "perceptual", "l1_weight": 0.0, "selection": "weak", "progressive": True},
        "dpa_unsup": {"loss": "perceptual", "l1_weight": 0.0, "selection": "unsupervised", "progressive": False},
        "dpa_l1": {"loss": "l1", "l1_weight": 0.0, "selection": "unsupervised", "progressive": False},
        "dpa_l1mix": {"loss": "perceptual", "l1_weight": 0.1, "selection": "weak", "progressive": False},
    }
    #: everything the trained network depends on (HoldoutNetworkDetector's list names epochs / optimizer, which DPA has not)
    _training_params: ClassVar[tuple[str, ...]] = (
        "loss", "l1_weight", "latent_dim", "layers", "lr", "selection", "latent_grid", "layer_grid", "cv_folds",
        "progressive", "pg_start", "pg_iters", "max_iters", "val_every", "patience", "min_delta", "val_fraction",
        "batch_size", "image_size", "grayscale", "precision", "seed")
    _param_constraints: ClassVar[dict[str, Any]] = {
        **HOLDOUT_CONSTRAINTS,
        "lr": NoneOr(Interval(float, 0.0, None, lo_open=True)),
        "loss": OneOf(("perceptual", "l1")),
        "l1_weight": Interval(float, 0.0, None),
        "latent_dim": Interval(int, 1, None),
        "selection": OneOf(("weak", "unsupervised", "none")),
        "cv_folds": Interval(int, 2, None),
        "progressive": OneOf((True, False)),
        "pg_start": Interval(int, 4, None),
        "pg_iters": Interval(int, 1, None),
        "max_iters": Interval(int, 1, None),
        "val_every": Interval(int, 1, None),
        "patience": Interval(int, 1, None),
        "min_delta": Interval(float, 0.0, None),
        "val_fraction": Interval(float, 0.0, 0.5, lo_open=True),
    }

    def __init__(
        self, *, loss: str = "perceptual", l1_weight: float = 0.0, latent_dim: int = 32,
        layers: tuple[str, ...] = ("relu3_2",), lr: float | None = None, selection: str = "weak",
        latent_grid: tuple[int, ...] = (8, 16, 32, 64, 256),
        layer_grid: tuple[tuple[str, ...], ...] = (("relu3_2",), ("relu4_2",), ("relu3_2", "relu4_2")),
        cv_folds: int = 3, progressive: bool = False, pg_start: int = 8, pg_iters: int = 20000,
        max_iters: int = 20000, val_every: int = 1000, patience: int = 3, min_delta: float = 0.001,
        val_fraction: float = 0.2, batch_size: int = 128, image_size: int = 32, grayscale: bool = False,
        threshold_quantile: float = 0.95, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        store_params(self, locals())

    @property  # type: ignore[override]
    def name(self) -> str:
        """The registered name whose settings these are most like (the first on a tie)."""
        return max(self.VARIANTS, key=lambda v: sum(getattr(self, k) == x for k, x in self.VARIANTS[v].items()))

    def _validate_params(self) -> None:
        super()._validate_params()
        from ..nn.vgg import VGG19_LAYERS

        s = self.image_size
        if not isinstance(s, int) or s < 8 or s & (s - 1):
            raise ValueError(f"parameter 'image_size' must be a power of two >= 8 for {self.name}, got {s!r}")
        if self.progressive and not (8 <= self.pg_start < s and self.pg_start & (self.pg_start - 1) == 0):
            raise ValueError(f"parameter 'pg_start' must be a power of two in [8, image_size), got {self.pg_start!r}")
        for name, groups in (("layers", [self.layers]), ("layer_grid", list(self.layer_grid))):
            for g in groups:
                if isinstance(g, str) or not len(g) or any(x not in VGG19_LAYERS for x in g):
                    raise ValueError(f"parameter {name!r} must hold tuples of VGG19 ReLU layers "
                                     f"({', '.join(VGG19_LAYERS)}), got {g!r}")
        if not len(self.latent_grid) or any(not isinstance(v, int) or v < 1 for v in self.latent_grid):
            raise ValueError(f"parameter 'latent_grid' must be positive integers, got {self.latent_grid!r}")

    # -- what the search chooses -------------------------------------------------------------
    def search_points(self) -> list[dict[str, Any]]:
        """The grid of hyper-parameters the selection searches."""
        from ..select import grid_points

        grid: dict[str, Any] = {"latent_dim": [int(v) for v in self.latent_grid]}
        if self.loss == "perceptual":
            grid["layers"] = [tuple(g) for g in self.layer_grid]
        return grid_points(grid)

    def _candidate(self, point: dict[str, Any]) -> DPA:
        return type(self)(**{**self.get_params(), "selection": "none", "verbose": False, **point})

    def fit(self, X: Any, y: Any = None, *, n_real: int | None = None) -> DPA:
        """Train on the normal images of ``X``; ``y`` (optional, 0/1 per image) marks the few
        labelled anomalies that weakly-supervised selection validates with; ``n_real`` as in
        :meth:`BaseDetector.fit` (counted over the normal images, in front)."""
        arr = self._begin_fit(X)
        anomalies = None
        if y is not None:
            labels = np.asarray(y).ravel()
            if labels.shape != (len(arr),) or not set(np.unique(labels).tolist()) <= {0, 1}:
                raise ValueError(f"y must hold one 0/1 label per image, got {labels.shape[0]} labels for {len(arr)} images")
            arr, anomalies = arr[labels == 0], arr[labels == 1]
            if len(arr) < 2:
                raise ValueError("y marks fewer than 2 images as normal (0)")
        self._set_n_real(n_real, len(arr))
        self._fit_selected(arr, anomalies)
        self._end_fit(arr)
        return self

    def _fit(self, X: np.ndarray) -> None:
        self._fit_selected(X, None)

    def _fit_selected(self, X: np.ndarray, anomalies: np.ndarray | None) -> None:
        if self.selection == "weak" and (anomalies is None or not len(anomalies)):
            raise ValueError(
                f"{self.name} chooses its hyper-parameters with a few labelled anomalies of one type: call "
                "fit(X, y) with y = 1 marking them (command line: fit --anomalies FOLDER), or set "
                "selection='unsupervised' or 'none'")
        if self.selection == "none":
            point = {"latent_dim": int(self.latent_dim), "layers": tuple(self.layers)}
            self.selection_ = {"criterion": "none", "chosen": {**point, "layers": list(self.layers)}}
        else:
            from ..select import select_hyperparameters

            result = select_hyperparameters(
                self._candidate, X, self.search_points(), anomalies=anomalies, criterion=self.selection,
                folds=self.cv_folds, seed=self.seed, progress=self.verbose)
            point = {"latent_dim": int(self.latent_dim), "layers": tuple(self.layers), **result.best}
            self.selection_ = result.summary()
        self.latent_dim_, self.layers_ = int(point["latent_dim"]), tuple(point["layers"])
        type(self)._train_group([self], [X])

    @classmethod
    def _fit_group(cls, dets: list, Xs: list) -> None:
        if any(d.selection != "none" for d in dets):
            for d, X in zip(dets, Xs):
                d._fit(X)
            return
        for d in dets:
            d.latent_dim_, d.layers_ = int(d.latent_dim), tuple(d.layers)
            d.selection_ = {"criterion": "none", "chosen": {"latent_dim": d.latent_dim_, "layers": list(d.layers_)}}
        cls._train_group(dets, Xs)

    # -- the network and its loss ------------------------------------------------------------------
    def _build_net(self, in_channels: int):
        from ..nn.dpa import ProgressiveAE
        from ..train import seeded

        return seeded(self.seed, lambda: ProgressiveAE(in_channels, self.image_size, self.latent_dim_))

    def _weights(self) -> tuple[float, float]:
        """(perceptual weight, L1 weight)."""
        return (0.0, 1.0) if self.loss == "l1" else (1.0, float(self.l1_weight))

    def _distance(self, target, recon, layers, maps: bool = False):
        """The reconstruction loss per image (or per location) of [-1, 1] images."""
        w_pl, w_l1 = self._weights()
        out = 0.0
        if w_pl:
            out = w_pl * _perceptual(target.device)(target, recon, layers, maps=maps)
        if w_l1:
            d = (target - recon).abs().mean(1)
            out = out + w_l1 * (d if maps else d.mean((1, 2)))
        return out

    def _stage_plan(self) -> list[tuple[int, bool, tuple[str, ...], tuple[str, ...] | None]]:
        """(resolution, transition, layers, previous stage's layers) per stage; the last is the full resolution."""
        top = self.image_size
        res = [self.pg_start * 2**i for i in range(int(math.log2(top // self.pg_start)) + 1)] if self.progressive else [top]
        at = lambda r: pg_layers(self.layers_, int(math.log2(top // r)))  # noqa: E731
        plan = [(res[0], False, at(res[0]), None)]
        for r in res[1:]:
            plan += [(r, True, at(r), at(r // 2)), (r, False, at(r), None)]
        return plan

    @classmethod
    def _train_group(cls, dets: list, Xs: list) -> None:
        """Train detectors that share every setting but the seed / data (one batched network)."""
        from torch.nn import functional as F

        from ..train import Phase, train_models

        d0 = dets[0]
        device = d0._torch_device()
        splits = [d._holdout_split(len(X), d.val_fraction) for d, X in zip(dets, Xs)]
        datas = [d0._tensor(X[tr], device) for X, (tr, _) in zip(Xs, splits)]
        vals = [d0._tensor(X[held], device) for X, (_, held) in zip(Xs, splits)]
        nets = [d._build_net(datas[0].shape[1]).to(device) for d in dets]
        if d0._weights()[0]:
            _perceptual(device)  # built here, not lazily inside the (vmapped) loss
        n = min(len(x) for x in datas)
        bs = min(d0.batch_size, n)
        lr = d0.lr if d0.lr is not None else authors_lr(d0.latent_dim_)
        plan = d0._stage_plan()
        logs = []
        for i, (res, transition, layers, lower) in enumerate(plan):
            final = i == len(plan) - 1
            iters = d0.max_iters if final else d0.pg_iters
            for net in nets:
                net.set_stage(res, transition, transition_steps=iters)

            def loss(forward, x, _target, layers=layers, lower=lower):
                target, recon, alpha = forward(x * 2.0 - 1.0)
                value = d0._distance(target, recon, layers)
                if lower is not None:  # fade-in: alpha * L(f2(x)) + (1 - alpha) * L(f1(down(x)))
                    value = alpha * value + (1 - alpha) * d0._distance(F.avg_pool2d(target, 2), F.avg_pool2d(recon, 2), lower)
                return value.mean()

            options: dict[str, Any] = {}
            if final:
                options = {"val_data": vals, "patience": d0.patience + 1, "min_delta": d0.min_delta,
                           "val_every": max(1, round(d0.val_every * bs / n))}
            logs.append(train_models(
                nets, datas, loss, phases=[Phase(iters * bs / n, lr)], batch_size=bs, weight_decay=0.0,
                seeds=[d.seed + 7919 * i for d in dets], precision=d0.precision, progress=d0.verbose,
                desc=f"{d0.name} {res}px{' fade-in' if transition else ''} x{len(nets)}", **options))
        for d, net, (_, held) in zip(dets, nets, splits):
            d.net_ = net.eval()
            d.train_log_ = logs[-1]
            d.held_idx_ = held
            d.train_seconds_ = float(sum(lg.seconds for lg in logs))

    # -- scoring ---------------------------------------------------------------------------------
    def _batches(self, X: np.ndarray, maps: bool):
        import torch

        x = self._tensor(X)
        out = []
        with torch.no_grad():
            for i in range(0, len(x), 256):
                xb = x[i : i + 256].float() / 127.5 - 1.0
                target, recon, _ = self.net_(xb)
                out.append(self._distance(target, recon, self.layers_, maps=maps).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._batches(X, maps=False)

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel anomaly map (``N x H x W``, the input's size): the normalised VGG feature
        difference per location (plus the L1 term where the loss has one)."""
        self._check_is_fitted()
        return self._resize_maps(self._batches(self._check_input(X, fit=False), maps=True))

    # -- persistence -------------------------------------------------------------------------------
    def _fitted_scalars(self) -> dict[str, Any]:
        return {"latent_dim_": self.latent_dim_, "layers_": list(self.layers_), "selection_": self.selection_}

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.latent_dim_, self.layers_ = int(scalars["latent_dim_"]), tuple(scalars["layers_"])
        self.selection_ = scalars["selection_"]
        super()._set_state(tensors, scalars)
