"""CIFAR-10, CIFAR-100 (20 coarse superclasses) and SVHN, read from files the user supplies.

These cannot be fetched here. Each reader names the exact file it expected and where.

The CIFAR "python version" batches are Python pickles of dicts of numpy arrays. They
are read with a *restricted* unpickler that can only rebuild numpy arrays, lists, dicts
and bytes, so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..exceptions import DatasetNotAvailableError

__all__ = ["load_cifar10", "load_cifar100", "load_svhn", "CIFAR10_CLASSES", "CIFAR100_SUPERCLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_SUPERCLASSES = (
    "aquatic mammals", "fish", "flowers", "food containers", "fruit and vegetables",
    "household electrical devices", "household furniture", "insects", "large carnivores",
    "large man-made outdoor things", "large natural outdoor scenes", "large omnivores and herbivores",
    "medium-sized mammals", "non-insect invertebrates", "people", "reptiles", "small mammals", "trees",
    "vehicles 1", "vehicles 2",
)

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def _read_batch(path: Path) -> dict:
    try:
        d = _ArrayOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{str(path)!r} is not a CIFAR python batch: {e}") from e
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


def _missing(dataset: str, expected: Path, archive: str) -> DatasetNotAvailableError:
    return DatasetNotAvailableError(
        f"{dataset}: expected {str(expected)!r}. {dataset} cannot be downloaded by anomalens here: obtain "
        f"{archive} from its publisher yourself, unpack it, and pass its folder as root= "
        f"(CLI: --data-root)."
    )


def _subfolder(root: Path, name: str, probe: str) -> Path:
    """``root/name`` unless the files lie directly in ``root``."""
    return root if (root / probe).is_file() and not (root / name).is_dir() else root / name


def _images(batch: dict, path: Path) -> np.ndarray:
    data = np.asarray(batch.get("data"))
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{str(path)!r}: 'data' must be uint8 N x 3072, got {data.dtype} {data.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def load_cifar10(root: str | Path):
    folder = _subfolder(Path(root), "cifar-10-batches-py", "data_batch_1")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for n in names:
        if not (folder / n).is_file():
            raise _missing("cifar10", folder / n, "cifar-10-python.tar.gz (the CIFAR-10 python version)")
    batches = [_read_batch(folder / n) for n in names]
    x = [_images(b, folder / n) for b, n in zip(batches, names)]
    y = [np.asarray(b["labels"], dtype=np.int64) for b in batches]
    return np.concatenate(x[:5]), np.concatenate(y[:5]), x[5], y[5]


def load_cifar100(root: str | Path, label_mode: str = "coarse"):
    if label_mode not in ("coarse", "fine"):
        raise ValueError(f"label_mode must be 'coarse' (20 superclasses) or 'fine', got {label_mode!r}")
    folder = _subfolder(Path(root), "cifar-100-python", "train")
    out = []
    for n in ("train", "test"):
        if not (folder / n).is_file():
            raise _missing("cifar100", folder / n, "cifar-100-python.tar.gz (the CIFAR-100 python version)")
        b = _read_batch(folder / n)
        out += [_images(b, folder / n), np.asarray(b[f"{label_mode}_labels"], dtype=np.int64)]
    return tuple(out)


def load_svhn(root: str | Path):
    from scipy.io import loadmat

    folder = Path(root)
    out = []
    for n in ("train_32x32.mat", "test_32x32.mat"):
        if not (folder / n).is_file():
            raise _missing("svhn", folder / n, "train_32x32.mat and test_32x32.mat (SVHN format 2)")
        try:
            m = loadmat(folder / n)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{str(folder / n)!r} is not a MATLAB file: {e}") from e
        X, y = m.get("X"), m.get("y")
        if X is None or y is None or X.ndim != 4 or X.shape[:3] != (32, 32, 3):
            raise ValueError(f"{str(folder / n)!r}: expected X of shape 32 x 32 x 3 x N and y")
        labels = np.asarray(y, dtype=np.int64).reshape(-1)
        labels[labels == 10] = 0  # SVHN stores digit 0 as label 10
        out += [np.ascontiguousarray(X.transpose(3, 0, 1, 2).astype(np.uint8)), labels]
    return tuple(out)
