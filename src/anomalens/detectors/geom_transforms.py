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
from functools import lru_cache

import torch

from torch.nn import functional as F

__all__ = [
    "TRANSFORMS", "N_TRANSFORMS", "apply_transform", "transform_table", "transform_batch", "all_transforms", "default_shift",
]

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


@lru_cache(maxsize=8)
def _table_cpu(size: int, shift: int) -> torch.Tensor:
    pixels = torch.arange(size * size, dtype=torch.float64).reshape(1, 1, size, size)
    return torch.stack([apply_transform(pixels, t, shift).reshape(-1) for t in range(N_TRANSFORMS)]).long()


def transform_table(size: int, shift: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """``72 x size**2`` long tensor: entry ``[t, o]`` is the input pixel (row-major) that
    transformation ``t`` puts at output pixel ``o`` of a ``size x size`` image."""
    s = default_shift(size) if shift is None else shift
    return _table_cpu(int(size), int(s)).to(device)


def _check_square(x: torch.Tensor) -> int:
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"GEOM's rotations need square images, got {tuple(x.shape[-2:])}")
    return int(x.shape[-1])


def transform_batch(x: torch.Tensor, t: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Image ``i`` of the ``N x C x H x W`` batch ``x`` under transformation ``t[i]``
    (``table`` from :func:`transform_table` for this size, on ``x``'s device)."""
    n, c, h, w = x.shape
    idx = table[t]  # N x HW
    return x.reshape(n, c, h * w).gather(2, idx[:, None, :].expand(n, c, h * w)).reshape(n, c, h, w)


def all_transforms(x: torch.Tensor, shift: int | None = None, table: torch.Tensor | None = None) -> torch.Tensor:
    """All 72 transformations of a square float batch: ``N x 72 x C x H x W``."""
    size = _check_square(x)
    if table is None:
        table = transform_table(size, shift, x.device)
    n, c = x.shape[:2]
    out = x.reshape(n, c, size * size)[:, :, table]  # N x C x 72 x HW
    return out.permute(0, 2, 1, 3).reshape(n, N_TRANSFORMS, c, size, size)
