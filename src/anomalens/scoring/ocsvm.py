"""One-class SVM scoring on vectors (seed 000's CAE-OCSVM baseline), saved without pickle.

Fitting is scikit-learn's :class:`~sklearn.svm.OneClassSVM`. The fitted model is kept as
plain arrays (support vectors, dual coefficients, intercept, gamma), and scores are
``-(dual_coef @ rbf_kernel(support_vectors, X) + intercept)``, which is exactly
``-OneClassSVM.decision_function(X)`` (higher = more anomalous), so a saved scorer needs no
refit and no pickle.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OCSVMScorer"]


class OCSVMScorer:
    """RBF one-class SVM.

    Parameters
    ----------
    nu : float
        Upper bound on the fraction of training errors (seed 000: 0.5, scikit-learn's default).
    gamma : float or {"auto", "scale"}
        RBF width; ``"auto"`` = 1 / n_features (seed 000).
    """

    def __init__(self, nu: float = 0.5, gamma: float | str = "auto"):
        self.nu = nu
        self.gamma = gamma

    def fit(self, X: np.ndarray) -> OCSVMScorer:
        from sklearn.svm import OneClassSVM

        X = np.asarray(X, dtype=np.float64)
        svm = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(X)
        self.support_vectors_ = svm.support_vectors_
        self.dual_coef_ = svm.dual_coef_.ravel()
        self.intercept_ = float(svm.intercept_[0])
        self.gamma_ = float(svm._gamma)
        return self

    def score(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        from sklearn.metrics.pairwise import rbf_kernel

        X = np.asarray(X, dtype=np.float64)
        out = np.empty(len(X))
        for i in range(0, len(X), batch_size):
            k = rbf_kernel(self.support_vectors_, X[i : i + batch_size], gamma=self.gamma_)
            out[i : i + batch_size] = -(self.dual_coef_ @ k + self.intercept_)
        return out

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            "support_vectors": self.support_vectors_,
            "dual_coef": self.dual_coef_,
            "intercept_gamma": np.array([self.intercept_, self.gamma_]),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> OCSVMScorer:
        self.support_vectors_ = state["support_vectors"]
        self.dual_coef_ = state["dual_coef"]
        self.intercept_, self.gamma_ = (float(v) for v in state["intercept_gamma"])
        return self
