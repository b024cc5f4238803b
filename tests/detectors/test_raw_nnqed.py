import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import anomalens
from anomalens.detectors.knn import pad_to_size
from anomalens.exceptions import ModelFileError


def test_padding_matches_the_authors_28_to_32():
    x = np.ones((2, 1, 28, 28), np.float32)
    y = pad_to_size(x, 32)
    assert y.shape == (2, 1, 32, 32) and y[:, :, 2:30, 2:30].min() == 1 and y.sum() == x.sum()
    assert pad_to_size(x, 16) is x


@pytest.mark.parametrize("index", ["flat", "pq", "pq_fastscan"])
def test_separates_generated_anomalies(images, anomalies, index):
    det = anomalens.create("raw_nnqed", index=index, m=16, pad_to=None).fit(images[:48])
    s = det.score(np.concatenate([images[48:], anomalies]))
    y = np.r_[np.zeros(16), np.ones(16)]
    assert roc_auc_score(y, s) > 0.95
    assert det.predict(anomalies).mean() > 0.9


def test_flat_scores_are_squared_distances_in_unit_pixels(images):
    det = anomalens.create("raw_nnqed", index="flat", pad_to=None).fit(images[:40])
    q = images[40:45].astype(np.float64).reshape(5, -1) / 255
    t = images[:40].astype(np.float64).reshape(40, -1) / 255
    expected = ((q[:, None] - t[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(det.score(images[40:45]), expected, rtol=1e-4)


def test_threshold_from_leave_one_out_training_scores(images):
    det = anomalens.create("raw_nnqed", index="flat", threshold_quantile=0.9).fit(images)
    assert (det.train_scores_ > 0).all()  # self-matches excluded
    assert det.threshold_ == pytest.approx(np.quantile(det.train_scores_, 0.9))
    assert det.predict(images).mean() < 0.2


def test_save_load_identical_scores_and_tamper_detection(images, anomalies, tmp_path):
    det = anomalens.create("raw_nnqed", preset="paper").fit(images)
    det.save(tmp_path / "m")
    back = anomalens.load(tmp_path / "m")
    np.testing.assert_array_equal(back.score(anomalies), det.score(anomalies))
    assert back.threshold_ == det.threshold_ and back.get_params() == det.get_params()
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["detector"] == "raw_nnqed" and cfg["params"]["m"] == 32
    w = tmp_path / "m" / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="weights.safetensors.*altered"):
        anomalens.load(tmp_path / "m")


def test_fit_on_image_folder_and_score_paths(mvtec_root):
    det = anomalens.create("raw_nnqed", index="flat").fit(mvtec_root / "widget" / "train" / "good")
    good = det.score(mvtec_root / "widget" / "test" / "good")
    bad = det.score(sorted((mvtec_root / "widget" / "test" / "scratch").glob("*.png")))
    assert bad.min() > good.max()
