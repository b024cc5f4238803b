"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017) for vectors: exact log-likelihood.

The flow maps ``x`` to ``z = f(x)`` with a standard normal base, so
``log p(x) = log N(f(x); 0, I) + log |det df/dx|``. It stacks ``n_couplings`` affine
coupling layers with alternating checkerboard masks over the vector entries (entries of one
parity pass unchanged and condition a scale ``s`` and shift ``t`` for the others:
``y = x_a, x_b * exp(s(x_a)) + t(x_a)``), each followed, as in RealNVP, by a batch
normalisation layer that is itself a flow (batch statistics while training, running
averages in eval mode, its log-determinant included). ``s`` and ``t`` come from one MLP with
``hidden`` units (ReLU); ``s`` is ``scale * tanh(.)`` with a learned per-entry ``scale``
(RealNVP's stabilisation).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["RealNVP", "AffineCoupling", "BatchNormFlow"]


class AffineCoupling(nn.Module):
    """One masked affine coupling layer; ``mask`` entries equal to 1 pass through unchanged."""

    def __init__(self, dim: int, mask: torch.Tensor, hidden: int = 256):
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(self.net[-1].weight)  # start as the identity map
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(dim))

    def _st(self, x_masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(x_masked).chunk(2, dim=-1)
        free = 1.0 - self.mask
        return self.scale * torch.tanh(s) * free, t * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._st(x * self.mask)
        return x * torch.exp(s) + t, s.sum(dim=-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        s, t = self._st(y * self.mask)  # the masked entries of y equal those of x
        return (y - t) * torch.exp(-s)


class BatchNormFlow(nn.Module):
    """Batch normalisation as an invertible layer (RealNVP, section 3.7)."""

    def __init__(self, dim: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.log_gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.momentum, self.eps = momentum, eps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            var = x.var(dim=0, unbiased=False)
            # F.batch_norm normalises with the batch statistics and updates the running ones
            # (its unbiased running variance, as PyTorch's BatchNorm does)
            xhat = F.batch_norm(x, self.running_mean, self.running_var, None, None, True, self.momentum, self.eps)
        else:
            var = self.running_var
            xhat = (x - self.running_mean) / torch.sqrt(var + self.eps)
        y = xhat * torch.exp(self.log_gamma) + self.beta
        logdet = (self.log_gamma - 0.5 * torch.log(var + self.eps)).sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Inverse in eval mode (running statistics)."""
        xhat = (y - self.beta) * torch.exp(-self.log_gamma)
        return xhat * torch.sqrt(self.running_var + self.eps) + self.running_mean


class RealNVP(nn.Module):
    """RealNVP on ``dim``-vectors; ``forward(x)`` is ``log p(x)`` per row (nats)."""

    def __init__(self, dim: int, n_couplings: int = 8, hidden: int = 256, batch_norm: bool = True):
        super().__init__()
        if dim < 2:
            raise ValueError(f"RealNVP needs vectors of at least 2 entries, got dim={dim}")
        parity = torch.arange(dim) % 2
        layers: list[nn.Module] = []
        for i in range(n_couplings):
            layers.append(AffineCoupling(dim, (parity + i) % 2, hidden))
            if batch_norm:
                layers.append(BatchNormFlow(dim))
        self.layers = nn.ModuleList(layers)
        self.dim = dim

    def transform(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z = f(x)`` and ``log |det df/dx|`` per row."""
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """``x = f^-1(z)`` (eval mode)."""
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, logdet = self.transform(x)
        return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(dim=-1) + logdet

    log_prob = forward
