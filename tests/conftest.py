"""Shared fixtures: small generated images and an MVTec-style folder tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def make_images(n: int, size: int = 16, channels: int = 1, anomalous: bool = False, seed: int = 0) -> np.ndarray:
    """Normal images: one soft blob near the centre plus noise. Anomalies: a bright bar added."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size, channels), dtype=np.uint8)
    for i in range(n):
        cy, cx = size / 2 + rng.normal(0, 1.0, 2)
        img = 160 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 6) ** 2))
        img = img + rng.normal(0, 6, img.shape)
        if anomalous:
            r = rng.integers(1, size - 4)
            img[r: r + 3, 1:-1] = 255
        out[i] = np.clip(img, 0, 255).astype(np.uint8)[..., None].repeat(channels, axis=2)
    return out


def write_png(path: Path, arr: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    a = arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
    Image.fromarray(a).save(path)
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG file claiming ``width`` x ``height`` 8-bit gray pixels, with an empty IDAT (no pixel data)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def make_mvtec_tree(root: Path, category: str = "widget", n_train: int = 24, n_good: int = 6, n_bad: int = 6,
                    size: int = 16, channels: int = 1) -> Path:
    """Write ``root/category/{train/good,test/good,test/scratch,ground_truth/scratch}``."""
    base = root / category
    for i, img in enumerate(make_images(n_train, size, channels, seed=1)):
        write_png(base / "train" / "good" / f"{i:03d}.png", img)
    for i, img in enumerate(make_images(n_good, size, channels, seed=2)):
        write_png(base / "test" / "good" / f"{i:03d}.png", img)
    for i, img in enumerate(make_images(n_bad, size, channels, anomalous=True, seed=3)):
        write_png(base / "test" / "scratch" / f"{i:03d}.png", img)
        mask = (img[..., 0] == 255).astype(np.uint8) * 255
        write_png(base / "ground_truth" / "scratch" / f"{i:03d}_mask.png", mask[..., None])
    return root


@pytest.fixture
def images():
    return make_images(64, seed=0)


@pytest.fixture
def anomalies():
    return make_images(16, anomalous=True, seed=9)


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    return make_mvtec_tree(tmp_path / "mvtec")


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch) -> Path:
    """Point the dataset cache at an empty temporary folder."""
    d = tmp_path / "cache"
    monkeypatch.setenv("ANOMALENS_DATA", str(d))
    return d
