"""Hyper-parameter selection for any detector: seed 004's weakly-supervised cross-validation
and its unsupervised counterpart.

Weakly supervised (Tuluptceva et al., Section 3.3): besides the normal training images, a
*small* set of labelled anomalies of *one* type is available; it serves only to choose
hyper-parameters. ``k``-fold cross-validation (the authors' folds: the normal images and the
anomalies are each split into ``k`` parts; fold ``i`` trains on the other normal parts and
is validated on normal part ``i`` + anomaly part ``i``) picks the grid point with the
highest mean ROC AUC.

Unsupervised (the paper's ablation row 2): the same folds, the grid point with the lowest
mean score on the held-out *normal* images. For a reconstruction-based detector (DPA, the
CAEs) the score is the reconstruction loss, so this is "the lowest validation
reconstruction loss"; for other detectors it is merely the least surprised model.

This module sits beside :mod:`anomalens.train` rather than under ``eval``: a detector's own
``fit`` uses it (``dpa`` chooses its latent size and VGG layer when fitted), and nothing
under ``detectors`` may import ``eval``. It imports no detector: it works on any object with
``fit_many`` and ``score`` (every registered detector), built by ``make(params)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SelectionResult", "select_hyperparameters", "grid_points", "cv_folds", "CRITERIA"]

CRITERIA = ("weak", "unsupervised")


@dataclass
class SelectionResult:
    """The chosen grid point and every point's per-fold values (AUROC, or mean held-out score)."""

    criterion: str
    best: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists): the choice and each point's mean value (for results rows)."""
        import json

        return json.loads(json.dumps({"criterion": self.criterion, "chosen": self.best,
                                      "grid": [{"params": r["params"], "value": round(r["value"], 6)} for r in self.table]}))


def grid_points(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """``{"a": [1, 2], "b": ["x"]}`` -> ``[{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]`` (first key slowest)."""
    points: list[dict[str, Any]] = [{}]
    for key, values in grid.items():
        values = list(values)
        if not values:
            raise ValueError(f"grid entry {key!r} has no values")
        points = [{**p, key: v} for p in points for v in values]
    return points


def cv_folds(n_normal: int, n_anomaly: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``folds`` x (normal training indices, normal validation indices, anomaly validation
    indices); both sets are shuffled with ``seed`` and cut into ``folds`` near-equal parts."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if n_normal < 2 * folds:
        raise ValueError(f"{n_normal} normal images are too few for {folds}-fold cross-validation")
    rng = np.random.default_rng([seed, 4004])
    normal_parts = np.array_split(rng.permutation(n_normal), folds)
    anomaly_parts = np.array_split(rng.permutation(n_anomaly), folds)
    out = []
    for i in range(folds):
        train = np.sort(np.concatenate([p for j, p in enumerate(normal_parts) if j != i]))
        out.append((train, np.sort(normal_parts[i]), np.sort(anomaly_parts[i])))
    return out


def select_hyperparameters(
    make: Callable[[dict[str, Any]], Any],
    X: np.ndarray,
    points: Sequence[dict[str, Any]],
    *,
    anomalies: np.ndarray | None = None,
    criterion: str = "weak",
    folds: int = 3,
    seed: int = 0,
    progress: bool = False,
) -> SelectionResult:
    """Choose among ``points`` by ``folds``-fold cross-validation on the training images.

    Parameters
    ----------
    make : callable
        ``make(params) -> unfitted detector`` for one grid point.
    X : array
        Normal training images (``N x H x W x C``).
    points : list of dict
        The grid (see :func:`grid_points`).
    anomalies : array, optional
        The few labelled anomalies (one type); needed for ``criterion="weak"``, ignored otherwise.
    criterion : {"weak", "unsupervised"}
        Highest mean validation ROC AUC, or lowest mean score of the held-out normal images.
    folds, seed
        Number of folds and the seed of the split. The ``folds`` models of one grid point are
        trained together with ``fit_many`` (one batched network where the detector allows).
    """
    from sklearn.metrics import roc_auc_score
    from tqdm.auto import tqdm

    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if not points:
        raise ValueError("the grid is empty")
    if criterion == "weak" and (anomalies is None or len(anomalies) < folds):
        got = 0 if anomalies is None else len(anomalies)
        raise ValueError(f"weakly-supervised selection needs at least {folds} labelled anomalies (one per fold), got {got}")
    n_anom = len(anomalies) if anomalies is not None else 0
    splits = cv_folds(len(X), n_anom, folds, seed)
    table = []
    for params in tqdm(points, desc="hyper-parameter search", disable=not progress, leave=False):
        proto = make(dict(params))
        dets = proto.fit_many([X[tr] for tr, _, _ in splits], [proto.seed] * folds)
        values = []
        for det, (_, val_n, val_a) in zip(dets, splits):
            s_n = det.score(X[val_n])
            if criterion == "weak":
                s_a = det.score(anomalies[val_a])
                y = np.r_[np.zeros(len(s_n)), np.ones(len(s_a))]
                values.append(float(roc_auc_score(y, np.r_[s_n, s_a])))
            else:
                values.append(float(np.mean(s_n)))
        table.append({"params": dict(params), "folds": values, "value": float(np.mean(values))})
    pick = max if criterion == "weak" else min
    best = pick(table, key=lambda r: r["value"])  # ties: the first point in grid order
    return SelectionResult(criterion, dict(best["params"]), table)
