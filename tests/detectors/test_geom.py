"""GEOM (seed 002): learns orientation, both scores on one network, batching, persistence,
and the CIFAR-10 / CIFAR-100 / CatsVsDogs paths end to end on files in the published formats."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import anomalens
from anomalens.eval.benchmark import read_results, run_benchmark

from ..data.test_catsvsdogs import write_cats_vs_dogs
from ..data.test_cifar import write_cifar10, write_cifar100

SMALL = {"depth": 10, "widen": 1, "epochs": 2.0, "batch_size": 64, "pad_to": None, "device": "cpu"}


def small(**kw):
    return anomalens.create("geom").set_params(**{**SMALL, **kw})


def arrows(n, size=16, seed=0, upside_down=False):
    """A flag (stem with a bar to its right at the top: no flip or rotation symmetry), with
    jitter and noise; anomalies are the same shape upside down."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 1), np.uint8)
    for i in range(n):
        img = rng.normal(20, 8, (size, size))
        dy, dx = rng.integers(-1, 2, 2)
        top, mid = 3 + dy, size // 2 + dx
        img[top : top + 2, mid : mid + 5] = 230
        img[top + 2 : top + 10, mid - 1 : mid + 1] = 230
        out[i, ..., 0] = np.clip(np.rot90(img, 2) if upside_down else img, 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def fitted():
    return small().fit(arrows(64, seed=1))


def test_upside_down_images_are_flagged_by_both_scores(fitted):
    x = np.concatenate([arrows(32, seed=2), arrows(32, seed=3, upside_down=True)])
    y = np.r_[np.zeros(32), np.ones(32)]
    assert roc_auc_score(y, fitted.score(x)) > 0.9
    simple = fitted.derive("geom", arrows(64, seed=1), score_mode="simple")
    assert simple.net_ is fitted.net_ and simple.alpha_ is None
    assert roc_auc_score(y, simple.score(x)) > 0.9
    # the two scores differ (they are not the same statistic)
    assert not np.allclose(np.argsort(simple.score(x)), np.argsort(fitted.score(x)))


def test_dirichlet_parameters_and_threshold(fitted):
    assert fitted.alpha_.shape == (72, 72) and np.all(fitted.alpha_ > 0)
    # the classifier is trained to put its mass on the applied transformation: the fitted
    # Dirichlet for transformation t has an above-average parameter at entry t
    diag = np.diagonal(fitted.alpha_)
    assert np.mean(diag > fitted.alpha_.mean(axis=1)) > 0.9, np.round(diag / fitted.alpha_.mean(axis=1), 2)
    train_scores = fitted.score(arrows(64, seed=1))
    assert np.mean(train_scores <= fitted.threshold_) == pytest.approx(0.99, abs=0.02)


def test_derive_refuses_another_network(fitted):
    with pytest.raises(ValueError, match="widen"):
        fitted.derive("geom", arrows(64, seed=1), widen=2)
    with pytest.raises(ValueError, match="another network"):
        fitted.derive("cae_re", arrows(64, seed=1))


@pytest.mark.parametrize("mode", ["dirichlet", "simple"])
def test_save_load_gives_the_same_scores(fitted, mode, tmp_path):
    det = fitted if mode == "dirichlet" else fitted.derive("geom", arrows(64, seed=1), score_mode=mode)
    det.save(tmp_path / "m")
    back = anomalens.load(tmp_path / "m")
    x = arrows(8, seed=5, upside_down=True)
    np.testing.assert_allclose(back.score(x), det.score(x), rtol=1e-6)
    assert back.get_params() == det.get_params()


def test_classes_trained_together_match_separate_training():
    """Two classes of different sizes in one batched network: each model sees its own images
    under its own transformation labels (equal losses to training it alone)."""
    a, b = arrows(24, seed=1), arrows(16, seed=4, upside_down=True)
    together = small(epochs=0.25).fit_many([a, b], seeds=[0, 1])
    alone = [small(epochs=0.25, seed=s).fit(x) for x, s in ((a, 0), (b, 1))]
    for k, solo in enumerate(alone):
        np.testing.assert_allclose(together[k].train_log_.losses[k], solo.train_log_.losses[0], rtol=1e-4)
    assert together[0].train_log_.losses[0, 0] != together[1].train_log_.losses[1, 0]


def test_architecture_follows_the_paper_for_the_image_size():
    det = anomalens.create("geom", preset="paper")
    assert det._arch(32) == (10, 4) and det._arch(64) == (16, 8)
    p = det.get_params()
    assert (p["epochs"], p["lr"], p["batch_size"], p["score_mode"], p["pad_to"]) == (3, 1e-3, 128, "dirichlet", 32)
    assert anomalens.create("geom", depth=16, widen=2)._arch(32) == (16, 2)
    with pytest.raises(ValueError, match="depth"):
        anomalens.create("geom", depth=12).fit(arrows(4))


def test_bad_images_get_clear_errors():
    det = small()
    with pytest.raises(ValueError, match="square"):
        det.fit(np.zeros((8, 16, 12, 1), np.uint8))
    with pytest.raises(ValueError, match="multiple of 4"):
        det.fit(np.zeros((8, 18, 18, 1), np.uint8))


_E2E = {"depth": 10, "widen": 1, "epochs": 0.5, "batch_size": 32, "device": "cpu"}


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "catsvsdogs"])
def test_published_formats_end_to_end(dataset, tmp_path, empty_cache):
    root = tmp_path / "data"
    if dataset == "cifar10":
        write_cifar10(root, n=12)
    elif dataset == "cifar100":
        write_cifar100(root, n_train=60, n_test=20)
    else:
        write_cats_vs_dogs(root / "train", [0, 1, 2, 3, 10000, 10001])
    out = tmp_path / f"geom-{dataset}-paper.jsonl"
    rows = run_benchmark("geom", dataset, classes="1", seeds="0", preset="paper", out=out, overrides=_E2E,
                         data_root=root, progress=False, also=[("geom", {"score_mode": "simple"})])
    assert [r["params"]["score_mode"] for r in read_results(out)] == ["simple", "dirichlet"]
    assert rows[-1]["params"]["depth"] == 10 and 0 <= rows[-1]["auroc"] <= 1
    size = 64 if dataset == "catsvsdogs" else 32
    det = anomalens.create("geom", **_E2E)
    assert det._arch(size) == (10, 1)
