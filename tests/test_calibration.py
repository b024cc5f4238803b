"""Conformal calibration of the threshold on held-out normal images, and conformal p-values."""

import csv
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import anomalens
from anomalens.cli import app
from anomalens.exceptions import ModelFileError, NotFittedError
from anomalens.serve import ScoringService

from .conftest import make_images, write_png


@pytest.fixture(scope="module")
def fitted():
    return anomalens.create("raw_nnqed", index="flat").fit(make_images(64, seed=0))


@pytest.fixture(scope="module")
def pool(fitted):
    """Scores of 1,000 fresh normal images: exchangeable, as calibration and test images are."""
    return fitted.score(make_images(1000, seed=5))


def test_threshold_is_the_conformal_order_statistic(fitted, pool):
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(64, seed=0))
    for n, fpr, k in [(99, 0.01, 99), (199, 0.01, 198), (1000, 0.05, 951), (19, 0.05, 19), (20, 0.1, 19)]:
        assert k == math.ceil((n + 1) * (1 - fpr) - 1e-9)
        det.calibrate_from_scores(pool[:n], fpr=fpr)
        assert det.threshold_ == np.sort(pool[:n])[k - 1]
        assert det.calibration_ == {"images": n, "fpr": fpr}
    # calibrate(X) scores the images itself
    X = make_images(120, seed=7)
    det.calibrate(X, fpr=0.01)
    assert det.threshold_ == np.sort(fitted.score(X))[120 - 1]  # ceil(121 * 0.99) = 120
    assert det.predict(X).sum() == 0  # the largest calibration score is not above itself


def test_false_positive_rate_is_guaranteed_over_random_splits(fitted, pool):
    """Calibrate on 199 of the pool, count false alarms on the other 801; over many random
    splits the mean FPR equals (n + 1 - k) / (n + 1) = 2 / 200, and p-values are uniform."""
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(64, seed=0))
    rng = np.random.default_rng(0)
    fprs, small = [], []
    for _ in range(400):
        perm = rng.permutation(len(pool))
        cal, test = pool[perm[:199]], pool[perm[199:]]
        det.calibrate_from_scores(cal, fpr=0.01)
        fprs.append(np.mean(test > det.threshold_))
        small.append(np.mean(det.p_values_from_scores(test) <= 0.1))
    assert abs(np.mean(fprs) - 0.01) < 0.002
    assert abs(np.mean(small) - 0.1) < 0.01


def test_p_values_of_anomalies_are_small(fitted, pool):
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(64, seed=0))
    det.calibrate_from_scores(pool[:499], fpr=0.01)
    bad = make_images(16, anomalous=True, seed=9)
    p = det.p_values(bad)
    assert p.shape == (16,) and np.all(p >= 1 / 500) and np.all(p <= 1)
    assert np.median(p) == pytest.approx(1 / 500)  # above every calibration score
    np.testing.assert_allclose(det.p_values_from_scores([np.inf, -np.inf, np.nan]), [1 / 500, 1.0, np.nan])
    assert np.all(det.predict(bad)[p == 1 / 500] == 1)


def test_bad_calls_raise_clear_errors(fitted, pool):
    det = anomalens.create("raw_nnqed", index="flat")
    with pytest.raises(NotFittedError):
        det.calibrate(make_images(200, seed=1))
    with pytest.raises(NotFittedError, match="calibrate"):
        fitted.p_values(make_images(2, seed=1))
    det.fit(make_images(64, seed=0))
    with pytest.raises(ValueError, match="needs at least 99 normal images, got 98"):
        det.calibrate_from_scores(pool[:98], fpr=0.01)
    with pytest.raises(ValueError, match="needs at least 19 normal images"):
        det.calibrate_from_scores(pool[:18], fpr=0.05)
    for bad in (0, 1, 1.5, -0.1, True, "0.01"):
        with pytest.raises(ValueError, match="fpr must be"):
            det.calibrate_from_scores(pool, fpr=bad)
    with pytest.raises(ValueError, match="finite"):
        det.calibrate_from_scores(np.r_[pool[:200], np.nan], fpr=0.01)
    with pytest.raises(ValueError, match="fitted on"):  # wrong image shape, named by the input check
        det.calibrate(make_images(200, size=8, seed=1))
    assert not hasattr(det, "calibration_")  # failed calls changed nothing


def test_calibration_survives_save_and_load_and_fit_clears_it(pool, tmp_path):
    det = anomalens.create("raw_nnqed", index="flat").fit(make_images(64, seed=0))
    trained = det.threshold_
    det.calibrate_from_scores(pool[:300], fpr=0.02)
    det.save(tmp_path / "m")
    back = anomalens.load(tmp_path / "m")
    assert back.threshold_ == det.threshold_ and back.calibration_ == {"images": 300, "fpr": 0.02}
    X = make_images(10, seed=11)
    np.testing.assert_array_equal(back.p_values(X), det.p_values(X))
    # a partly saved calibration is refused, not half-loaded
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["fitted"]["calibration_"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="calibration"):
        anomalens.load(tmp_path / "m")
    det.fit(make_images(64, seed=0))
    assert not hasattr(det, "calibration_scores_") and det.threshold_ == trained


def test_cli_calibrate_then_score_and_serve(mvtec_root, tmp_path):
    runner = CliRunner()
    cat = mvtec_root / "widget"
    model = tmp_path / "model"
    r = runner.invoke(app, ["fit", "--method", "raw_nnqed", "--train", str(cat / "train" / "good"), "--out", str(model),
                            "--set", "index=flat"])
    assert r.exit_code == 0, r.output
    held = tmp_path / "held"
    for i, img in enumerate(make_images(40, seed=21)):
        write_png(held / f"{i:03d}.png", img)
    r = runner.invoke(app, ["calibrate", str(model), str(held), "--fpr", "0.01"])
    assert r.exit_code != 0 and "needs at least 99 normal images, got 40" in r.output
    assert "calibration_" not in json.loads((model / "config.json").read_text())["fitted"]  # untouched

    r = runner.invoke(app, ["calibrate", str(model), str(held), "--fpr", "0.05", "--out", str(tmp_path / "cal")])
    assert r.exit_code == 0, r.output
    assert "calibrated raw_nnqed on 40 normal images at fpr=0.05" in r.output
    assert "calibration_" not in json.loads((model / "config.json").read_text())["fitted"]  # --out: a copy
    cal = anomalens.load(tmp_path / "cal")
    assert cal.threshold_ == np.sort(cal.score(sorted(held.glob("*.png"))))[39 - 1]  # ceil(41 * 0.95) = 39

    r = runner.invoke(app, ["score", str(tmp_path / "cal"), str(cat / "test"), "--csv", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert list(rows[0]) == ["path", "score", "anomalous", "p_value"]
    expected = cal.p_values([row["path"] for row in rows])
    np.testing.assert_allclose([float(row["p_value"]) for row in rows], expected, rtol=1e-5)
    assert all(float(row["p_value"]) == pytest.approx(1 / 41, rel=1e-5) for row in rows if "scratch" in row["path"])

    service = ScoringService(tmp_path / "cal")
    assert service.info()["calibration"] == {"images": 40, "fpr": 0.05}
    png = (cat / "test" / "scratch" / "000.png").read_bytes()
    out = service.score([("a.png", png)])
    assert out["results"][0]["p_value"] == pytest.approx(1 / 41) and out["results"][0]["anomalous"]
    assert "p_value" not in ScoringService(model).score([("a.png", png)])["results"][0]
