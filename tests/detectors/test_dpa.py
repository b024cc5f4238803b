"""DPA (seed 004): variants, weakly-supervised / unsupervised selection, runner integration."""

import json

import numpy as np
import pytest

import anomalens
from anomalens.data import Dataset
from anomalens.detectors.dpa import authors_lr, pg_layers
from anomalens.eval import benchmark as B
from anomalens.select import cv_folds, grid_points, select_hyperparameters
from tests.conftest import make_images

TINY = {"image_size": 16, "max_iters": 30, "val_every": 15, "batch_size": 16, "pg_iters": 10, "device": "cpu"}


def test_registered_names_are_settings_of_one_class():
    dets = {n: anomalens.create(n) for n in ("dpa", "dpa_pg", "dpa_unsup", "dpa_l1", "dpa_l1mix")}
    assert len({type(d) for d in dets.values()}) == 1
    assert {n: d.name for n, d in dets.items()} == {n: n for n in dets}
    assert dets["dpa_l1"].loss == "l1" and dets["dpa_l1"].selection == "unsupervised"
    assert dets["dpa_l1mix"].l1_weight == 0.1 and dets["dpa_pg"].progressive
    # the variant's settings win over the preset, explicit overrides win over both
    assert anomalens.create("dpa_unsup", preset="paper").selection == "unsupervised"
    assert anomalens.create("dpa_l1", selection="none").loss == "l1"


def test_paper_preset_is_the_authors_settings():
    d = anomalens.create("dpa", preset="paper")
    assert (d.batch_size, d.max_iters, d.val_every, d.patience, d.min_delta, d.cv_folds) == (128, 20000, 1000, 3, 0.001, 3)
    assert d.latent_grid == (8, 16, 32, 64, 256) and ("relu3_2", "relu4_2") in d.layer_grid
    assert [authors_lr(k) for k in (8, 16, 32, 64, 256)] == [1e-2, 5e-3, 2e-3, 1e-3, 2e-4]
    assert 2e-4 < authors_lr(128) < 1e-3


def test_pg_layers_move_one_block_per_halving():
    assert pg_layers(("relu4_2",), 1) == ("relu3_2",)
    assert pg_layers(("relu3_2", "relu4_2"), 2) == ("relu1_2", "relu2_2")
    assert pg_layers(("relu3_4",), 1) == ("relu2_2",)  # block 2 has two convolutions
    assert pg_layers(("relu1_1",), 3) == ("relu1_1",)


def test_bad_parameters_are_named():
    X = make_images(20)
    for over, word in [({"image_size": 24}, "image_size"), ({"layers": ("relu9_9",)}, "layers"),
                       ({"layer_grid": ("relu3_2",)}, "layer_grid"), ({"progressive": True, "pg_start": 16}, "pg_start"),
                       ({"loss": "l2"}, "loss")]:
        with pytest.raises(ValueError, match=word):
            anomalens.create("dpa", **{**TINY, "selection": "none", **over}).fit(X)


def test_weak_selection_needs_labelled_anomalies():
    with pytest.raises(ValueError, match="fit\\(X, y\\)"):
        anomalens.create("dpa", **TINY).fit(make_images(30))


def test_cv_folds_partition_both_sets():
    folds = cv_folds(30, 9, 3, seed=1)
    assert len(folds) == 3
    assert sorted(np.concatenate([v for _, v, _ in folds]).tolist()) == list(range(30))
    assert sorted(np.concatenate([a for _, _, a in folds]).tolist()) == list(range(9))
    for tr, val, _ in folds:
        assert not set(tr) & set(val) and len(tr) + len(val) == 30
    assert grid_points({"a": [1, 2], "b": ["x", "y"]})[1] == {"a": 1, "b": "y"}


def test_weak_selection_prefers_the_detector_that_separates_the_anomalies():
    """Generic selection on raw_nnqed: k=1 vs a useless index size is decided by validation AUROC."""
    X, A = make_images(60, seed=0), make_images(12, anomalous=True, seed=3)
    res = select_hyperparameters(lambda p: anomalens.create("raw_nnqed", index="flat", **p), X,
                                 grid_points({"k": [1, 5]}), anomalies=A, criterion="weak", folds=3, seed=0)
    assert res.criterion == "weak" and len(res.table) == 2
    assert all(0.9 < r["value"] <= 1 and len(r["folds"]) == 3 for r in res.table)
    with pytest.raises(ValueError, match="labelled anomalies"):
        select_hyperparameters(lambda p: anomalens.create("raw_nnqed", **p), X, [{}], criterion="weak")


