"""benchmarks/calibration.py: one run on a generated two-class dataset, and the summary table."""

import numpy as np
import pytest

from anomalens.data.datasets import Dataset

from ..conftest import make_images
from . import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("calibration")


@pytest.fixture(scope="module")
def ds():
    x = np.concatenate([make_images(400, seed=1), make_images(40, anomalous=True, seed=2)])
    xt = np.concatenate([make_images(300, seed=3), make_images(30, anomalous=True, seed=4)])
    return Dataset("toy", x, np.r_[np.zeros(400), np.ones(40)].astype(int), xt,
                   np.r_[np.zeros(300), np.ones(30)].astype(int), ("blob", "bar"))


def test_run_one_holds_out_the_calibration_images_and_counts_test_rates(bench, ds):
    row = bench.run_one(ds, "raw_nnqed", None, 0, 0, 199, 0.05, index="flat")
    assert row["n_fit"] == 201 and row["n_cal"] == 199 and row["n_test_normal"] == 300
    assert row["n_test_anomalous"] == 30 and row["auroc"] > 0.95
    assert row["tpr_cal"] == 1.0 and row["tpr_fit"] == 1.0  # the bars are far above both thresholds
    assert 0.0 <= row["fpr_cal"] <= 0.15 and 0.0 <= row["fpr_fit"] <= 0.15  # targets 5 % (cal) and 1 % (fit)
    assert row["threshold_cal"] != row["threshold_fit"]
    with pytest.raises(ValueError, match="--cal 400"):
        bench.run_one(ds, "raw_nnqed", None, 0, 0, 400, 0.05, index="flat")


def test_render_reports_means_and_worst_class(bench):
    base = {"dataset": "mnist", "method": "cae_re", "preset": "quick", "fpr_target": 0.01, "n_cal": 1000, "auroc": 0.9}
    rows = [{**base, "fpr_fit": 0.04, "tpr_fit": 0.6, "fpr_cal": 0.01, "tpr_cal": 0.4},
            {**base, "fpr_fit": 0.02, "tpr_fit": 0.5, "fpr_cal": 0.012, "tpr_cal": 0.3}]
    text = bench.render(rows)
    assert "| mnist | cae_re | quick | 1 % | 1000 training | 2 | 90.0 | 3.00 % (4.0 %) | 55.0 % | 1.10 % (1.2 %) | 35.0 % | — |" in text


def test_run_saved_calibrates_on_half_the_normal_test_images_and_resamples_the_halves(bench, ds, tmp_path):
    import anomalens

    anomalens.create("raw_nnqed", index="flat").fit(ds.x_train[:400]).save(tmp_path / "class0-seed3")
    row = bench.run_saved(ds, tmp_path, "raw_nnqed", None, 0, 3, 0.05)
    assert row["cal_source"] == "test_half" and row["n_cal"] == 150 and row["n_test_normal"] == 150
    assert row["tpr_cal"] == 1.0 and row["halvings"] == bench.HALVINGS
    # exchangeable normal images: over many halvings the calibrated FPR averages at most the
    # target (here (151 - 144) / 151 = 4.6 %, the 144th of 150 scores), within sampling noise
    assert 0.03 <= row["fpr_cal_halvings_mean"] <= 0.06
    assert row["fpr_cal_halvings_mean"] <= row["fpr_cal_halvings_p95"] <= 0.15
    assert bench.run_saved(ds, tmp_path, "raw_nnqed", None, 0, 3, 0.05) == row  # seeded: same splits
