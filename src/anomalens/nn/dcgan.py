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

__all__ = ["DCGANEncoder", "DCGANDecoder", "DCGANAutoencoder", "GANomalyNet", "DCGAN"]


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

    def forward(self, x: torch.Tensor, features_only: bool = False) -> torch.Tensor:
        h = self.features_net(x)
        return h if features_only else self.head(h).flatten(1)


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


class GANomalyNet(nn.Module):
    """GANomaly (Akcay et al. 2018): generator encoder -> decoder -> encoder, plus a DCGAN
    discriminator.

    ``forward(x)`` (x in [-1, 1]) returns the four training terms as a tensor
    ``[adversarial, contextual, encoder, discriminator]``: the feature-matching loss
    ``||f(x) - f(x_hat)||^2`` with the discriminator's parameters held fixed, the L1
    reconstruction loss, the latent loss ``||z - z_hat||^2`` and the discriminator's binary
    cross-entropy on ``x`` (real) and ``x_hat`` (fake, generator held fixed). Their weighted
    sum has the gradients of GANomaly's two losses, each for its own network, so one
    optimizer step updates generator and discriminator together. ``score(x)`` is the
    anomaly score ``mean (z - z_hat)^2``.
    """

    def __init__(self, channels: int = 1, latent: int = 100, size: int = 32, width: int = 64):
        super().__init__()
        self.encoder1 = DCGANEncoder(channels, latent, size, width)
        self.decoder = DCGANDecoder(channels, latent, size, width)
        self.encoder2 = DCGANEncoder(channels, latent, size, width)
        self.disc = DCGANEncoder(channels, 1, size, width)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder1(x)
        return (z - self.encoder2(self.decoder(z))).pow(2).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.func import functional_call
        from torch.nn import functional as F

        z = self.encoder1(x)
        x_hat = self.decoder(z)
        z_hat = self.encoder2(x_hat)
        # the discriminator's features with its parameters detached: this term trains the generator only
        fixed = ({n: p.detach() for n, p in self.disc.named_parameters()}, dict(self.disc.named_buffers()))
        f_real = functional_call(self.disc, fixed, (x,), {"features_only": True})
        f_fake = functional_call(self.disc, fixed, (x_hat,), {"features_only": True})
        adversarial = (f_real - f_fake).pow(2).mean()
        contextual = (x - x_hat).abs().mean()
        encoder = (z - z_hat).pow(2).mean()
        real, fake = self.disc(x), self.disc(x_hat.detach())
        disc = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return torch.stack([adversarial, contextual, encoder, disc])


class DCGAN(nn.Module):
    """A DCGAN (Radford et al. 2016): generator :class:`DCGANDecoder` from ``latent``-d
    Gaussian noise, discriminator :class:`DCGANEncoder` with one logit. Strided convolutions,
    BatchNorm, ReLU in the generator, LeakyReLU(0.2) in the discriminator, tanh output
    (images in [-1, 1]) -- the guidelines seed 001 lists.

    ``forward(x)`` (real images in [-1, 1]) draws a batch of fakes and returns
    ``[discriminator loss, generator loss]``: the discriminator's binary cross-entropy on
    real (1) and fake (0, generator held fixed), and the non-saturating generator loss
    ``-log D(G(z))`` with the discriminator's parameters held fixed, so each loss reaches
    only its own network. Trained with ``train_models(..., alternate=("disc.",
    "generator."))`` the players take turns (the paper's and the reference code's schedule);
    the sum of the two losses updates both at once instead.
    """

    def __init__(self, channels: int = 3, latent: int = 100, size: int = 64, width: int = 64):
        super().__init__()
        self.latent = latent
        self.generator = DCGANDecoder(channels, latent, size, width)
        self.disc = DCGANEncoder(channels, 1, size, width)

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] from latent vectors ``z`` (``N x latent``)."""
        return self.generator(z)

    def forward(self, x: torch.Tensor, player: int | None = None) -> torch.Tensor:
        """``[discriminator loss, generator loss]``; ``player`` 0 or 1: that loss only (a
        turn of :func:`anomalens.train.train_models` with ``alternate``), computing nothing
        the other player needs: the same value and noise draw as its entry of the pair (only
        the discriminator's BatchNorm running statistics, unused since it always runs in
        training mode, see fewer batches)."""
        from torch.func import functional_call
        from torch.nn import functional as F

        if player not in (None, 0, 1):
            raise ValueError(f"player must be None, 0 (discriminator) or 1 (generator), got {player!r}")
        z = torch.randn(x.shape[0], self.latent, device=x.device, dtype=x.dtype)
        if player == 0:
            with torch.no_grad():
                fake = self.generator(z)
        else:
            fake = self.generator(z)
        losses = []
        if player in (None, 0):
            real_logit, fake_logit = self.disc(x), self.disc(fake.detach())
            losses.append(F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                          + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        if player in (None, 1):
            fixed = ({n: p.detach() for n, p in self.disc.named_parameters()}, dict(self.disc.named_buffers()))
            g_logit = functional_call(self.disc, fixed, (fake,))
            losses.append(F.binary_cross_entropy_with_logits(g_logit, torch.ones_like(g_logit)))
        return torch.stack(losses) if player is None else losses[0]
