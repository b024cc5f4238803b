"""The one input checker: anything a detector accepts -> float32 ``N x C x H x W`` in [0, 1]."""

from __future__ import annotations

import numpy as np

__all__ = ["check_images", "to_float_nchw"]


def check_images(
    X: np.ndarray,
    *,
    name: str = "X",
    min_samples: int = 1,
    expected_shape: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Validate an ``N x H x W x C`` image array and return it unchanged (uint8 or float).

    Accepted: uint8 (0-255) or floating point in [0, 1], 4 dimensions, C in {1, 3}.
    ``expected_shape`` is the fitted ``(H, W, C)``; a different shape is an error.
    """
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}")
    if X.ndim != 4:
        hint = " (add a channel axis: X[..., None])" if X.ndim == 3 else ""
        raise ValueError(f"{name} must have 4 dimensions N x H x W x C, got shape {X.shape}{hint}")
    n, h, w, c = X.shape
    if c not in (1, 3):
        raise ValueError(
            f"{name} must have 1 or 3 channels in the last axis (N x H x W x C), got shape {X.shape}"
        )
    if n < min_samples:
        raise ValueError(f"{name} has {n} image(s); at least {min_samples} needed")
    if h < 1 or w < 1:
        raise ValueError(f"{name} has empty images: shape {X.shape}")
    if X.dtype == np.uint8:
        pass
    elif np.issubdtype(X.dtype, np.floating):
        if not np.all(np.isfinite(X)):
            bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"float {name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    else:
        raise TypeError(f"{name} must be uint8 (0-255) or float in [0, 1], got dtype {X.dtype}")
    if expected_shape is not None and tuple(X.shape[1:]) != tuple(expected_shape):
        raise ValueError(
            f"{name} has images of shape H x W x C = {tuple(X.shape[1:])}, but the detector was fitted "
            f"on {tuple(expected_shape)}"
        )
    return X


def to_float_nchw(X: np.ndarray) -> np.ndarray:
    """Checked ``N x H x W x C`` (uint8 or float) -> float32 contiguous ``N x C x H x W`` in [0, 1]."""
    Xf = X.astype(np.float32) / 255.0 if X.dtype == np.uint8 else X.astype(np.float32, copy=False)
    return np.ascontiguousarray(Xf.transpose(0, 3, 1, 2))
