import numpy as np
import pytest

from anomalens.eval import metrics as M

Y = np.array([0, 0, 0, 0, 1, 1])
S = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9])


def test_auroc_by_hand():
    # pairs (anomaly > normal): 0.6 beats 3 of 4 normals, 0.9 beats 4 -> 7/8
    assert M.auroc(Y, S) == pytest.approx(7 / 8)


def test_aupr_both_directions():
    # anomalies positive, ranked 0.9 (hit), 0.7 (miss), 0.6 (hit): AP = (1 + 2/3) / 2
    assert M.aupr_anomaly(Y, S) == pytest.approx((1 + 2 / 3) / 2)
    # normals positive, ranked by -score: 0.1, 0.2, 0.3 hits, then 0.6 (miss), 0.7 (hit at rank 5)
    assert M.aupr_normal(Y, S) == pytest.approx((1 + 1 + 1 + 4 / 5) / 4)


def test_fpr_at_95_tpr():
    # catching both anomalies needs threshold 0.6, which flags 1 of 4 normals (0.7)
    assert M.fpr_at_tpr(Y, S, 0.95) == pytest.approx(0.25)


def test_f1_at_threshold_and_oracle():
    assert M.f1_at_threshold(Y, S, 0.65) == pytest.approx(0.5)  # flags 0.7, 0.9: tp 1, fp 1, fn 1
    assert M.f1_oracle(Y, S) == pytest.approx(0.8)  # threshold 0.6: tp 2, fp 1
    assert M.f1_oracle(Y, S) >= M.f1_at_threshold(Y, S, 0.65)


def test_evaluate_fields_are_fractions():
    out = M.evaluate(Y, S, threshold=0.5)
    assert set(out) == {"auroc", "aupr_anomaly", "aupr_normal", "fpr_at_95tpr", "f1", "f1_oracle", "precision", "recall"}
    assert all(0 <= v <= 1 for v in out.values())
    p, r = out["precision"], out["recall"]
    assert out["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)


def test_errors():
    with pytest.raises(ValueError, match="both normal"):
        M.auroc([0, 0], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        M.auroc([0, 1], [np.nan, 1])
    with pytest.raises(ValueError, match="labels"):
        M.auroc([0, 1], [1])
