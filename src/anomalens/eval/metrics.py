"""Image-level metrics, all from scikit-learn. Labels: 1 = anomalous. Scores: higher = more anomalous."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

__all__ = ["auroc", "aupr_anomaly", "aupr_normal", "fpr_at_tpr", "f1_at_threshold", "f1_oracle", "evaluate"]


def _check(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} labels but scores has {s.size} values")
    if not set(np.unique(y)).issubset({0, 1}):
        raise ValueError("y_true must hold 0 (normal) / 1 (anomalous) labels")
    if len(np.unique(y)) < 2:
        raise ValueError("y_true must contain both normal (0) and anomalous (1) samples")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    return y, s


def auroc(y_true, scores) -> float:
    y, s = _check(y_true, scores)
    return float(roc_auc_score(y, s))


def aupr_anomaly(y_true, scores) -> float:
    """Average precision with anomalies as the positive class ("AUPR-out" in seed 002)."""
    y, s = _check(y_true, scores)
    return float(average_precision_score(y, s))


def aupr_normal(y_true, scores) -> float:
    """Average precision with normals as the positive class ("AUPR-in" in seed 002)."""
    y, s = _check(y_true, scores)
    return float(average_precision_score(1 - y, -s))


def fpr_at_tpr(y_true, scores, tpr: float = 0.95) -> float:
    """False-positive rate at the first threshold that detects ``tpr`` of the anomalies."""
    y, s = _check(y_true, scores)
    fpr, tprs, _ = roc_curve(y, s)
    return float(fpr[np.searchsorted(tprs, tpr, side="left")])


def f1_at_threshold(y_true, scores, threshold: float) -> float:
    """F1 (anomalies positive) of the decision ``score > threshold``, the detector's own threshold."""
    y, s = _check(y_true, scores)
    return float(f1_score(y, (s > threshold).astype(np.int64), zero_division=0))


def f1_oracle(y_true, scores) -> float:
    """Best F1 over all thresholds *chosen on the test labels*: an oracle number, not a result
    a user could obtain; reported only as such."""
    y, s = _check(y_true, scores)
    p, r, _ = precision_recall_curve(y, s)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return float(f.max())


def evaluate(y_true, scores, threshold: float | None = None) -> dict[str, float]:
    """All image-level metrics of one run, as fractions in [0, 1]."""
    out = {
        "auroc": auroc(y_true, scores),
        "aupr_anomaly": aupr_anomaly(y_true, scores),
        "aupr_normal": aupr_normal(y_true, scores),
        "fpr_at_95tpr": fpr_at_tpr(y_true, scores, 0.95),
        "f1_oracle": f1_oracle(y_true, scores),
    }
    if threshold is not None:
        y, s = _check(y_true, scores)
        pred = (s > threshold).astype(np.int64)
        out["f1"] = f1_at_threshold(y_true, scores, threshold)
        out["precision"] = float(precision_score(y, pred, zero_division=0))
        out["recall"] = float(recall_score(y, pred, zero_division=0))
    return out
