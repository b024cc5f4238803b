"""Gaussian kernel density on vectors (seed 001's KD-CAE latent score), saved without pickle.

Density and bandwidth selection are scikit-learn's: :class:`~sklearn.neighbors.KernelDensity`
(Gaussian kernel) and, when no bandwidth is given, :class:`~sklearn.model_selection.GridSearchCV`
maximising the held-out log-likelihood of the *training* vectors over a grid of bandwidths
(``grid`` times the median nearest-neighbour distance between training vectors). A KDE is
its training vectors plus the bandwidth, so that is what is saved.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KDEScorer"]

#: bandwidths tried, as multiples of the median nearest-neighbour distance
DEFAULT_GRID = tuple(np.geomspace(0.1, 10.0, 21).round(4))


class KDEScorer:
    """Score = minus the log density (higher = more anomalous).

    Parameters
    ----------
    bandwidth : float or None
        Kernel width; ``None`` chooses it by ``cv``-fold cross-validated likelihood.
    cv : int
        Folds of the bandwidth search.
    """

    def __init__(self, bandwidth: float | None = None, cv: int = 5, grid: tuple[float, ...] = DEFAULT_GRID):
        self.bandwidth = bandwidth
        self.cv = cv
        self.grid = grid

    def fit(self, X: np.ndarray) -> KDEScorer:
        from scipy.spatial.distance import cdist
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.neighbors import KernelDensity

        X = np.asarray(X, dtype=np.float32).astype(np.float64)  # what is saved is what is fitted
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(f"KDE needs at least 2 vectors (N x d), got shape {X.shape}")
        bw = self.bandwidth
        if bw is None:
            d = cdist(X, X)
            np.fill_diagonal(d, np.inf)
            scale = float(np.median(d.min(axis=1)))
            scale = scale if scale > 0 else 1.0
            cands = [g * scale for g in self.grid]
            folds = KFold(min(self.cv, len(X)), shuffle=True, random_state=0)
            search = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": cands}, cv=folds).fit(X)
            bw = float(search.best_params_["bandwidth"])
        elif not bw > 0:
            raise ValueError(f"bandwidth must be > 0, got {bw}")
        self.bandwidth_ = float(bw)
        self.kde_ = KernelDensity(kernel="gaussian", bandwidth=self.bandwidth_).fit(X)
        self.vectors_ = X.astype(np.float32)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Minus the log density of each vector."""
        return -self.kde_.score_samples(np.asarray(X, dtype=np.float64))

    def get_state(self) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors_, "bandwidth": np.array([self.bandwidth_])}

    def set_state(self, state: dict[str, np.ndarray]) -> KDEScorer:
        self.bandwidth = float(state["bandwidth"][0])
        return self.fit(state["vectors"])
