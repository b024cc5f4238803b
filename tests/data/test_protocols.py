import numpy as np
import pytest

from anomalens.data import Dataset, make_split


@pytest.fixture
def ds():
    rng = np.random.default_rng(0)
    return Dataset("toy", rng.integers(0, 255, (30, 4, 4, 1), dtype=np.uint8), np.arange(30) % 3,
                   rng.integers(0, 255, (12, 4, 4, 1), dtype=np.uint8), np.arange(12) % 3, ("a", "b", "c"))


def test_one_vs_rest(ds):
    s = make_split(ds, "one_vs_rest", 1)
    assert len(s.x_train) == 10
    np.testing.assert_array_equal(s.x_train, ds.x_train[ds.y_train == 1])
    assert len(s.x_test) == 12 and s.y_test.tolist() == [1, 0, 1] * 4


def test_leave_one_out(ds):
    s = make_split(ds, "leave_one_out", 2)
    assert len(s.x_train) == 20
    np.testing.assert_array_equal(s.y_test, (ds.y_test == 2).astype(int))


def test_bad_protocol_and_class(ds):
    with pytest.raises(ValueError, match="unknown protocol"):
        make_split(ds, "one_vs_all", 0)
    with pytest.raises(ValueError, match="out of range"):
        make_split(ds, "one_vs_rest", 3)


def test_registry_class_counts_match_the_class_names():
    from anomalens.data.catsvsdogs import CATS_VS_DOGS_CLASSES
    from anomalens.data.cifar import CIFAR10_CLASSES, CIFAR100_SUPERCLASSES
    from anomalens.data.datasets import DATASETS
    from anomalens.data.mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES
    from anomalens.data.synthetic_parts import CATEGORIES

    names = {"mnist": MNIST_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES,
             "cifar100": CIFAR100_SUPERCLASSES, "svhn": range(10), "catsvsdogs": CATS_VS_DOGS_CLASSES}
    assert {k: DATASETS[k].n_classes for k in names} == {k: len(v) for k, v in names.items()}
    assert DATASETS["synthetic_parts"].n_classes == len(CATEGORIES) and DATASETS["folder"].n_classes is None
