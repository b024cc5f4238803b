"""Seed 001's networks (Wilmet et al.), as the authors' Keras code builds them.

* :class:`KDCAE` -- the KD-CAE autoencoder: encoder conv 3x3 (32) + max-pool 4, conv (64) +
  pool 2, conv (128) + pool 2 (six layers, 128 x 128 -> 8 x 8 x 128 = 8192 latent values),
  decoder conv (128) + upsample 2, conv (64) + upsample 2, conv (32) + upsample 4 (six
  layers), then a 3x3 output convolution with a sigmoid. ReLU, "same" padding.
* :class:`NICAE` -- the NI-CAE autoencoder: five conv 3x3 + max-pool 2 with 128, 64, 16, 8, 4
  filters, "dense 512", the mirrored decoder (conv + upsample 2 with 4, 8, 16, 64, 128
  filters) and a 1x1 output convolution with a sigmoid. Keras applies ``Dense`` to the last
  axis of the 4-D feature map, so the authors' "dense 512" is a per-location 4 -> 512 linear
  map (a 1x1 convolution) with ReLU; so is ours.
* :class:`SupervisedCNN` -- the supervised baseline: five blocks of "valid" conv 3x3 (16
  filters) + ReLU + max-pool 2, flatten, one hidden dense layer with ReLU, one logit (the
  sigmoid lives in the loss).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["KDCAE", "NICAE", "SupervisedCNN"]


def _keras_init(module: nn.Module) -> None:
    """Keras' defaults: Glorot-uniform weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def _conv(cin: int, cout: int, k: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU()]


class KDCAE(nn.Module):
    """KD-CAE (``N x C x S x S``, S a multiple of 16); ``embed`` gives the flattened
    ``S/16 x S/16 x 128`` latent (8192 values at 128 px)."""

    def __init__(self, channels: int = 1, widths: tuple[int, int, int] = (32, 64, 128)):
        super().__init__()
        a, b, c = widths
        self.encoder = nn.Sequential(*_conv(channels, a), nn.MaxPool2d(4), *_conv(a, b), nn.MaxPool2d(2),
                                     *_conv(b, c), nn.MaxPool2d(2))
        self.decoder = nn.Sequential(*_conv(c, c), nn.Upsample(scale_factor=2), *_conv(c, b), nn.Upsample(scale_factor=2),
                                     *_conv(b, a), nn.Upsample(scale_factor=4), nn.Conv2d(a, channels, 3, padding=1),
                                     nn.Sigmoid())
        _keras_init(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class NICAE(nn.Module):
    """NI-CAE (``N x C x S x S``, S a multiple of 32)."""

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (128, 64, 16, 8, 4), dense: int = 512):
        super().__init__()
        enc: list[nn.Module] = []
        cin = channels
        for w in widths:
            enc += [*_conv(cin, w), nn.MaxPool2d(2)]
            cin = w
        enc += [nn.Conv2d(cin, dense, 1), nn.ReLU()]  # Keras Dense on the channel axis
        dec: list[nn.Module] = []
        cin = dense
        for w in reversed(widths):
            dec += [*_conv(cin, w), nn.Upsample(scale_factor=2)]
            cin = w
        dec += [nn.Conv2d(cin, channels, 1), nn.Sigmoid()]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        _keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class SupervisedCNN(nn.Module):
    """The supervised baseline; ``forward`` returns one logit per image (anomalous = 1)."""

    def __init__(self, channels: int = 3, size: int = 200, filters: int = 16, blocks: int = 5, hidden: int = 256):
        super().__init__()
        layers: list[nn.Module] = []
        cin, s = channels, size
        for _ in range(blocks):
            layers += [nn.Conv2d(cin, filters, 3), nn.ReLU(), nn.MaxPool2d(2)]
            cin, s = filters, (s - 2) // 2
        if s < 1:
            raise ValueError(f"{blocks} conv + pool blocks need images larger than {size} px")
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(filters * s * s, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        _keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
