"""CIFAR-10 / CIFAR-100 / SVHN readers on small files written in the published formats."""

import pickle

import numpy as np
import pytest
from scipy.io import savemat

from anomalens.data import load_dataset
from anomalens.exceptions import DatasetNotAvailableError


def _batch(n, rng, extra):
    d = {b"batch_label": b"testing", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
         b"filenames": [b"x.png"] * n}
    d.update(extra)
    return d


def write_cifar10(root, n=5, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        b = _batch(n, rng, {b"labels": list(rng.integers(0, 10, n))})
        batches[name] = b
        with open(folder / name, "wb") as f:
            pickle.dump(b, f, protocol=2)
    return batches


def write_cifar100(root, n_train=8, n_test=4, seed=1):
    """``root/cifar-100-python/{train,test}``; coarse labels 0, 1, 2, ... in order."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        b = _batch(n, rng, {b"fine_labels": list(rng.integers(0, 100, n)), b"coarse_labels": [i % 20 for i in range(n)]})
        with open(folder / name, "wb") as f:
            pickle.dump(b, f, protocol=2)


def test_cifar10_reader(tmp_path):
    batches = write_cifar10(tmp_path)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.x_train.shape == (25, 32, 32, 3) and ds.x_test.shape == (5, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8 and len(ds.class_names) == 10
    # channel-planar rows -> H x W x C: red plane first
    first = batches["data_batch_1"][b"data"][0]
    np.testing.assert_array_equal(ds.x_train[0, :, :, 0].ravel(), first[:1024])
    np.testing.assert_array_equal(ds.x_train[0, :, :, 2].ravel(), first[2048:])
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][b"labels"])


def test_cifar100_coarse_superclasses(tmp_path):
    write_cifar100(tmp_path)
    ds = load_dataset("cifar100", tmp_path)
    assert len(ds.class_names) == 20 and ds.class_names[13] == "non-insect invertebrates"
    np.testing.assert_array_equal(ds.y_test, [0, 1, 2, 3])


def test_svhn_reader_maps_label_10_to_0(tmp_path):
    rng = np.random.default_rng(2)
    for name, n in (("train_32x32.mat", 6), ("test_32x32.mat", 3)):
        X = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = np.array([[10], [1], [2], [3], [4], [5]][:n], dtype=np.uint8)
        savemat(tmp_path / name, {"X": X, "y": y})
    ds = load_dataset("svhn", tmp_path)
    assert ds.x_train.shape == (6, 32, 32, 3)
    assert ds.y_train[0] == 0 and ds.y_test.tolist() == [0, 1, 2]


@pytest.mark.parametrize("name, expected", [
    ("cifar10", "data_batch_1"), ("cifar100", "cifar-100-python"), ("svhn", "train_32x32.mat")])
def test_missing_user_dataset_says_what_and_where(tmp_path, name, expected):
    with pytest.raises(DatasetNotAvailableError, match=f"{expected}.*obtain") as e:
        load_dataset(name, tmp_path / "nowhere")
    assert "nowhere" in str(e.value)


def test_crafted_pickle_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match=r"refusing to load (__builtin__|builtins)\.print"):
        load_dataset("cifar10", tmp_path)
