"""Deep Perceptual Autoencoder (seed 004, Tuluptceva et al.): the residual autoencoder with
progressive growing, and the relative-perceptual-L1 distance.

Architecture (the authors' ``residual18`` encoder / decoder, ``latent_res = 1``, no
normalisation layers, LeakyReLU(0.2), Kaiming-normal initialisation, fan-out):

* pre-activation residual block: ``act -> conv3x3 -> act -> conv3x3`` plus the identity
  (a 1x1 convolution where the width changes); the *down* block average-pools after the
  first activation (and on the skip path), the *up* block upsamples (nearest) there;
* encoder: ``from_rgb[r]`` (conv3x3 + 2 blocks) at the input resolution ``r``, then per
  halving a down block + a block, down to 4 x 4, then ``act -> conv4x4`` to the latent vector;
* decoder: ``act -> conv4x4 (padding 3)`` from the latent vector to 4 x 4, per doubling an
  up block + a block, then ``to_rgb[r]`` (act + conv3x3), linear output.

The width at resolution ``r`` is ``min(latent_dim, 32 * image_size / r)``: for 32 px this
reproduces every width table of the authors' CIFAR-10 / SVHN configurations (latent 8-32:
all widths = latent; 64: 32-64-64-64; 256: 32-64-128-256).

Progressive growing (Karras et al. 2018, as the authors' ``pg_*`` networks): every
resolution from 4 x 4 up to ``image_size`` has its own ``from_rgb`` / ``to_rgb``; a stage is
``(resolution, transition)``. During a transition to ``r`` the new layers are faded in with
``alpha`` going linearly from 0 to 1 over ``transition_steps`` training steps: the input is
``alpha * x_r + (1 - alpha) * up(down(x_r))``, the encoder mixes ``from_rgb[r/2](down(x))``
with the new path and the decoder ``up(to_rgb[r/2](h))`` with the new path, all with the
same alpha. ``alpha`` lives in a buffer (``pg_step``) that each training forward advances,
so it works inside the shared training loop (vmap, CUDA graphs); ``forward`` returns it for
the loss's synchronised mixing.

Images enter and leave in [-1, 1] (the authors' normalisation); :class:`PerceptualDistance`
maps them back to [0, 1] for VGG19.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .vgg import VGG19

__all__ = ["PreActBlock", "ProgressiveAE", "PerceptualDistance", "dpa_widths"]


def dpa_widths(latent_dim: int, image_size: int, base: int = 32) -> dict[int, int]:
    """Channels per resolution (4 ... image_size): ``min(latent_dim, base * image_size / r)``."""
    return {4 * 2**i: min(latent_dim, base * image_size // (4 * 2**i)) for i in range(int(math.log2(image_size // 4)) + 1)}


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class PreActBlock(nn.Module):
    """Pre-activation residual block; ``mode`` None, ``"down"`` (avg-pool 2) or ``"up"`` (nearest x2)."""

    def __init__(self, c_in: int, c_out: int, mode: str | None = None):
        super().__init__()
        self.mode = mode
        self.act1, self.act2 = _act(), _act()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "down":
            return F.avg_pool2d(x, 2)
        if self.mode == "up":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.act2(self.conv1(self._resample(self.act1(x)))))
        s = self._resample(x)
        return (self.skip(s) if self.skip is not None else s) + h


class ProgressiveAE(nn.Module):
    """The DPA autoencoder for ``image_size`` (a power of two >= 8) square images.

    ``forward(x)`` takes the full-resolution batch in [-1, 1] and returns ``(target,
    reconstruction, alpha)`` at the current stage: ``target`` is the input as the stage sees
    it (down-sampled, faded), ``alpha`` a 0-d tensor (1 outside transitions). After
    construction the stage is the full resolution, stable: a plain autoencoder.
    """

    def __init__(self, in_channels: int, image_size: int, latent_dim: int, widths: dict[int, int] | None = None):
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"ProgressiveAE needs a power-of-two image_size >= 8, got {image_size}")
        w = widths or dpa_widths(latent_dim, image_size)
        self.image_size, self.latent_dim, self.widths = image_size, latent_dim, dict(w)
        self.resolutions = sorted(w)
        if self.resolutions[0] != 4 or self.resolutions[-1] != image_size:
            raise ValueError(f"widths must cover resolutions 4..{image_size}, got {self.resolutions}")
        self.from_rgb = nn.ModuleDict()
        self.to_rgb = nn.ModuleDict()
        self.down = nn.ModuleDict()
        self.up = nn.ModuleDict()
        for r in self.resolutions:
            self.from_rgb[str(r)] = nn.Sequential(
                nn.Conv2d(in_channels, w[r], 3, padding=1), PreActBlock(w[r], w[r]), PreActBlock(w[r], w[r]))
            self.to_rgb[str(r)] = nn.Sequential(_act(), nn.Conv2d(w[r], in_channels, 3, padding=1))
            if r > 4:
                self.down[str(r)] = nn.Sequential(PreActBlock(w[r], w[r // 2], "down"), PreActBlock(w[r // 2], w[r // 2]))
                self.up[str(r)] = nn.Sequential(PreActBlock(w[r // 2], w[r], "up"), PreActBlock(w[r], w[r]))
        self.to_latent = nn.Sequential(_act(), nn.Conv2d(w[4], latent_dim, 4))
        self.from_latent = nn.Sequential(_act(), nn.Conv2d(latent_dim, w[4], 4, padding=3))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, mode="fan_out", nonlinearity="leaky_relu")
        self.register_buffer("pg_step", torch.zeros(()))
        self.resolution, self.transition, self.transition_steps = image_size, False, 1

    # -- stages ------------------------------------------------------------------------------
    def set_stage(self, resolution: int, transition: bool = False, transition_steps: int = 1) -> ProgressiveAE:
        """Move to a stage; a transition fades ``resolution``'s layers in over ``transition_steps`` steps."""
        if resolution not in self.resolutions or resolution < 8 and transition:
            raise ValueError(f"no stage ({resolution}, transition={transition}) for resolutions {self.resolutions}")
        self.resolution, self.transition = int(resolution), bool(transition)
        self.transition_steps = max(1, int(transition_steps))
        self.pg_step.zero_()
        return self

    def stage_parameters(self) -> list[nn.Parameter]:
        """The parameters the current stage uses (what the authors' optimiser sees at this stage)."""
        rs = [r for r in self.resolutions if r <= self.resolution]
        mods = [self.to_latent, self.from_latent, self.from_rgb[str(self.resolution)], self.to_rgb[str(self.resolution)]]
        mods += [self.down[str(r)] for r in rs if r > 4] + [self.up[str(r)] for r in rs if r > 4]
        if self.transition:
            mods += [self.from_rgb[str(self.resolution // 2)], self.to_rgb[str(self.resolution // 2)]]
        return [p for m in mods for p in m.parameters()]

    def alpha(self) -> torch.Tensor:
        if not self.transition:
            return torch.ones((), device=self.pg_step.device)
        return (self.pg_step / self.transition_steps).clamp(0.0, 1.0)

    # -- passes -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        h = self.down[str(r)](self.from_rgb[str(r)](x)) if r > 4 else self.from_rgb["4"](x)
        if self.transition:
            low = self.from_rgb[str(r // 2)](F.avg_pool2d(x, 2))
            h = alpha * h + (1 - alpha) * low
        for s in sorted((s for s in self.resolutions if 4 < s < r), reverse=True):
            h = self.down[str(s)](h)
        return self.to_latent(h)

    def decode(self, z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        h = self.from_latent(z)
        for s in (s for s in self.resolutions if 4 < s < r):
            h = self.up[str(s)](h)
        if r == 4:
            return self.to_rgb["4"](h)
        out = self.to_rgb[str(r)](self.up[str(r)](h))
        if self.transition:
            low = F.interpolate(self.to_rgb[str(r // 2)](h), scale_factor=2.0, mode="nearest")
            out = alpha * out + (1 - alpha) * low
        return out

    def stage_input(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """The full-resolution batch as the current stage sees it."""
        f = x.shape[-1] // self.resolution
        xr = F.avg_pool2d(x, f) if f > 1 else x
        if self.transition:
            xr = alpha * xr + (1 - alpha) * F.interpolate(F.avg_pool2d(xr, 2), scale_factor=2.0, mode="nearest")
        return xr

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"ProgressiveAE({self.image_size}) got images of {tuple(x.shape[-2:])}")
        if self.training and self.transition:
            self.pg_step.add_(1.0)
        alpha = self.alpha()
        target = self.stage_input(x, alpha)
        return target, self.decode(self.encode(target, alpha), alpha), alpha


class PerceptualDistance(nn.Module):
    """Relative-perceptual-L1 (Tuluptceva et al. 2019): per VGG19 layer,
    ``mean |f^(x) - f^(y)| / mean |f^(x)|`` on features normalised per channel
    (``f^ = (f - mu) / sigma``), the denominator held constant (no gradient); averaged over
    the layers. Inputs are images in [-1, 1]."""

    def __init__(self, vgg: VGG19, stats: dict[str, tuple[torch.Tensor, torch.Tensor]]):
        super().__init__()
        self.vgg = vgg.eval()
        for name, (mean, std) in stats.items():
            self.register_buffer(f"mean_{name}", mean.reshape(1, -1, 1, 1).float(), persistent=False)
            self.register_buffer(f"std_{name}", std.reshape(1, -1, 1, 1).float(), persistent=False)

    def train(self, mode: bool = True) -> PerceptualDistance:  # the backbone stays in eval mode
        super().train(mode)
        self.vgg.eval()
        return self

    def _features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        feats = self.vgg(self.vgg.preprocess((x + 1) * 0.5), layers)
        return {k: (f - getattr(self, f"mean_{k}")) / getattr(self, f"std_{k}") for k, f in feats.items()}

    def forward(self, x: torch.Tensor, y: torch.Tensor, layers: Sequence[str], maps: bool = False) -> torch.Tensor:
        """Per-image distance (``N``), or with ``maps=True`` per-location maps (``N x H x W``,
        each layer's map upsampled bilinearly to the input size, then averaged)."""
        fx, fy = self._features(x, layers), self._features(y, layers)
        out = 0.0
        for k in layers:
            denom = fx[k].detach().abs().mean((1, 2, 3)).clamp(min=1e-8)
            diff = (fx[k] - fy[k]).abs()
            if maps:
                m = diff.mean(1, keepdim=True) / denom.view(-1, 1, 1, 1)
                out = out + F.interpolate(m, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
            else:
                out = out + diff.mean((1, 2, 3)) / denom
        return out / len(layers)
