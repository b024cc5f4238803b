"""The one input rule the pretrained backbones share: RGB, with grayscale repeated to three channels."""

from __future__ import annotations

import torch


def three_channels(x: torch.Tensor, network: str) -> torch.Tensor:
    """``N x C x H x W`` with C = 1 (expanded, no copy) or 3 -> ``N x 3 x H x W``; ``network`` names
    the backbone in the error for any other C."""
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"{network} takes 1 or 3 channels, got {x.shape[1]}")
    return x