def test_dpa_weak_selection_records_its_choice_and_never_trains_on_anomalies():
    X, A = make_images(48, seed=0), make_images(9, anomalous=True, seed=3)
    det = anomalens.create("dpa", **TINY, latent_grid=(2, 16), layer_grid=(("relu2_2",),))
    det.fit(np.concatenate([X, A]), np.r_[np.zeros(48), np.ones(9)])
    sel = det.selection_
    assert sel["criterion"] == "weak" and len(sel["grid"]) == 2
    assert det.latent_dim_ == sel["chosen"]["latent_dim"] and det.layers_ == ("relu2_2",)
    assert len(det.train_scores_) == 48  # the anomalies are not training images
    assert np.median(det.score(A)) > np.median(det.score(X[:16]))


def test_unsupervised_selection_picks_the_lowest_validation_loss():
    X = make_images(48, seed=0)
    det = anomalens.create("dpa_l1", **TINY, latent_grid=(1, 32)).fit(X)
    values = {r["params"]["latent_dim"]: r["value"] for r in det.selection_["grid"]}
    assert det.latent_dim_ == min(values, key=values.get)


def test_save_load_and_maps_roundtrip(tmp_path):
    X, A = make_images(40, seed=0), make_images(4, anomalous=True, seed=3)
    det = anomalens.create("dpa_pg", **{**TINY, "selection": "none", "latent_dim": 8}).fit(X)
    det.save(tmp_path / "m")
    back = anomalens.load(tmp_path / "m")
    assert back.name == "dpa_pg" and back.latent_dim_ == 8
    np.testing.assert_allclose(back.score(A), det.score(A), rtol=1e-5)
    maps = back.anomaly_map(A)
    assert maps.shape == (4, 16, 16)
    bar_rows = (A[..., 0] == 255).any(axis=2)  # the anomaly is a bright horizontal bar
    assert maps[bar_rows].mean() > maps[~bar_rows].mean()


@pytest.fixture
def toy(monkeypatch):
    x_train = np.concatenate([make_images(40, seed=1), make_images(40, anomalous=True, seed=2), make_images(40, seed=5)])
    x_test = np.concatenate([make_images(10, seed=3), make_images(10, anomalous=True, seed=4), make_images(10, seed=6)])
    y = lambda n: np.repeat([0, 1, 2], n)  # noqa: E731
    ds = Dataset("toy", x_train, y(40), x_test, y(10), ("a", "b", "c"))
    monkeypatch.setattr(B, "load_dataset", lambda name, root=None, **kw: ds)
    return ds


def test_benchmark_draws_validation_anomalies_from_the_training_split(toy, tmp_path):
    out = tmp_path / "dpa.jsonl"
    over = {**TINY, "latent_grid": [4], "layer_grid": [["relu2_2"]]}
    rows = B.run_benchmark("dpa", "toy", classes="0", seeds="0,1", preset=None, out=out, progress=False,
                           overrides=over, val_anomalies=9)
    assert len(rows) == 2
    for r in rows:
        v = r["params"]["validation_anomalies"]
        assert v["anomaly_class"] in (1, 2) and v["n_anomalies"] == 9
        assert r["params"]["selected"]["criterion"] == "weak"
        assert r["params"]["selected"]["chosen"] == {"latent_dim": 4, "layers": ["relu2_2"]}
    assert B.run_benchmark("dpa", "toy", classes="0", seeds="0,1", preset=None, out=out, progress=False,
                           overrides=over, val_anomalies=9) == []  # resumable: outcomes are not part of the key
    assert len(out.read_text().splitlines()) == 2
    assert json.loads(out.read_text().splitlines()[0])["method"] == "dpa"


def _write_svhn(root, n_train=90, n_test=30, seed=0):
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for name, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        y = (np.arange(n) % 10 + 1).astype(np.uint8)[:, None]  # SVHN stores digit 0 as 10
        savemat(root / name, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": y})


@pytest.mark.parametrize("dataset", ["cifar10", "svhn"])
def test_natural_image_datasets_run_end_to_end_from_the_published_formats(dataset, tmp_path):
    from tests.data.test_cifar import write_cifar10

    if dataset == "cifar10":
        write_cifar10(tmp_path / "data", n=40)
    else:
        _write_svhn(tmp_path / "data")
    over = {"max_iters": 10, "val_every": 5, "batch_size": 8, "latent_grid": [4], "layer_grid": [["relu3_2"]],
            "device": "cpu"}
    rows = B.run_benchmark("dpa", dataset, classes="1", seeds="0", preset="paper", out=tmp_path / "r.jsonl",
                           overrides=over, data_root=tmp_path / "data", progress=False, val_anomalies=6)
    assert len(rows) == 1 and 0 <= rows[0]["auroc"] <= 1
    assert rows[0]["params"]["image_size"] == 32 and rows[0]["params"]["validation_anomalies"]["n_anomalies"] == 6
