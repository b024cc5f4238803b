"""Scorers on vectors and network outputs. Works on arrays; imports no other part of anomalens
except its exception types."""

from .knn import INDEX_TYPES, KNNScorer

__all__ = ["INDEX_TYPES", "KNNScorer"]
