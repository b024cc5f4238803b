"""encoder_flow (seed 003): threshold from held-out likelihoods, pixel variant, leave-one-out and
the cross-dataset (--ood-dataset) runner path on files in the published formats; GANomaly's
optimizer settings."""

import numpy as np
import pytest
from scipy.io import savemat
from scipy.stats import norm

import anomalens
from anomalens.data import load_dataset, make_ood_split
from anomalens.eval.benchmark import read_results, run_benchmark

from ..conftest import make_images
from ..data.test_cifar import write_cifar10

SMALL = {"latent": 8, "width": 8, "epochs": 3, "lr": 3e-3, "batch_size": 16, "flow_couplings": 2, "flow_hidden": 32,
         "flow_epochs": 30, "flow_lr": 1e-2, "flow_batch_size": 32, "pad_to": None, "device": "cpu"}


def small(**kw):
    return anomalens.create("encoder_flow").set_params(**{**SMALL, **kw})


def test_threshold_is_the_confidence_interval_of_held_out_likelihoods():
    x = make_images(80, seed=1)
    det = small(holdout=0.25, confidence=0.9).fit(x)
    train_idx, held = det._holdout_split(80, det.holdout)
    assert len(held) == 20 and not set(held) & set(train_idx)
    nll = det.score(x[held])
    assert det.threshold_ == pytest.approx(nll.mean() + norm.ppf(0.95) * nll.std(), rel=1e-9)
    assert det.holdout_nll_[2] == 20
    # more confidence, a wider interval
    assert small(holdout=0.25, confidence=0.99).fit(x).threshold_ > det.threshold_


def test_pixel_variant_scores_raw_pixels_and_round_trips(tmp_path):
    x = make_images(48, seed=2)
    det = small(on="pixels", flow_epochs=5).fit(x)
    assert not hasattr(det.net_, "ae") and det.net_.flow.dim == 16 * 16
    s = det.score(make_images(8, anomalous=True, seed=3))
    assert np.all(np.isfinite(s))
    det.save(tmp_path / "m")
    np.testing.assert_allclose(anomalens.load(tmp_path / "m").score(make_images(8, anomalous=True, seed=3)), s,
                               rtol=1e-6)


def test_bad_image_sizes_are_refused():
    with pytest.raises(ValueError, match="power-of-two"):
        small().fit(make_images(20, size=12))


def test_ganomaly_trains_with_its_adam_betas(monkeypatch):
    import torch

    from anomalens import train

    seen = []

    class Recording(torch.optim.Adam):
        def __init__(self, params, **kw):
            seen.append(kw["betas"])
            super().__init__(params, **kw)

    monkeypatch.setitem(train._OPTIMIZERS, "adam", Recording)
    assert anomalens.create("ganomaly", preset="paper").beta1 == 0.5  # GANomaly's options.py
    tiny = {"latent": 8, "width": 4, "epochs": 1, "batch_size": 16, "pad_to": None, "device": "cpu"}
    anomalens.create("ganomaly", **tiny, beta1=0.3).fit(make_images(32, seed=4))
    assert seen == [(0.3, 0.999)]
    with pytest.raises(ValueError, match="beta1"):
        anomalens.create("ganomaly", beta1=1.0).fit(make_images(32, seed=4))


def _write_svhn(folder, n, seed):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        savemat(folder / name, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                "y": rng.integers(1, 11, (n, 1)).astype(np.uint8)})


def test_leave_one_out_and_cross_dataset_rows(empty_cache, tmp_path):
    write_cifar10(empty_cache / "cifar10", n=16)
    _write_svhn(empty_cache / "svhn", 12, seed=4)
    kw = dict(preset="paper", overrides={**SMALL, "epochs": 1, "flow_epochs": 2, "pad_to": 32}, progress=False)
    out = tmp_path / "loo.jsonl"
    rows = run_benchmark("encoder_flow", "cifar10", protocol="leave_one_out", classes="3", out=out, **kw)
    assert rows[0]["protocol"] == "leave_one_out" and rows[0]["n_train"] == 80 - int((load_dataset("cifar10").y_train == 3).sum())
    assert {"precision", "recall", "f1"} <= set(rows[0])
    ood = tmp_path / "ood.jsonl"
    rows = run_benchmark("encoder_flow", "cifar10", ood_dataset="svhn", out=ood, **kw)
    (row,) = read_results(ood)
    assert row["protocol"] == "ood:svhn" and row["normal_class"] == "all" and row["n_test"] == 16 + 12
    assert row["n_train"] == 80 and np.isfinite(row["mean_score_normal"]) and np.isfinite(row["mean_score_anomalous"])
    assert run_benchmark("encoder_flow", "cifar10", ood_dataset="svhn", out=ood, **kw) == []  # resumable


def test_ood_split_needs_the_same_image_shape(empty_cache):
    write_cifar10(empty_cache / "cifar10", n=4)
    mnist_like = load_dataset("cifar10")
    mnist_like.x_test = mnist_like.x_test[:, :28, :28, :1]
    with pytest.raises(ValueError, match="must match"):
        make_ood_split(load_dataset("cifar10"), mnist_like)
