"""DCGAN-style encoder, decoder and autoencoder (Radford et al. 2016), as used by GANomaly
(Akcay et al. 2018) and by seed 003's encoder + flow pipeline.

Encoder (a DCGAN discriminator without its last sigmoid): a 4x4 stride-2 convolution with
LeakyReLU(0.2), then 4x4 stride-2 convolutions with BatchNorm + LeakyReLU(0.2) doubling the
channels until the map is 4 x 4, then a 4x4 valid convolution to ``latent`` channels at 1 x 1.
Decoder (a DCGAN generator): the mirror with transposed convolutions, BatchNorm + ReLU and a
tanh output, so images live in [-1, 1]. For 32 px and ``width=64`` the channels are
64 -> 128 -> 256 -> latent and back, exactly GANomaly's ``isize=32, ndf=ngf=64``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DCGANEncoder", "DCGANDecoder", "DCGANAutoencoder"]


def _stages(size: int) -> int:
    if size < 8 or size & (size - 1):
        raise ValueError(f"DCGAN networks take square images whose side is a power of two >= 8, got {size}")
    return size.bit_length() - 3  # stride-2 halvings from size to 4 (32 -> 3)


class DCGANEncoder(nn.Module):
    """``N x C x S x S`` -> ``N x latent`` (S a power of two >= 8).

    ``features(x)`` returns the last 4 x 4 map (GANomaly's discriminator features)."""

    def __init__(self, in_channels: int = 1, latent: int = 100, size: int = 32, width: int = 64):
        super().__init__()
        n = _stages(size)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        self.features_net = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, latent, 4, 1, 0, bias=False)
        self.latent = latent
        _dcgan_init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features_net(x)).flatten(1)


class DCGANDecoder(nn.Module):
    """``N x latent`` -> ``N x C x S x S`` in [-1, 1]."""

    def __init__(self, out_channels: int = 1, latent: int = 100, size: int = 32, width: int = 64):
        super().__init__()
        n = _stages(size)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANAutoencoder(nn.Module):
    """Encoder + decoder; ``embed`` is the latent vector, ``forward`` the reconstruction."""

    def __init__(self, channels: int = 1, latent: int = 100, size: int = 32, width: int = 64):
        super().__init__()
        self.encoder = DCGANEncoder(channels, latent, size, width)
        self.decoder = DCGANDecoder(channels, latent, size, width)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02), BatchNorm weight ~ N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
