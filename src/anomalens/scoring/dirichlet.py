"""Dirichlet maximum-likelihood estimation and GEOM's Dirichlet normality score (seed 002).

For each transformation, GEOM fits a Dirichlet distribution to the classifier's softmax
outputs on the normal training images and scores a test image by its log-likelihood up to
constants, ``sum_j (alpha_j - 1) log p_j``. The fit is Minka's fixed-point iteration
(``psi(alpha_k) = psi(sum alpha) + mean_n log p_nk``, "Estimating a Dirichlet distribution",
2000), started from Wicker et al.'s (2008) approximation of the precision ``sum alpha``,
with the inverse digamma computed by Newton steps from Minka's initial guess. scipy
supplies digamma and trigamma; it has no inverse digamma.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, polygamma

__all__ = ["inverse_digamma", "fit_dirichlet", "dirichlet_log_score", "EPS"]

#: added to probabilities before taking logs (softmax outputs can underflow to 0)
EPS = 1e-12
_EULER = -float(digamma(1.0))


def inverse_digamma(y: np.ndarray, newton_steps: int = 5) -> np.ndarray:
    """``x`` with ``digamma(x) = y`` (elementwise), Minka's start + Newton steps."""
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    low = y < -2.22
    x = np.exp(y) + 0.5
    x[low] = -1.0 / (y[low] + _EULER)
    for _ in range(newton_steps):
        x = x - (digamma(x) - y) / polygamma(1, x)
    return x


def _wicker_precision(p: np.ndarray, log_p: np.ndarray) -> float:
    """Wicker et al.'s approximation of ``sum alpha`` from samples ``p`` (N x K)."""
    n, k = p.shape
    f = p.mean(axis=0)
    denom = n * np.sum(f * np.log(f)) - np.sum(f * log_p.sum(axis=0))
    return float(n * (k - 1) * _EULER / denom) if denom > 0 else float(k)


def fit_dirichlet(p: np.ndarray, *, max_iter: int = 1000, tol: float = 1e-9) -> np.ndarray:
    """Maximum-likelihood Dirichlet parameters ``alpha`` (K,) of the rows of ``p`` (N x K, on the simplex).

    ``EPS`` is added to every probability first (as in the score), so entries far below it
    (parameters well under 0.1) are estimated from the smoothed values."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 2 or p.shape[1] < 2:
        raise ValueError(f"p must be N x K with N >= 2 and K >= 2, got shape {p.shape}")
    p = p + EPS
    p = p / p.sum(axis=1, keepdims=True)
    log_p = np.log(p)
    mean_log = log_p.mean(axis=0)
    alpha = p.mean(axis=0) * _wicker_precision(p, log_p)
    for _ in range(max_iter):
        new = inverse_digamma(digamma(alpha.sum()) + mean_log)
        if np.sqrt(np.sum((new - alpha) ** 2)) < tol:
            return new
        alpha = new
    return alpha


def dirichlet_log_score(alpha: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``sum_j (alpha_j - 1) log(p_j + EPS)`` per row of ``p``: GEOM's normality term (higher = more normal)."""
    return (np.log(np.asarray(p, dtype=np.float64) + EPS) * (np.asarray(alpha) - 1.0)).sum(axis=-1)
