"""Dirichlet MLE (GEOM, seed 002): recovers known parameters; inverse digamma inverts digamma."""

import numpy as np
import pytest
from scipy.special import digamma
from scipy.stats import dirichlet

from anomalens.scoring.dirichlet import dirichlet_log_score, fit_dirichlet, inverse_digamma


def test_inverse_digamma_inverts_digamma():
    x = np.array([1e-3, 0.05, 0.5, 1.0, 3.0, 40.0, 1e4])
    np.testing.assert_allclose(inverse_digamma(digamma(x)), x, rtol=1e-10)


@pytest.mark.parametrize("alpha", [[0.3, 0.5, 2.0], [5.0, 1.0, 1.0, 12.0], [0.5] * 4 + [3.0]])
def test_fit_recovers_known_alphas(alpha):
    alpha = np.array(alpha)
    p = np.random.default_rng(0).dirichlet(alpha, size=20000)
    np.testing.assert_allclose(fit_dirichlet(p), alpha, rtol=0.05)


def test_fit_is_the_likelihood_maximum():
    p = np.random.default_rng(1).dirichlet([1.5, 0.7, 4.0], size=3000)
    a = fit_dirichlet(p)
    ll = lambda al: dirichlet.logpdf(p.T, al).sum()  # noqa: E731
    for step in (1.02, 0.98):
        assert ll(a) > ll(a * step)
        assert ll(a) > ll(a * np.array([step, 1, 1]))


def test_score_ranks_typical_rows_higher_and_survives_zeros():
    alpha = np.array([20.0, 1.0, 1.0])
    typical, odd = np.array([[0.9, 0.05, 0.05]]), np.array([[0.05, 0.9, 0.05]])
    assert dirichlet_log_score(alpha, typical) > dirichlet_log_score(alpha, odd)
    assert np.isfinite(dirichlet_log_score(alpha, np.array([[1.0, 0.0, 0.0]]))).all()
    with pytest.raises(ValueError, match="N x K"):
        fit_dirichlet(np.ones(3))


def test_fit_from_means_does_all_rows_at_once_like_one_at_a_time():
    from anomalens.scoring.dirichlet import fit_dirichlet_means, smooth

    rng = np.random.default_rng(3)
    alphas = [np.array([0.5, 2.0, 8.0]), np.array([30.0, 1.0, 0.2]), np.array([3.0, 3.0, 3.0])]
    raw = np.stack([rng.dirichlet(a, size=4000) for a in alphas])  # rows x N x K
    ps = smooth(raw)
    together = fit_dirichlet_means(ps.mean(axis=1), np.log(ps).mean(axis=1))
    for row, p in zip(together, raw):
        np.testing.assert_allclose(row, fit_dirichlet(p), rtol=1e-6)
    np.testing.assert_allclose(together, np.stack(alphas), rtol=0.1)
