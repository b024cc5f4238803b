"""Metrics. Labels: 1 = anomalous. Scores: higher = more anomalous.

Image level: all from scikit-learn. Pixel level (where masks exist): pixel AUROC
(scikit-learn on every pixel) and AUPRO, the MVTec AD evaluation's area under the
per-region-overlap curve up to 30 % false-positive rate (no library we depend on has it).
"""

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

__all__ = ["auroc", "aupr_anomaly", "aupr_normal", "fpr_at_tpr", "f1_at_threshold", "f1_oracle", "evaluate",
           "pixel_auroc", "aupro", "evaluate_maps", "evaluate_by_defect"]


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


def _check_maps(masks, maps) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(masks).astype(bool)
    s = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3 or m.shape != s.shape:
        raise ValueError(f"masks and maps must both be N x H x W and equal in shape, got {m.shape} and {s.shape}")
    if not m.any() or m.all():
        raise ValueError("masks must contain both anomalous and normal pixels")
    if not np.all(np.isfinite(s)):
        raise ValueError("anomaly maps contain NaN or infinite values")
    return m, s


def pixel_auroc(masks, maps) -> float:
    """ROC AUC over every pixel of every test image (mask 1 = anomalous pixel)."""
    m, s = _check_maps(masks, maps)
    return float(roc_auc_score(m.ravel(), s.ravel()))


def aupro(masks, maps, max_fpr: float = 0.3) -> float:
    """Normalised area under the per-region-overlap (PRO) curve for FPR in [0, ``max_fpr``].

    As in the MVTec AD evaluation: each connected region of a ground-truth mask (8-connected)
    counts once, whatever its size; PRO(t) is the mean over regions of the share of the
    region's pixels scoring >= t; FPR(t) is the share of normal pixels (all images) scoring
    >= t. The curve is computed exactly at every distinct score, cut at ``max_fpr`` by
    linear interpolation, integrated with the trapezoid rule and divided by ``max_fpr``
    (1.0 = perfect).
    """
    from scipy import ndimage
    from sklearn.metrics import auc

    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    m, s = _check_maps(masks, maps)
    labels = np.zeros(m.shape, np.int64)
    n_regions = 0
    for i in range(len(m)):
        lab, k = ndimage.label(m[i], structure=np.ones((3, 3)))
        labels[i] = np.where(lab > 0, lab + n_regions, 0)
        n_regions += k
    sizes = np.bincount(labels.ravel(), minlength=n_regions + 1).astype(np.float64)
    flat = labels.ravel()
    order = np.argsort(-s.ravel(), kind="stable")
    ordered = flat[order]
    fpr = np.cumsum(ordered == 0) / sizes[0]
    weights = np.where(ordered == 0, 0.0, 1.0 / (sizes[ordered] * n_regions))
    pro = np.cumsum(weights)
    scores = s.ravel()[order]
    last = np.r_[scores[1:] != scores[:-1], True]  # one point per distinct threshold
    fpr, pro = np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]
    cut = int(np.searchsorted(fpr, max_fpr, side="right"))
    if cut < len(fpr):
        f0, f1, p0, p1 = fpr[cut - 1], fpr[cut], pro[cut - 1], pro[cut]
        p_at = p0 + (p1 - p0) * (max_fpr - f0) / (f1 - f0) if f1 > f0 else p1
        fpr, pro = np.r_[fpr[:cut], max_fpr], np.r_[pro[:cut], p_at]
    return float(auc(fpr, pro) / max_fpr)


def evaluate_maps(masks, maps) -> dict[str, float]:
    """Pixel-level metrics of one run: ``pixel_auroc`` and ``aupro``."""
    return {"pixel_auroc": pixel_auroc(masks, maps), "aupro": aupro(masks, maps)}


def evaluate_by_defect(defects, y_true, scores, masks=None, maps=None) -> dict[str, dict[str, float]]:
    """Metrics per defect type of a folder dataset (MVTec AD layout: ``test/<defect>/``).

    ``defects`` names each test image's folder (``"good"`` for the normal ones). Each defect
    type is measured against all the good images: image ``auroc`` of that type vs good and,
    where ``masks`` and ``maps`` are given, ``pixel_auroc`` and ``aupro`` over that type's and
    the good images' pixels; ``n`` is the number of images of the type. Which kind of defect a
    method misses is what the overall figure hides.
    """
    d = np.asarray(defects, dtype=object)
    y, s = _check(y_true, scores)
    if d.shape != y.shape:
        raise ValueError(f"defects has {d.size} names but y_true has {y.size} labels")
    if np.any((d == "good") != (y == 0)):
        raise ValueError("defects must be 'good' exactly where y_true is 0")
    good = d == "good"
    if not good.any():
        raise ValueError("per-defect metrics need good test images to compare with")
    pixels = masks is not None and maps is not None
    if pixels:
        masks, maps = np.asarray(masks), np.asarray(maps)
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(d[~good])):
        own = d == name
        sel = good | own
        row = {"n": int(own.sum()), "auroc": auroc(y[sel], s[sel])}
        if pixels and masks[own].any():
            row.update(evaluate_maps(masks[sel], maps[sel]))
        out[str(name)] = row
    return out
