"""Scorers on vectors and network outputs. Works on arrays; imports no other part of anomalens
except its exception types."""

from .dirichlet import dirichlet_log_score, fit_dirichlet
from .kde import KDEScorer
from .knn import INDEX_TYPES, KNNScorer
from .ocsvm import OCSVMScorer

__all__ = ["INDEX_TYPES", "KDEScorer", "KNNScorer", "OCSVMScorer", "fit_dirichlet", "dirichlet_log_score"]
