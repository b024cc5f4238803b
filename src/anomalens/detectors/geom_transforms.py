"""GEOM's 72 geometric transformations (seed 002), on batched tensors.

The set is the Cartesian product, in this order, of a horizontal flip {no, yes}, a
translation along x (width) by {0, -s, +s}, a translation along y (height) by {0, -s, +s}
and a counter-clockwise rotation by k x 90 degrees, k in {0, 1, 2, 3}; each image is
flipped, then translated (reflect padding: the image mirrored without repeating the edge
pixel), then rotated. ``s`` is 8 px for 32 px inputs (16 px for 64 px, i.e. a quarter of
the size). Index 0 is the identity. Every transformation is applied to the whole batch at
once: 72 tensor operations per batch, no per-image loop.
"""

from __future__ import annotations

import itertools

import torch
from torch.nn import functional as F

__all__ = ["TRANSFORMS", "N_TRANSFORMS", "apply_transform", "all_transforms", "default_shift"]

#: (flip, tx, ty, k) with tx, ty in units of the shift: -1, 0 or +1
TRANSFORMS: tuple[tuple[bool, int, int, int], ...] = tuple(
    itertools.product((False, True), (0, -1, 1), (0, -1, 1), range(4))
)
N_TRANSFORMS = len(TRANSFORMS)


def default_shift(size: int) -> int:
    """Translation in pixels: 8 for 32 px images, 16 for 64 px (a quarter of the side)."""
    return max(size // 4, 1)


def _translate(x: torch.Tensor, tx: int, ty: int) -> torch.Tensor:
    """``out[..., i, j] = x[..., i - ty, j - tx]`` with reflect padding."""
    if tx == 0 and ty == 0:
        return x
    p = max(abs(tx), abs(ty))
    h, w = x.shape[-2:]
    padded = F.pad(x, (p, p, p, p), mode="reflect")
    return padded[..., p - ty : p - ty + h, p - tx : p - tx + w]


def apply_transform(x: torch.Tensor, t: int, shift: int) -> torch.Tensor:
    """Transformation number ``t`` (0..71) of a float ``N x C x H x W`` batch."""
    flip, tx, ty, k = TRANSFORMS[t]
    if flip:
        x = torch.flip(x, dims=(-1,))
    x = _translate(x, tx * shift, ty * shift)
    return torch.rot90(x, k, dims=(-2, -1)) if k else x


def all_transforms(x: torch.Tensor, shift: int | None = None) -> torch.Tensor:
    """All 72 transformations of a square float batch: ``N x 72 x C x H x W``."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"GEOM's rotations need square images, got {tuple(x.shape[-2:])}")
    s = default_shift(x.shape[-1]) if shift is None else shift
    return torch.stack([apply_transform(x, t, s) for t in range(N_TRANSFORMS)], dim=1)
