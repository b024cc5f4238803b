"""Greedy k-center coreset selection (PatchCore's memory bank)."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from anomalens.scoring.coreset import greedy_coreset


def _covering_radius(x, idx):
    return cdist(x, x[idx]).min(1).max()


def test_selection_is_farthest_point_order_and_covers_every_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 50, (6, 5))
    sizes = (1000, 5, 5, 5, 5, 5)  # one big cluster and five small far ones: random subsets miss those
    x = np.concatenate([c + rng.normal(0, 1, (n, 5)) for c, n in zip(centres, sizes)])
    label = np.repeat(np.arange(6), sizes)
    idx = greedy_coreset(x, 6, proj_dim=None, seed=0)
    assert len(set(idx)) == 6 and sorted(label[idx]) == list(range(6))  # one point per cluster
    # each new point is the one farthest from those chosen before it (the definition, by brute force)
    for i in range(1, 6):
        assert idx[i] == np.argmax(cdist(x, x[idx[:i]]).min(1))
    # so every point lies near a chosen one; a random subset of the same size leaves clusters out
    greedy = _covering_radius(x, greedy_coreset(x, 20, proj_dim=None, seed=1))
    random = np.median([_covering_radius(x, rng.choice(len(x), 20, replace=False)) for _ in range(20)])
    assert greedy < 5 < 20 < random


def test_projected_selection_still_covers_and_is_seeded():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 256)).astype(np.float32) * np.r_[np.full(8, 10.0), np.ones(248)].astype(np.float32)
    a = greedy_coreset(x, 100, proj_dim=32, seed=3)
    np.testing.assert_array_equal(a, greedy_coreset(x, 100, proj_dim=32, seed=3))
    assert len(set(a)) == 100
    random = _covering_radius(x, rng.choice(len(x), 100, replace=False))
    assert _covering_radius(x, a) < random
    assert len(greedy_coreset(x, len(x), proj_dim=32)) == len(x)  # all of them, each once
    assert len(set(greedy_coreset(x[:50], 50, proj_dim=32))) == 50


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n must be between 1 and the number of vectors"):
        greedy_coreset(np.zeros((5, 2)), 6)
    with pytest.raises(ValueError, match="N x D"):
        greedy_coreset(np.zeros(5), 1)
