"""Seed 000 autoencoder detectors: what each score is, batched seeds, CIFAR paths end to end."""

import numpy as np
import pytest
import torch

import anomalens
from anomalens.eval.benchmark import read_results, run_benchmark
from anomalens.scoring.ocsvm import OCSVMScorer

from ..conftest import make_images
from ..data.test_cifar import write_cifar10

NET = {"epochs": 2, "finetune_epochs": 1, "lr": 3e-3, "finetune_lr": 1e-3, "batch_size": 16, "device": "cpu"}


def padded(x):
    t = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    return torch.nn.functional.pad(t, (8, 8, 8, 8))  # 16 -> 32 px


def test_inception_nnqed_flat_is_exact_nn_distance_of_gap_embedding(images, anomalies):
    det = anomalens.create("inception_cae_nnqed", index="flat", **NET).fit(images)
    with torch.no_grad():
        tr = det.net_.encode(padded(images)).mean(dim=(2, 3)).numpy().astype(np.float64)
        te = det.net_.encode(padded(anomalies)).mean(dim=(2, 3)).numpy().astype(np.float64)
    d2 = ((te[:, None, :] - tr[None, :, :]) ** 2).sum(-1).min(axis=1)
    np.testing.assert_allclose(det.score(anomalies), d2, rtol=1e-4, atol=1e-6)
    # leave-one-out training scores: each image's nearest *other* training image
    dtr = ((tr[:, None, :] - tr[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dtr, np.inf)
    np.testing.assert_allclose(det.train_scores_, dtr.min(axis=1), rtol=1e-4, atol=1e-6)


def test_pq_and_fastscan_share_the_network_and_rank_alike(images, anomalies):
    normal = make_images(16, seed=5)
    x = np.concatenate([normal, anomalies])
    y = np.r_[np.zeros(16), np.ones(16)]
    aucs = {}
    for index in ("flat", "pq", "pq_fastscan"):
        det = anomalens.create("inception_cae_nnqed", index=index, m=16, **NET).fit(images)
        from anomalens.eval.metrics import auroc

        aucs[index] = auroc(y, det.score(x))
    assert min(aucs.values()) > 0.9, aucs


def test_reconstruction_error_score(images, anomalies):
    det = anomalens.create("cae_re", **NET).fit(images)
    x = padded(anomalies)
    with torch.no_grad():
        expected = ((det.net_(x) - x) ** 2).mean(dim=(1, 2, 3)).numpy()
    np.testing.assert_allclose(det.score(anomalies), expected, rtol=1e-5)


def test_ocsvm_scorer_matches_sklearn_and_survives_state_roundtrip():
    from sklearn.svm import OneClassSVM

    rng = np.random.default_rng(0)
    X, Q = rng.normal(size=(200, 8)), rng.normal(size=(50, 8)) * 1.5
    sc = OCSVMScorer(nu=0.5, gamma="auto").fit(X)
    ref = OneClassSVM(kernel="rbf", nu=0.5, gamma=1 / 8).fit(X)
    np.testing.assert_allclose(sc.score(Q), -ref.decision_function(Q), rtol=1e-8, atol=1e-10)
    again = OCSVMScorer().set_state(sc.get_state())
    np.testing.assert_array_equal(again.score(Q), sc.score(Q))


def test_ocsvm_bad_gamma_is_named():
    with pytest.raises(ValueError, match="'gamma'"):
        anomalens.create("cae_ocsvm", gamma=-1.0, **NET).fit(make_images(20))


def test_deepsvdd_centre_and_score(images, anomalies):
    det = anomalens.create("deepsvdd", **NET).fit(images)
    assert det.center_.shape == (128,) and np.all(np.abs(det.center_) >= det.eps)
    with torch.no_grad():
        z = det.net_.embed(padded(anomalies)).numpy().astype(np.float64)
    np.testing.assert_allclose(det.score(anomalies), ((z - det.center_) ** 2).sum(1), rtol=1e-4)
    assert all(p.dim() > 1 for p in det.net_.parameters())  # bias-free network
    assert type(det.net_).__name__ == "SVDDCAE"


def test_a_saved_network_that_does_not_fit_is_named(images, tmp_path):
    """A model saved by an anomalens whose network had other layers (Deep SVDD's before it
    dropped the BatchNorm in front of the sigmoid) is refused by file, not with torch's error."""
    import json

    from safetensors.numpy import load_file, save_file

    from anomalens.data.fetch import sha256_file
    from anomalens.exceptions import ModelFileError

    anomalens.create("deepsvdd", **NET).fit(images).save(tmp_path / "m")
    w, cfg = tmp_path / "m" / "weights.safetensors", tmp_path / "m" / "config.json"
    tensors = load_file(str(w))
    tensors["net.out_bn.running_mean"] = np.zeros(1, np.float32)  # a layer this network has not
    save_file(tensors, str(w))
    c = json.loads(cfg.read_text())
    c["weights_sha256"] = sha256_file(w)
    cfg.write_text(json.dumps(c))
    with pytest.raises(ModelFileError, match=r"(?s)weights\.safetensors.*does not fit.*'deepsvdd'.*out_bn"):
        anomalens.load(tmp_path / "m")


@pytest.mark.parametrize("name", ["inception_cae_nnqed", "deepsvdd"])
def test_fit_seeds_equals_separate_fits(name, images, anomalies):
    # Deep SVDD's bias-free, affine-free network (no BatchNorm before its sigmoid) turns float noise
    # into diverging weights within a few Adam steps at this file's lr 3e-3 (a lone model in the
    # other memory layout diverges as much), so it trains at the paper's lr 1e-4 / 1e-5 here
    kw = {**NET, "index": "flat"} if name.endswith("nnqed") else {**NET, "lr": 1e-4, "finetune_lr": 1e-5}
    together = anomalens.create(name, **kw).fit_seeds(images, [3, 4])
    scores = [det.score(anomalies) for det in together]
    for i, (det, seed) in enumerate(zip(together, [3, 4])):
        alone = anomalens.create(name, **kw, seed=seed).fit(images)
        assert det.seed == seed
        # a lone model trains with plain kernels, K models with vmap's batched ones: float
        # differences (exact equality on a short run: tests/test_train.py) grow over training
        # and depend on the CPU's kernels (2.6 % for deepsvdd on AVX-512), so: the batched
        # model is close to its lone twin and far from the other seed's model
        a, b, other = scores[i], alone.score(anomalies), scores[1 - i]
        np.testing.assert_allclose(a, b, rtol=5e-2, atol=1e-6)
        assert np.corrcoef(a, b)[0, 1] > 0.97
        assert np.abs(a - b).mean() < 0.1 * np.abs(a - other).mean()


def test_baseline_cae_needs_32px_and_bad_device_is_named():
    with pytest.raises(ValueError, match="32 x 32"):
        anomalens.create("cae_nnqed", **NET).set_params(pad_to=None).fit(make_images(20, size=16))
    with pytest.raises(ValueError, match="'device'"):
        anomalens.create("cae_re", **{**NET, "device": "tpu"}).fit(make_images(20))
    with pytest.raises(ValueError, match="multiples of 8"):
        anomalens.create("inception_cae_re", **NET).set_params(pad_to=None).fit(make_images(20, size=12))
    with pytest.raises(ValueError, match="unknown parameter 'train_gap'"):  # the baseline CAE's code is already 128-d
        anomalens.create("cae_re", train_gap="tile", **NET)
    with pytest.raises(ValueError, match="'train_gap'"):
        anomalens.create("inception_cae_re", train_gap="yes", **NET).fit(make_images(20))


def test_train_gap_trains_through_the_pooled_code_and_rows_record_it(tmp_path, monkeypatch):
    from anomalens.data import Dataset
    from anomalens.eval import benchmark as B

    x = np.concatenate([make_images(24, seed=1), make_images(24, anomalous=True, seed=2)])
    y = np.r_[np.zeros(24, int), np.ones(24, int)]
    monkeypatch.setattr(B, "load_dataset", lambda name, root=None, **kw: Dataset("toy", x, y, x, y, ("blob", "bar")))
    out = tmp_path / "r.jsonl"
    rows = run_benchmark("inception_cae_nnqed", "toy", classes="0", seeds="0", preset="quick", out=out, progress=False,
                         overrides={**NET, "index": "flat"}, also=[("inception_cae_re", {})])
    assert all(r["params"]["train_gap"] is None for r in rows)  # the quick preset: GAP at prediction time only
    gap = run_benchmark("inception_cae_nnqed", "toy", classes="0", seeds="0", preset="quick", out=out, progress=False,
                        overrides={**NET, "index": "flat", "train_gap": "reshape"}, also=[("inception_cae_re", {})])
    assert len(gap) == 2 and all(r["params"]["train_gap"] == "reshape" for r in gap)  # another setting: not resumed
    det = anomalens.create("inception_cae_nnqed", train_gap="reshape", **NET).fit(x[:24])
    plain = anomalens.create("inception_cae_nnqed", **NET).fit(x[:24])
    assert det.net_.train_gap == "reshape" and det.derive("inception_cae_re", x[:24]).net_ is det.net_
    w = lambda d: d.net_.enc1.b3[0].weight.detach()  # noqa: E731  same seed, same start; other gradients
    assert not torch.allclose(w(det), w(plain))
    det.save(tmp_path / "m")  # the saved config rebuilds the 8-channel decoder input
    back = anomalens.load(tmp_path / "m")
    assert back.net_.dec1.b1[0].in_channels == 8
    np.testing.assert_allclose(back.score(x), det.score(x), rtol=1e-5)
    with pytest.raises(ValueError, match="32 x 32 images"):
        anomalens.create("inception_cae_nnqed", train_gap="reshape", **NET).set_params(pad_to=None).fit(x[:24])


@pytest.mark.parametrize("method", ["inception_cae_nnqed", "cae_nnqed", "inception_cae_re", "cae_re", "cae_ocsvm", "deepsvdd"])
def test_cifar10_rgb_path_end_to_end(method, tmp_path):
    """Published CIFAR-10 python format -> one-vs-rest -> RGB network -> results rows."""
    write_cifar10(tmp_path / "data", n=40)
    out = tmp_path / "r.jsonl"
    over = {**NET, "epochs": 1, "finetune_epochs": 0}
    if method.endswith("nnqed"):
        over["m"] = 16
    rows = run_benchmark(method, "cifar10", classes="0", seeds="0,1", preset="paper_cifar", out=out,
                         overrides=over, data_root=tmp_path / "data", progress=False, batch_models=2)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["fit_models_batched"] == 2 for r in rows)
    assert all(0 <= r["auroc"] <= 1 for r in rows) and rows[0]["params"]["epochs"] == 1
    assert len(read_results(out)) == 2
    assert run_benchmark(method, "cifar10", classes="0", seeds="0,1", preset="paper_cifar", out=out,
                         overrides=over, data_root=tmp_path / "data", progress=False) == []  # resumed: nothing left


def test_paper_presets_follow_the_paper():
    p = anomalens.create("inception_cae_nnqed", preset="paper").get_params()
    assert (p["epochs"], p["finetune_epochs"], p["lr"], p["finetune_lr"], p["batch_size"], p["weight_decay"]) == (
        100, 50, 1e-4, 1e-5, 200, 1e-6)
    assert (p["index"], p["m"], p["nbits"], p["k"]) == ("pq", 32, 4, 1)
    c = anomalens.create("cae_nnqed", preset="paper_cifar").get_params()
    assert (c["epochs"], c["finetune_epochs"]) == (250, 100)
    # section 4.3: the GAP layer is in the network during training on MNIST / Fashion-MNIST, not on CIFAR
    for name in ("inception_cae_nnqed", "inception_cae_re"):
        assert [anomalens.create(name, preset=k).train_gap for k in ("paper", "paper_cifar")] == ["reshape", None]
    assert "train_gap" not in c and "train_gap" not in anomalens.create("cae_re", preset="paper").get_params()
    # an explicit None wins over the preset (the authors' code: no GAP during training)
    assert anomalens.create("inception_cae_nnqed", preset="paper", train_gap=None, pad_to=None).get_params()[
        "train_gap"] is None
    assert anomalens.create("inception_cae_re", preset="paper", pad_to=None).pad_to is None
    # the fast-scan search of the same codes is the default; the presets pin the paper's plain PQ
    assert anomalens.create("cae_nnqed").index == "pq_fastscan" == anomalens.create("raw_nnqed").index
    assert anomalens.create("cae_nnqed", preset="quick").index == "pq"
    o = anomalens.create("cae_ocsvm", preset="paper").get_params()
    assert (o["nu"], o["gamma"]) == (0.5, "auto")


def test_derive_shares_the_network_and_only_fits_the_scorer(images, anomalies):
    base = anomalens.create("inception_cae_nnqed", **NET).fit(images)
    re = base.derive("inception_cae_re", images)
    flat = base.derive("inception_cae_nnqed", images, index="flat")
    assert re.net_ is base.net_ and flat.net_ is base.net_ and flat.index == "flat"
    x = padded(anomalies)
    with torch.no_grad():
        np.testing.assert_allclose(re.score(anomalies), ((base.net_(x) - x) ** 2).mean(dim=(1, 2, 3)).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="another network"):
        base.derive("cae_re", images)
    with pytest.raises(ValueError, match="training parameters"):
        base.derive("inception_cae_re", images, epochs=7)
    assert base.derive("inception_cae_re", images, threshold_quantile=0.5).threshold_ < re.threshold_  # a scorer setting


def test_runner_writes_derived_rows_once(tmp_path, monkeypatch):
    write_cifar10(tmp_path / "data", n=60)
    out = tmp_path / "cae_nnqed-cifar10-quick.jsonl"
    kw = dict(classes="1", seeds="0", preset="quick", out=out, data_root=tmp_path / "data", progress=False,
              overrides={**NET, "epochs": 1, "finetune_epochs": 0, "m": 16},
              also=[("cae_re", {}), ("cae_ocsvm", {}), ("cae_nnqed", {"index": "flat"})])
    rows = run_benchmark("cae_nnqed", "cifar10", **kw)
    assert [(r["method"], r.get("derived_from")) for r in rows] == [
        ("cae_re", "cae_nnqed"), ("cae_ocsvm", "cae_nnqed"), ("cae_nnqed", "cae_nnqed"), ("cae_nnqed", None)]
    assert len(read_results(tmp_path / "cae_re-cifar10-quick.jsonl")) == 1
    assert {r["params"]["index"] for r in read_results(out)} == {"pq", "flat"}
    assert run_benchmark("cae_nnqed", "cifar10", **kw) == []
    with pytest.raises(ValueError, match="unknown detector"):
        run_benchmark("cae_nnqed", "cifar10", **{**kw, "also": [("nope", {})]})


def test_runner_derives_missing_also_rows_from_saved_models_without_retraining(tmp_path, monkeypatch):
    from anomalens.detectors.network import NetworkDetector

    write_cifar10(tmp_path / "data", n=60)
    out, models = tmp_path / "cae_nnqed-cifar10-quick.jsonl", tmp_path / "models"
    kw = dict(classes="1", seeds="0", preset="quick", out=out, data_root=tmp_path / "data", progress=False,
              overrides={**NET, "epochs": 1, "finetune_epochs": 0, "m": 16})
    also = [("cae_nnqed", {"index": "flat"}), ("cae_re", {})]
    [main] = run_benchmark("cae_nnqed", "cifar10", save_models=models, **kw)
    with pytest.warns(UserWarning, match="lack rows of --also"):  # finished: nothing retrained, nothing written
        assert run_benchmark("cae_nnqed", "cifar10", also=also, **kw) == []
    with pytest.raises(FileNotFoundError, match="class1-seed0"):
        run_benchmark("cae_nnqed", "cifar10", also=also, load_models=tmp_path / "none", **kw)

    def no_training(*a, **k):
        raise AssertionError("a network was trained")

    monkeypatch.setattr(NetworkDetector, "fit_many", no_training)
    rows = run_benchmark("cae_nnqed", "cifar10", also=also, load_models=models, **kw)
    assert [(r["method"], r["derived_from"], r["params"].get("index")) for r in rows] == [
        ("cae_nnqed", "cae_nnqed", "flat"), ("cae_re", "cae_nnqed", None)]
    assert all(r["loaded_from"] == str(models / "cae_nnqed-cifar10-quick" / "class1-seed0") for r in rows)
    assert all(r["fit_seconds"] >= main["fit_seconds"] for r in rows)  # the network's training time + the scorer's
    # the derived rows are those of the saved network: the same as deriving from the model in memory
    from sklearn.metrics import roc_auc_score

    from anomalens.data import load_dataset, make_split

    split = make_split(load_dataset("cifar10", tmp_path / "data"), "one_vs_rest", 1)
    det = anomalens.load(models / "cae_nnqed-cifar10-quick" / "class1-seed0")
    flat = det.derive("cae_nnqed", split.x_train, index="flat")
    assert rows[0]["auroc"] == pytest.approx(roc_auc_score(split.y_test, flat.score(split.x_test)), abs=1e-9)
    assert run_benchmark("cae_nnqed", "cifar10", also=also, load_models=models, **kw) == []  # now complete
    other = tmp_path / "other.jsonl"  # a main row with other settings than the saved model's
    row = {**main, "params": {**main["params"], "m": 8}}
    other.write_text(__import__("json").dumps(row) + "\n")
    with pytest.raises(ValueError, match="other settings"):
        run_benchmark("cae_nnqed", "cifar10", also=also, load_models=models,
                      **{**kw, "out": other, "overrides": {**kw["overrides"], "m": 8}})


def test_runner_batches_across_classes_like_one_at_a_time(tmp_path):
    """batch_models=4 trains (class, seed) runs of two classes as one network; same rows as 1 by 1."""
    write_cifar10(tmp_path / "data", n=60)
    kw = dict(classes="1,2", seeds="0,1", preset="quick", data_root=tmp_path / "data", progress=False,
              overrides={**NET, "epochs": 1, "finetune_epochs": 1, "index": "flat"})
    together = run_benchmark("inception_cae_nnqed", "cifar10", out=tmp_path / "a.jsonl", batch_models=4, **kw)
    alone = run_benchmark("inception_cae_nnqed", "cifar10", out=tmp_path / "b.jsonl", batch_models=1, **kw)
    assert [r["fit_models_batched"] for r in together] == [4] * 4 and [r["fit_models_batched"] for r in alone] == [1] * 4
    for a, b in zip(together, alone):
        assert (a["normal_class"], a["seed"]) == (b["normal_class"], b["seed"])
        assert a["auroc"] == pytest.approx(b["auroc"], abs=0.02)
