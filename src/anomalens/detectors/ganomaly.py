"""GANomaly (Akcay, Atapour-Abarghouei & Breckon, 2018), seed 003's baseline.

A generator encoder -> decoder -> encoder and a DCGAN discriminator
(:class:`~anomalens.nn.dcgan.GANomalyNet`) train on the normal images (in [-1, 1]) with
GANomaly's losses: generator ``w_adv * ||f(x) - f(x_hat)||^2 + w_con * |x - x_hat|_1 + w_enc *
||z - z_hat||^2`` (weights 1, 50, 1), discriminator binary cross-entropy on real and
reconstructed images, Adam with GANomaly's betas (0.5, 0.999). The score is the latent distance
``mean (z - z_hat)^2``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import Interval
from .network import TRAIN_CONSTRAINTS, NetworkDetector, store_params

__all__ = ["GANomaly"]

# GANomaly's defaults (isize 32, nz 100, ndf = ngf = 64, batch 64, Adam lr 2e-4 with beta1 0.5, 15 epochs;
# samet-akcay/ganomaly options.py)
_PAPER = {"latent": 100, "width": 64, "epochs": 15, "lr": 2e-4, "beta1": 0.5, "batch_size": 64, "weight_decay": 0.0}
_QUICK = {**_PAPER, "width": 32, "epochs": 2}


class GANomaly(NetworkDetector):
    """GANomaly; see the module docstring.

    Parameters
    ----------
    latent, width : int, default 100, 64
        Latent size and the DCGAN's first-layer channels.
    w_adv, w_con, w_enc : float, default 1, 50, 1
        Weights of the adversarial (feature matching), contextual (L1) and encoder losses.
    epochs, lr, batch_size, weight_decay : default 15, 2e-4, 64, 0.0
    beta1 : float, default 0.5
        Adam's first-moment decay for generator and discriminator (GANomaly's and DCGAN's 0.5;
        PyTorch's default is 0.9). ``beta2`` is 0.999.
    pad_to : int or None, default 32
        Zero-pad smaller images to this size; the side must be a power of two.
    threshold_quantile, image_size, device, precision, seed, verbose
        As for every network detector (threshold: quantile of in-sample training scores).
    """

    name: ClassVar[str] = "ganomaly"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "quick": _QUICK}
    _training_params: ClassVar[tuple[str, ...]] = (*NetworkDetector._training_params, "latent", "width", "w_adv", "w_con",
                                                   "w_enc", "beta1")
    _param_constraints: ClassVar[dict[str, Any]] = {
        **TRAIN_CONSTRAINTS,
        "latent": Interval(int, 1, None),
        "width": Interval(int, 1, None),
        "w_adv": Interval(float, 0.0, None),
        "w_con": Interval(float, 0.0, None),
        "w_enc": Interval(float, 0.0, None),
        "beta1": Interval(float, 0.0, 1.0, hi_open=True),
    }

    def __init__(
        self, *, latent: int = 100, width: int = 64, w_adv: float = 1.0, w_con: float = 50.0, w_enc: float = 1.0,
        epochs: float = 15, lr: float = 2e-4, beta1: float = 0.5, batch_size: int = 64, weight_decay: float = 0.0,
        pad_to: int | None = 32, threshold_quantile: float = 0.99, image_size: int | None = None, device: str = "auto",
        precision: str = "fp32", seed: int = 0, verbose: bool = False,
    ):
        store_params(self, locals())

    def _build_net(self, in_channels: int):
        from ..nn import GANomalyNet
        from ..train import seeded

        size = self._input_size()
        return seeded(self.seed, lambda: GANomalyNet(in_channels, self.latent, size, self.width))

    def _check_tensor(self, x) -> None:
        self._require_power_of_two_square(x)

    def _train(self, dets, nets, data, loss=None, targets=None, views=None, what: str = "generator + discriminator"):
        import torch

        weights = torch.tensor([self.w_adv, self.w_con, self.w_enc, 1.0])

        def ganomaly_loss(forward, x, target):
            terms = forward(x * 2 - 1)
            return (terms * weights.to(terms.device)).sum()

        return super()._train(dets, nets, data, loss=loss or ganomaly_loss, targets=targets, views=views, what=what,
                              optimizer_options={"betas": (self.beta1, 0.999)})

    def _score(self, X: np.ndarray) -> np.ndarray:
        net = self.net_.eval()
        return self._apply(lambda x: net.score(x * 2 - 1), X)
