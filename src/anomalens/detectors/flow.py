"""Encoder + normalizing flow (seed 003, Salcedo & Alvarez): likelihood of a learned
representation, with a threshold from a confidence interval of training likelihoods.

Stage 1 trains a DCGAN-style autoencoder (:mod:`anomalens.nn.dcgan`) with the L1
reconstruction loss on the normal images (scaled to [-1, 1]). Stage 2 freezes the encoder
and trains a RealNVP (:mod:`anomalens.nn.realnvp`) on the training latents by maximum
likelihood. The anomaly score is the negative log-likelihood (nats) of an image's latent.
``on="pixels"`` skips the autoencoder and fits the flow to the raw pixels instead
(dequantised: ``(255 x + u) / 256`` with ``u ~ U(0, 1)`` in training, ``u = 0.5`` when
scoring), the paper's motivating comparison.

Threshold: a ``holdout`` share of the training images (seeded) is kept out of both stages;
``threshold_`` is the upper end of the two-sided ``confidence`` normal interval of their
negative log-likelihoods, ``mean + z * std`` with ``z = Phi^-1((1 + confidence) / 2)``
(1.96 for 95 %), so ``predict`` flags images whose likelihood is below the interval. The
paper says only "a threshold according to a confidence interval from likelihood estimations
of all training set samples"; the normal interval and the held-out share are our choices.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import Interval, OneOf
from .network import TRAIN_CONSTRAINTS, NetworkDetector, store_params

__all__ = ["EncoderFlow"]

# GANomaly's DCGAN settings for the autoencoder (nz=100, ndf=ngf=64, batch 64, lr 2e-4,
# 15 epochs); RealNVP: 8 couplings of 256-unit MLPs, Adam 1e-3, L2 5e-5 as in Dinh et al.
_PAPER = {"latent": 100, "width": 64, "epochs": 15, "lr": 2e-4, "batch_size": 64, "weight_decay": 0.0,
          "flow_couplings": 8, "flow_hidden": 256, "flow_epochs": 50, "flow_lr": 1e-3, "flow_batch_size": 256,
          "flow_weight_decay": 5e-5}
# CPU-sized: 2 autoencoder epochs, 10 flow epochs, a narrower DCGAN
_QUICK = {**_PAPER, "width": 32, "epochs": 2, "flow_epochs": 10}


def _container(ae, flow):
    """One module holding the autoencoder (if any) and the flow, so one state dict saves both."""
    from torch import nn

    class EncoderFlowNet(nn.Module):
        def __init__(self):
            super().__init__()
            if ae is not None:
                self.ae = ae
            self.flow = flow

    return EncoderFlowNet()


class EncoderFlow(NetworkDetector):
    """Encoder + RealNVP likelihood (seed 003); see the module docstring.

    Parameters
    ----------
    on : {"latent", "pixels"}, default "latent"
        Fit the flow to the encoder's latent vectors (the paper's method) or to raw pixels.
    latent : int, default 100
        Size of the autoencoder's latent vector.
    width : int, default 64
        Channels of the DCGAN's first layer (doubling per stage).
    epochs, lr, batch_size, weight_decay : default 15, 2e-4, 64, 0.0
        Autoencoder training (Adam, L1 loss).
    flow_couplings, flow_hidden : int, default 8, 256
        RealNVP coupling layers (each followed by a batch-norm flow layer) and MLP width.
    flow_epochs, flow_lr, flow_batch_size, flow_weight_decay : default 50, 1e-3, 256, 5e-5
        Flow training (Adam, negative log-likelihood).
    holdout : float, default 0.1
        Share of the training images kept out of training to set the threshold (0: all
        training images, in-sample).
    confidence : float, default 0.95
        Level of the normal confidence interval of held-out negative log-likelihoods.
    pad_to : int or None, default 32
        Zero-pad smaller images to this size (28 -> 32 px); the side must be a power of two.
    image_size, device, precision, seed, verbose
        As for every network detector.
    threshold_quantile : float
        Unused here (the threshold is the confidence interval's); kept for the common API.
    """

    name: ClassVar[str] = "encoder_flow"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": _PAPER, "quick": _QUICK}
    _training_params: ClassVar[tuple[str, ...]] = (
        *NetworkDetector._training_params, "on", "latent", "width", "flow_couplings", "flow_hidden", "flow_epochs",
        "flow_lr", "flow_batch_size", "flow_weight_decay", "holdout",
    )
    _param_constraints: ClassVar[dict[str, Any]] = {
        **TRAIN_CONSTRAINTS,
        "on": OneOf(("latent", "pixels")),
        "latent": Interval(int, 2, None),
        "width": Interval(int, 1, None),
        "flow_couplings": Interval(int, 1, None),
        "flow_hidden": Interval(int, 1, None),
        "flow_epochs": Interval(float, 0.0, None),
        "flow_lr": Interval(float, 0.0, None, lo_open=True),
        "flow_batch_size": Interval(int, 1, None),
        "flow_weight_decay": Interval(float, 0.0, None),
        "holdout": Interval(float, 0.0, 1.0, hi_open=True),
        "confidence": Interval(float, 0.0, 1.0, lo_open=True, hi_open=True),
    }

    def __init__(
        self, *, on: str = "latent", latent: int = 100, width: int = 64, epochs: float = 15, lr: float = 2e-4,
        batch_size: int = 64, weight_decay: float = 0.0, flow_couplings: int = 8, flow_hidden: int = 256,
        flow_epochs: float = 50, flow_lr: float = 1e-3, flow_batch_size: int = 256, flow_weight_decay: float = 5e-5,
        holdout: float = 0.1, confidence: float = 0.95, pad_to: int | None = 32, threshold_quantile: float = 0.99,
        image_size: int | None = None, device: str = "auto", precision: str = "fp32", seed: int = 0,
        verbose: bool = False,
    ):
        store_params(self, locals())

    # -- network -----------------------------------------------------------------------------
    def _network_key(self) -> tuple:
        return ("encoder_flow", *(getattr(self, k) for k in self._training_params))

    def _build_net(self, in_channels: int):
        from ..nn import DCGANAutoencoder, RealNVP
        from ..train import seeded

        size = self._input_size()

        def build():
            ae = DCGANAutoencoder(in_channels, self.latent, size, self.width) if self.on == "latent" else None
            dim = self.latent if ae is not None else in_channels * size * size
            return _container(ae, RealNVP(dim, self.flow_couplings, self.flow_hidden))

        return seeded(self.seed, build)

    def _check_tensor(self, x) -> None:
        self._require_power_of_two_square(x)

    # -- training ----------------------------------------------------------------------------
    @classmethod
    def _fit_group(cls, dets, Xs) -> None:
        from ..train import Phase, predict_batches, train_models

        d0 = dets[0]
        device = d0._torch_device()
        splits = [d._holdout_split(len(X), d.holdout) for d, X in zip(dets, Xs)]
        datas = [d0._tensor(X[tr], device) for X, (tr, _) in zip(Xs, splits)]
        nets = [d._build_net(datas[0].shape[1]).to(device) for d in dets]
        seeds = [d.seed for d in dets]
        log = None
        if d0.on == "latent":
            log = d0._train(dets, [n.ae for n in nets], datas, loss=_l1, what="autoencoder")
            for n in nets:
                n.ae.eval()
            import torch

            inputs = [torch.from_numpy(predict_batches(lambda x, ae=n.ae: ae.embed(x * 2 - 1), data)).float().to(device)
                      for n, data in zip(nets, datas)]
            flow_loss = _nll
        else:
            inputs, flow_loss = datas, _pixel_nll
        flow_log = None
        if d0.flow_epochs > 0:
            flow_log = train_models(
                [n.flow for n in nets], inputs, flow_loss, phases=[Phase(d0.flow_epochs, d0.flow_lr)],
                batch_size=d0.flow_batch_size, weight_decay=d0.flow_weight_decay, seeds=seeds,
                precision="fp32", progress=d0.verbose, desc=f"{d0.name} flow x{len(nets)}",
            )
        for d, net, X, (_, held) in zip(dets, nets, Xs, splits):
            d.net_ = net.eval()
            d.train_log_, d.flow_log_ = log, flow_log
            d._held_idx = held  # their scores are among the training scores _end_fit computes

    # -- scoring -----------------------------------------------------------------------------
    def _log_likelihood(self, X: np.ndarray) -> np.ndarray:
        net = self.net_.eval()
        if self.on == "latent":
            return self._apply(lambda x: net.flow(net.ae.embed(x * 2 - 1)), X)
        return self._apply(lambda x: net.flow(_dequantize(x, None)), X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self._log_likelihood(X)

    def _threshold_from(self, train_scores: np.ndarray) -> float:
        from scipy.stats import norm

        held = self.__dict__.pop("_held_idx", None)
        nll = train_scores[held] if held is not None and len(held) else train_scores[: self._real_count(len(train_scores))]
        z = float(norm.ppf(0.5 + self.confidence / 2))
        self.holdout_nll_ = (float(np.mean(nll)), float(np.std(nll)), int(len(nll)))
        return float(np.mean(nll) + z * np.std(nll))

    def _fitted_scalars(self) -> dict[str, Any]:
        return {"holdout_nll_": list(self.holdout_nll_)}

    def _set_scorer_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.holdout_nll_ = tuple(scalars.get("holdout_nll_", ()))


def _l1(forward, x, target):
    x = x * 2 - 1  # DCGAN images live in [-1, 1]
    return (forward(x) - x).abs().mean()


def _nll(forward, z, target):
    return -forward(z).mean()


def _dequantize(x, noise):
    """[0, 1] pixels -> ``(255 x + u) / 256`` flattened, ``u`` uniform noise or 0.5."""
    flat = x.flatten(1) * 255.0
    return (flat + (0.5 if noise is None else noise)) / 256.0


def _pixel_nll(forward, x, target):
    import torch

    return -forward(_dequantize(x, torch.rand_like(x.flatten(1)))).mean()
