"""Anomaly maps as pictures: heatmap overlays for ``anomalens score --maps`` and the report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["overlay", "write_overlays"]


def overlay(image: np.ndarray, amap: np.ndarray, vmin: float, vmax: float, alpha: float = 0.5) -> np.ndarray:
    """``H x W x C`` uint8 image + map -> ``H x W x 3`` uint8: the map (resized bilinearly to the
    image when smaller or larger) in matplotlib's "jet" colours (``vmin`` blue .. ``vmax``
    red) blended over the image in grey."""
    from matplotlib import colormaps
    from PIL import Image

    if image.shape[:2] != amap.shape:
        resized = Image.fromarray(np.asarray(amap, np.float32), mode="F").resize(image.shape[1::-1], Image.BILINEAR)
        amap = np.asarray(resized, dtype=np.float64)
    grey = image.astype(np.float64).mean(axis=2, keepdims=True) / 255.0
    norm = np.clip((amap - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    heat = colormaps["jet"](norm)[..., :3]
    return np.rint(255 * ((1 - alpha) * grey + alpha * heat)).astype(np.uint8)


def write_overlays(names: Sequence[str], images: Sequence[np.ndarray], maps: np.ndarray,
                   out_dir: str | os.PathLike) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` per image (images may differ in size from their maps and
    from each other); one colour scale for all (the maps' 1st-99th percentiles), so images
    can be compared. Each file is written atomically."""
    from PIL import Image

    from .._io import atomic_path, ensure_writable_dir

    out = ensure_writable_dir(out_dir, "maps")
    lo, hi = (float(v) for v in np.percentile(maps, [1, 99]))
    paths = []
    for name, img, m in zip(names, images, maps):
        p = out / f"{name}.png"
        with atomic_path(p, what="map overlay") as tmp:
            Image.fromarray(overlay(img, m, lo, hi)).save(tmp, format="PNG")
        paths.append(p)
    return paths
