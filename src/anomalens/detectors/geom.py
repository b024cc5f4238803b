"""GEOM (seed 002, Golan & El-Yaniv 2018): a classifier of 72 geometric transformations
trained on the normal images, scored by how typical its softmax outputs are.

Training: every normal image under each of the 72 transformations of
:mod:`~anomalens.detectors.geom_transforms` is labelled with the transformation's index, and
a Wide ResNet learns to predict it (cross-entropy, Adam lr 1e-3, batch 128, ``ceil(200 / 72)
= 3`` epochs over the 72x self-labelled set, inputs scaled to [-1, 1], 28 px images zero-padded
to 32). The 72x set is never materialised: the loop draws (image, transformation) pairs and
applies the transformation as a pixel gather on the batch (``train_models(views=72)``).

Scoring: each image is transformed all 72 ways and classified in one forward pass. With
``score_mode="dirichlet"`` (the paper's score) a Dirichlet is fitted per transformation
``t`` by maximum likelihood to the softmax vectors of the training images under ``t``
(:func:`~anomalens.scoring.dirichlet.fit_dirichlet_means`, Minka's fixed point from Wicker's
start), and the normality score is the mean over ``t`` of ``sum_j (alpha_tj - 1) log p_tj``;
``score_mode="simple"`` is the paper's simplified score, the mean over ``t`` of ``p_t[t]``
(the probability given to the transformation actually applied). ``score`` returns the
negated normality (higher = more anomalous).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..scoring.dirichlet import EPS, fit_dirichlet_means
from .base import Interval, NoneOr, OneOf
from .geom_transforms import N_TRANSFORMS, default_shift, transform_table
from .network import TRAIN_CONSTRAINTS, NetworkDetector, store_params

__all__ = ["GEOM"]

#: seed 002: Adam at Keras' default rate, batch 128, ceil(200 / 72) epochs of the 72x set; the
#: authors' Keras WRN puts an L2 penalty of 0.5 * 5e-4 on every weight, i.e. Adam's weight_decay=5e-4
_PAPER = {"depth": None, "widen": None, "epochs": 3, "lr": 1e-3, "batch_size": 128, "weight_decay": 5e-4}
# CPU-sized smoke test: WRN-10-1 and a tenth of one epoch (about 43,000 transformed images
# for a Fashion-MNIST class); scoring still classifies 72 views of every image.
_QUICK = {"depth": 10, "widen": 1, "epochs": 0.1, "lr": 1e-3, "batch_size": 128, "weight_decay": 5e-4}

SCORE_MODES = ("dirichlet", "simple")


def _scale(x):
    """uint8 batch -> float in [-1, 1] (seed 002's only preprocessing)."""
    return x.float().div_(255.0).mul_(2.0).sub_(1.0)


class GEOM(NetworkDetector):
    """GEOM: geometric-transformation classification with the Dirichlet normality score (seed 002).

    Parameters
    ----------
    score_mode : {"dirichlet", "simple"}, default "dirichlet"
        The paper's Dirichlet normality score, or its simplified score (mean of the softmax
        probability of the applied transformation). Both use the same trained network
        (``derive("geom", X, score_mode="simple")``).
    depth, widen : int or None, default None
        The Wide ResNet. None = the paper's choice for the input size: WRN-10-4 for images up
        to 32 px, WRN-16-8 above (CatsVsDogs, 64 px).
    dropout : float, default 0.0
        Dropout inside the WRN blocks (the paper's code uses none).
    shift : int or None, default None
        Translation in pixels; None = a quarter of the image side (8 px at 32 px, 16 at 64).
    epochs : float, default 3
        Epochs over the 72x self-labelled set (``ceil(200 / 72)``); fractions allowed.
    lr : float, default 1e-3
    batch_size : int, default 128
    weight_decay : float, default 5e-4
        Adam's L2 term (the authors' WRN regularises every weight by ``0.5 * 5e-4 * w**2``).
    pad_to : int or None, default 32
        Zero-pad smaller images to this square size (28 -> 32 px, as the paper does).
    threshold_quantile : float, default 0.99
        ``threshold_`` is this quantile of the (in-sample) training scores.
    image_size : int or None
        Size image *files* are resized to (arrays are used as given).
    device : str, default "auto"
    precision : {"fp32", "bf16"}, default "fp32"
        bf16 autocast in training (measured slower than fp32 for this network on an H100).
    seed : int, default 0
    verbose : bool, default False
    """

    name: ClassVar[str] = "geom"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "paper_cifar": _PAPER, "quick": _QUICK}
    _views: ClassVar[int] = N_TRANSFORMS
    _training_params: ClassVar[tuple[str, ...]] = (*NetworkDetector._training_params, "depth", "widen", "dropout", "shift")
    _param_constraints: ClassVar[dict[str, Any]] = {
        **TRAIN_CONSTRAINTS,
        "score_mode": OneOf(SCORE_MODES),
        "depth": NoneOr(Interval(int, 10, None)),
        "widen": NoneOr(Interval(int, 1, None)),
        "dropout": Interval(float, 0.0, 1.0, hi_open=True),
        "shift": NoneOr(Interval(int, 1, None)),
    }

    def __init__(
        self, *, score_mode: str = "dirichlet", depth: int | None = None, widen: int | None = None,
        dropout: float = 0.0, shift: int | None = None, epochs: float = 3, lr: float = 1e-3, batch_size: int = 128,
        weight_decay: float = 5e-4, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        store_params(self, locals())

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.depth is not None and (self.depth - 4) % 6:
            raise ValueError(f"parameter 'depth' must be 6 n + 4 (10, 16, 22, ...), got {self.depth}")

    # -- network ---------------------------------------------------------------------------
    def _arch(self, size: int) -> tuple[int, int]:
        big = size > 32
        return (self.depth or (16 if big else 10), self.widen or (8 if big else 4))

    def _network_key(self) -> tuple:
        return ("geom", self.depth, self.widen, self.dropout, self.shift)

    def _build_net(self, in_channels: int):
        from ..nn import WideResNet
        from ..train import seeded

        depth, widen = self._arch(self._input_size())
        return seeded(self.seed, lambda: WideResNet(depth, widen, N_TRANSFORMS, in_channels, self.dropout))

    def _shift(self, size: int) -> int:
        return self.shift or default_shift(size)

    def _check_tensor(self, x) -> None:
        h, w = x.shape[-2:]
        if h != w:
            raise ValueError(f"GEOM rotates images by 90 degrees, so they must be square; got {h} x {w} after padding")
        if 2 * self._shift(h) >= h:
            raise ValueError(f"shift={self._shift(h)} px is too large for {h} px images (must be under half the side)")
        if h % 4:
            raise ValueError(f"GEOM's WRN halves the image twice: the side must be a multiple of 4, got {h}")

    def _train(self, dets, nets, data, loss=None, targets=None, views=None, what: str = "72-way classifier"):
        size = int((data if hasattr(data, "shape") else data[0]).shape[-1])
        loss = loss or _make_loss(size, self._shift(size))
        return super()._train(dets, nets, data, loss=loss, targets=targets, views=views, what=what)

    # -- scoring -----------------------------------------------------------------------------
    def _inference_net(self):
        """The trained network for scoring. On CPU a channels-last copy (measured 1.5-1.8x
        faster for WRN-10-1 on 2 cores); on CUDA the network itself."""
        net = self.net_
        if next(net.parameters()).device.type != "cpu":
            return net
        cached = self.__dict__.get("_cpu_net")
        if cached is None or cached[0] is not net:
            import copy

            import torch

            fast = copy.deepcopy(net).to(memory_format=torch.channels_last).eval()
            cached = self.__dict__["_cpu_net"] = (net, fast)
        return cached[1]

    def _view_log_probs(self, data):
        """Yield ``(p, log(p + EPS))`` for all 72 views of each chunk of ``data`` (a uint8
        tensor): two ``B x 72 x 72`` tensors, softmax over the last axis."""
        import torch

        from .geom_transforms import all_transforms

        size = int(data.shape[-1])
        table = transform_table(size, self._shift(size), data.device)
        cpu = data.device.type == "cpu"
        # images per forward pass: 64 (4,608 views) at 32 px on a GPU; small batches run faster on CPU
        chunk = max(1, ((4 if cpu else 64) * 32 * 32) // (size * size))
        net = self._inference_net()
        net.eval()
        with torch.inference_mode():
            for i in range(0, len(data), chunk):
                views = all_transforms(_scale(data[i : i + chunk]), table=table)  # B x 72 x C x H x W
                flat = views.reshape(-1, *views.shape[2:])
                if cpu:
                    flat = flat.contiguous(memory_format=torch.channels_last)
                p = torch.softmax(net(flat).double(), dim=1).reshape(len(views), N_TRANSFORMS, N_TRANSFORMS)
                yield p, torch.log(p + EPS)

    def _normality(self, p, log_p):
        if self.score_mode == "simple":
            return torch_diag_mean(p)
        return (log_p * self._alpha1(log_p.device)).sum(dim=2).mean(dim=1)

    def _alpha1(self, device):
        import torch

        return torch.as_tensor(self.alpha_ - 1.0, device=device, dtype=torch.float64)

    def _scores_of(self, data) -> np.ndarray:
        """Anomaly scores (negated normality) of the images in ``data`` (uint8 tensor)."""
        import torch

        return -torch.cat([self._normality(p, lp) for p, lp in self._view_log_probs(data)]).cpu().numpy()

    @classmethod
    def _after_training(cls, dets, datas) -> None:
        import torch

        for d, data in zip(dets, datas):
            if d.score_mode == "simple":
                d.alpha_ = None
                d._train_scores = d._scores_of(data)
                continue
            # one pass: the Dirichlet's sufficient statistics per transformation, and the
            # log-probabilities kept to score the training images once alpha is known
            sum_p = torch.zeros(N_TRANSFORMS, N_TRANSFORMS, dtype=torch.float64, device=data.device)
            sum_log = torch.zeros_like(sum_p)
            kept = []
            for p, log_p in d._view_log_probs(data):
                sum_p += p.sum(dim=0)
                sum_log += log_p.sum(dim=0)
                kept.append(log_p.float())
            n = len(data)
            d.alpha_ = fit_dirichlet_means((sum_p / n).cpu().numpy(), (sum_log / n).cpu().numpy())
            d._train_scores = -torch.cat([d._normality(None, lp.double()) for lp in kept]).cpu().numpy()

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        cached = self.__dict__.pop("_train_scores", None)
        return self._score(X) if cached is None else cached

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._scores_of(self._tensor(X))

    # -- persistence -----------------------------------------------------------------------------
    def _scorer_state(self) -> dict[str, np.ndarray]:
        return {} if self.alpha_ is None else {"alpha": np.asarray(self.alpha_)}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.alpha_ = tensors["alpha"].astype(np.float64) if "alpha" in tensors else None


def torch_diag_mean(p):
    """Mean over transformations ``t`` of ``p[:, t, t]`` (the simplified normality score)."""
    import torch

    return torch.diagonal(p, dim1=1, dim2=2).mean(dim=1)


def _make_loss(size: int, shift: int):
    """Cross-entropy of the transformation index, for images of side ``size``."""
    table_cpu = transform_table(size, shift)
    tables: dict = {}

    def loss(forward, batch, target):
        import torch.nn.functional as F

        from .geom_transforms import transform_batch

        x, t = batch  # x: floats in [0, 1]
        table = tables.get(x.device)
        if table is None:
            table = tables[x.device] = table_cpu.to(x.device)
        return F.cross_entropy(forward(transform_batch(x * 2.0 - 1.0, t, table)), t)

    return loss
