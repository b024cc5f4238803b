"""Evaluation protocols: which training images a detector sees and how the test set is labelled.

Labels are 1 = anomalous, 0 = normal. A :class:`Split` gives the detector's training
images only; test labels stay with the runner.

* ``one_vs_rest`` (seeds 000, 002, 004): train on the training images of class c; test on
  the whole test set, class c normal, every other class anomalous.
* ``leave_one_out`` (seed 003): train on the training images of every class but c; test on
  the whole test set, class c anomalous.
* ``folder`` (MVTec AD): the split as given, ``train/good`` for training.
* ``ood:<other>`` (seed 003's cross-dataset check, :func:`make_ood_split`): train on every
  training image of the dataset; test on its test set (normal) plus the test set of another
  dataset of the same image shape (anomalous).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import Dataset

__all__ = ["Split", "PROTOCOLS", "make_split", "make_ood_split", "protocol_classes", "validation_anomalies"]

PROTOCOLS = ("one_vs_rest", "leave_one_out", "folder")


@dataclass
class Split:
    protocol: str
    normal_class: str  # the class the row is about (c), or the folder category
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray  # 1 anomalous, 0 normal
    test_masks: np.ndarray | None = None
    test_defects: list[str] | None = None  # folder datasets: each test image's defect folder ("good" if normal)


def _check_protocol(protocol: str, ds: Dataset) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}")
    if (protocol == "folder") != ds.is_folder:
        raise ValueError(
            f"protocol {protocol!r} does not apply to dataset {ds.name!r}: use 'folder' for folder datasets "
            f"and 'one_vs_rest' or 'leave_one_out' for class-labelled ones"
        )


def protocol_classes(ds: Dataset, protocol: str) -> list[int]:
    """The class indices a protocol iterates over (one row each)."""
    _check_protocol(protocol, ds)
    return [0] if protocol == "folder" else list(range(len(ds.class_names)))


def make_split(ds: Dataset, protocol: str, c: int = 0) -> Split:
    _check_protocol(protocol, ds)
    if protocol == "folder":
        return Split(protocol, ds.class_names[0], ds.x_train, ds.x_test, ds.y_test.astype(np.int64), ds.test_masks,
                     ds.test_defects)
    if not 0 <= c < len(ds.class_names):
        raise ValueError(f"class {c} out of range for {ds.name!r} (0..{len(ds.class_names) - 1})")
    if protocol == "one_vs_rest":
        x_train = ds.x_train[ds.y_train == c]
        y_test = (ds.y_test != c).astype(np.int64)
    else:
        x_train = ds.x_train[ds.y_train != c]
        y_test = (ds.y_test == c).astype(np.int64)
    return Split(protocol, str(c), x_train, ds.x_test, y_test)


def make_ood_split(ds: Dataset, other: Dataset) -> Split:
    """Train on all of ``ds``'s training images; test on ``ds``'s test images (0) + ``other``'s (1)."""
    if ds.is_folder or other.is_folder:
        raise ValueError("the out-of-distribution check needs two class-labelled datasets, not folder datasets")
    if ds.x_test.shape[1:] != other.x_test.shape[1:]:
        raise ValueError(
            f"out-of-distribution dataset {other.name!r} has images of shape {other.x_test.shape[1:]}, "
            f"{ds.name!r} has {ds.x_test.shape[1:]}; they must match"
        )
    x_test = np.concatenate([ds.x_test, other.x_test])
    y_test = np.r_[np.zeros(len(ds.x_test), np.int64), np.ones(len(other.x_test), np.int64)]
    return Split(f"ood:{other.name}", "all", ds.x_train, x_test, y_test)


def validation_anomalies(ds: Dataset, protocol: str, c: int, seed: int, n: int) -> tuple[np.ndarray, int]:
    """Seed 004's weakly-supervised validation set for the run (class ``c``, ``seed``): ``n``
    images of **one** other class, drawn from the **training** split (the test split is never
    touched), the class and the images drawn with ``(seed, c)``. Returns (images, class)."""
    if protocol != "one_vs_rest" or ds.is_folder:
        raise ValueError("labelled validation anomalies come from another class of the training split: "
                         f"protocol 'one_vs_rest' on a class-labelled dataset (got {protocol!r} on {ds.name!r})")
    if n < 1:
        raise ValueError(f"the number of validation anomalies must be >= 1, got {n}")
    rng = np.random.default_rng([int(seed), int(c), 4004])
    others = [k for k in range(len(ds.class_names)) if k != c]
    k = int(rng.choice(others))
    pool = np.flatnonzero(ds.y_train == k)
    take = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return ds.x_train[take], k
