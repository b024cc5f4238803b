import numpy as np
import pytest

from anomalens.exceptions import NotFittedError
from anomalens.scoring.knn import KNNScorer


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(500, 64)).astype(np.float32), rng.normal(size=(50, 64)).astype(np.float32)


def brute(train, query):
    d = ((query[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    return d.min(1)


def test_flat_is_exact_squared_l2(data):
    train, query = data
    s = KNNScorer("flat").fit(train).score(query)
    np.testing.assert_allclose(s, brute(train, query), rtol=1e-4)


def test_pq_approximates_and_ranks_like_exact(data):
    train, query = data
    exact = brute(train, query)
    for index in ("pq", "pq_fastscan"):
        s = KNNScorer(index, m=16, nbits=4).fit(train).score(query)
        assert np.corrcoef(s, exact)[0, 1] > 0.5, index
        assert not np.allclose(s, exact)


def test_fastscan_uses_the_same_codes_as_pq(data):
    train, query = data
    pq = KNNScorer("pq", m=16).fit(train)
    fs = KNNScorer("pq_fastscan", m=16).fit(train)
    # fast-scan quantizes the look-up tables, so distances agree closely, not exactly
    a, b = pq.score(query), fs.score(query)
    assert np.abs(a - b).max() / a.mean() < 0.05


def test_training_scores_exclude_self(data):
    train, _ = data
    sc = KNNScorer("flat").fit(train)
    loo = sc.score_training(train)
    d = ((train[:, None] - train[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(loo, d.min(1), rtol=1e-4)
    assert (loo > 0).all()


def test_duplicates_give_zero_training_score():
    x = np.repeat(np.arange(20, dtype=np.float32)[:, None], 4, axis=1)
    x = np.concatenate([x, x[:1]])
    loo = KNNScorer("flat").fit(x).score_training(x)
    assert loo[0] == 0 and loo[-1] == 0 and (loo[1:-1] > 0).all()


def test_dimension_padding_keeps_exact_distances(data):
    train, query = data
    sc = KNNScorer("pq", m=24).fit(train[:, :60])  # 60 is not a multiple of 24 -> padded to 72
    assert sc.index_.d == 72 and sc.score(query[:, :60]).shape == (50,)


def test_serialisation_roundtrip(data):
    train, query = data
    sc = KNNScorer("pq", m=16, seed=3).fit(train)
    back = KNNScorer("pq", m=16).from_bytes(sc.to_bytes(), 64)
    np.testing.assert_array_equal(back.score(query), sc.score(query))


def test_errors(data):
    train, query = data
    with pytest.raises(NotFittedError):
        KNNScorer().score(query)
    with pytest.raises(ValueError, match="dimension 32, the index was built on 64"):
        KNNScorer("flat").fit(train).score(query[:, :32])
    with pytest.raises(ValueError, match="at least 16 training vectors"):
        KNNScorer("pq", m=8).fit(train[:10])
    with pytest.raises(ValueError, match="index must be one of"):
        KNNScorer("hnsw")
    with pytest.raises(ValueError, match="nbits=4"):
        KNNScorer("pq_fastscan", nbits=8)


def test_two_dim_subvectors_need_three_bits():
    x = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="nbits >= 3"):
        KNNScorer(index="pq", m=4, nbits=2).fit(x)
    assert KNNScorer(index="pq", m=4, nbits=3).fit(x).score(x[:3]).shape == (3,)


def test_self_distances_are_what_a_search_of_an_indexed_vector_returns(data):
    train, _ = data
    assert not KNNScorer("flat").fit(train).self_distances(train[:20]).any()
    pq = KNNScorer("pq", m=16).fit(train)
    own = pq.self_distances(train)
    np.testing.assert_allclose(own, pq.score(train), rtol=1e-4)  # exact: a vector's own code is its nearest
    assert (own > 0).all()
    fast = KNNScorer("pq_fastscan", m=16).fit(train)  # same codes; the search rounds its look-up tables
    np.testing.assert_allclose(fast.self_distances(train), fast.score(train), rtol=0.05, atol=0.05 * own.mean())
    with pytest.raises(ValueError, match="dimension"):
        pq.self_distances(train[:, :10])


def test_blockwise_checks_and_quantization_errors_cover_every_row(data, monkeypatch):
    import anomalens.scoring.knn as knn

    train, _ = data
    pq = KNNScorer("pq", m=16).fit(train)
    whole = pq.self_distances(train)  # 500 rows: one block
    monkeypatch.setattr(knn, "_BLOCK", 64)  # 8 blocks, the last one short
    np.testing.assert_array_equal(pq.self_distances(train), whole)
    np.testing.assert_allclose(whole, pq.score(train), rtol=1e-4)
    bad = train.copy()
    bad[-1, 3] = np.nan  # in the last, short block only
    with pytest.raises(ValueError, match="NaN or infinite"):
        pq.score(bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        KNNScorer("flat").fit(bad)
