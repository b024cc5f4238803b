"""Seed 001 (industrial inspection): synthetic_parts, pixel metrics, early stopping, the
KD-CAE / NI-CAE / supervised CNN detectors, their protocols and the maps workflow."""

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import anomalens
from anomalens.cli import app
from anomalens.data import load_dataset
from anomalens.data.synthetic_parts import CATEGORIES, DEFECTS, render, write_synthetic_parts
from anomalens.eval.benchmark import read_results, run_benchmark
from anomalens.eval.metrics import aupro, evaluate_by_defect, pixel_auroc
from anomalens.train import Phase, train_models

FAST = {"epochs": 6, "patience": 3, "batch_size": 8, "val_fraction": 0.2, "device": "cpu"}


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A small synthetic_parts tree (bottle only, 64 px) in MVTec AD's layout."""
    root = tmp_path_factory.mktemp("parts")
    return write_synthetic_parts(root, ["bottle"], n_train=24, n_test_good=6, n_test_defect=6, size=64)


# -- synthetic_parts -------------------------------------------------------------------------
def test_every_category_and_defect_renders_deterministically_with_a_mask():
    for cat in CATEGORIES:
        img, mask = render(cat, None, index=3, size=64)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and not mask.any()
        np.testing.assert_array_equal(img, render(cat, None, index=3, size=64)[0])
        assert not np.array_equal(img, render(cat, None, index=4, size=64)[0])  # normal images vary
        for d in DEFECTS[cat]:
            bad, m = render(cat, d, index=1, size=64)
            assert m.any() and m.mean() < 0.5, (cat, d)
    with pytest.raises(ValueError, match="unknown synthetic_parts category"):
        render("gearbox")
    with pytest.raises(ValueError, match="unknown defect"):
        render("bottle", "hole")


def test_written_tree_reads_as_mvtec_with_masks(parts):
    ds = load_dataset("folder", parts, category="bottle")
    assert ds.x_train.shape == (24, 64, 64, 3) and len(ds.y_test) == 12 and ds.y_test.sum() == 6
    assert set(ds.test_defects) == {"good", "contamination", "broken_rim"}
    assert ds.test_masks[ds.y_test == 1].reshape(6, -1).any(axis=1).all() and not ds.test_masks[ds.y_test == 0].any()
    # the image at index i does not depend on how many were generated
    np.testing.assert_array_equal(ds.x_train[5], render("bottle", None, index=5, size=64)[0])


# -- pixel metrics ------------------------------------------------------------------------------
def test_aupro_perfect_random_and_region_weighting():
    rng = np.random.default_rng(0)
    masks = np.zeros((4, 32, 32), bool)
    masks[0, 2:6, 2:6] = True  # a small region
    masks[1, 5:30, 5:30] = True  # a large one
    assert aupro(masks, masks.astype(float)) == pytest.approx(1.0)
    assert pixel_auroc(masks, masks.astype(float)) == pytest.approx(1.0)
    noise = rng.random(masks.shape)
    assert aupro(masks, noise) < 0.25  # chance: about max_fpr / 2 = 0.15
    # finding only the large region (the small one scores like normal pixels, so its overlap
    # grows like the FPR, 0.15 on average over [0, 0.3]): (1 + 0.15) / 2, each region counting
    # once whatever its size, while the pixel AUROC stays high
    only_large = np.where(masks & (np.arange(4)[:, None, None] == 1), 1.0, 0.0) + 0.01 * noise
    assert aupro(masks, only_large) == pytest.approx(0.575, abs=0.05)
    assert pixel_auroc(masks, only_large) > 0.9
    with pytest.raises(ValueError, match="equal in shape"):
        aupro(masks, noise[:2])


def test_metrics_by_defect_compare_each_type_with_the_good_images():
    rng = np.random.default_rng(1)
    defects = ["good"] * 4 + ["crack"] * 3 + ["missing"] * 3
    y = np.array([0] * 4 + [1] * 6)
    masks = np.zeros((10, 16, 16), bool)
    masks[4:, 4:10, 4:10] = True
    # cracks score high and are found where they are; missing parts score like good images and
    # their maps light up the wrong place
    scores = np.r_[rng.uniform(0, 1, 4), 2 + rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)]
    maps = 0.1 * rng.random(masks.shape)
    maps[4:7] += masks[4:7]
    maps[7:, 10:, 10:] += 1.0
    out = evaluate_by_defect(defects, y, scores, masks, maps)
    assert set(out) == {"crack", "missing"} and out["crack"]["n"] == out["missing"]["n"] == 3
    assert out["crack"]["auroc"] == pytest.approx(1.0) and out["crack"]["pixel_auroc"] == pytest.approx(1.0)
    assert out["missing"]["pixel_auroc"] < 0.5 and out["missing"]["aupro"] < out["crack"]["aupro"]
    sel = np.r_[0:4, 7:10]  # the missing parts against the good images only, the cracks left out
    assert out["missing"]["auroc"] == pytest.approx(roc_auc_score(y[sel], scores[sel]))
    assert "pixel_auroc" not in evaluate_by_defect(defects, y, scores)["crack"]
    with pytest.raises(ValueError, match="'good' exactly where"):
        evaluate_by_defect(["crack"] + defects[1:], y, scores)
    with pytest.raises(ValueError, match="10 labels"):
        evaluate_by_defect(defects[:5], y, scores)


# -- the training loop's new options ------------------------------------------------------------
def test_early_stopping_keeps_the_best_epoch_and_labels_reach_the_loss():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (48, 1, 8, 8), dtype=torch.uint8)
    val = torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8)

    def net():
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.Unflatten(1, (1, 8, 8)))

    mse = lambda f, x, t: (f(x) - x).pow(2).mean()  # noqa: E731
    m = net()
    r = train_models([m], x, mse, phases=[Phase(300, 3e-2)], batch_size=12, seeds=[0], val_data=val, patience=2)
    best = r.best_epochs[0]
    assert r.losses.shape[1] < 300 and r.losses.shape[1] == best + 3
    assert r.val_losses[0, best] == r.val_losses[0].min()
    with torch.no_grad():  # the kept weights are the best epoch's
        assert float(mse(m, val.float() / 255, None)) == pytest.approx(r.val_losses[0, best], rel=1e-5)
    seen = []

    def sup(f, xy, t):
        seen.append(xy[1].clone())
        return torch.nn.functional.binary_cross_entropy_with_logits(f(xy[0]).flatten(1).mean(1), xy[1])

    labels = torch.arange(48) % 2
    train_models([net()], x, sup, phases=[Phase(1, 1e-2)], batch_size=12, seeds=[0], labels=labels.float(),
                 optimizer="rmsprop")
    assert torch.cat(seen).sum() == 24  # every image once, with its own label
    with pytest.raises(ValueError, match="optimizer"):
        train_models([net()], x, mse, phases=[Phase(1, 1e-2)], seeds=[0], optimizer="sgd")


# -- detectors ---------------------------------------------------------------------------------
def test_kd_cae_combined_rule_is_the_or_of_both_thresholds(parts):
    ds = load_dataset("folder", parts, category="bottle")
    det = anomalens.create("kd_cae", image_size=32, **FAST).fit(ds.x_train)
    comp = det.score_components(ds.x_test)
    (t_re, _), (t_kde, _) = det.component_thresholds_["re"], det.component_thresholds_["kde"]
    np.testing.assert_array_equal(det.predict(ds.x_test), ((comp["re"] > t_re) | (comp["kde"] > t_kde)).astype(int))
    assert det.threshold_ == 0.0 and len(det.held_idx_) == round(0.2 * 24)
    re = det.derive("kd_cae", ds.x_train, score_mode="re")
    np.testing.assert_allclose(re.score(ds.x_test), comp["re"])
    assert np.array_equal(re.held_idx_, det.held_idx_)
    assert det.anomaly_map(ds.x_test[:3]).shape == (3, 64, 64)  # back at the input's resolution


def test_generated_images_are_trained_on_but_never_held_out_or_thresholded(parts):
    """fit(X, n_real=k): images after the first k (a DCGAN's) are trained on, but early
    stopping and the threshold see real images only."""
    ds = load_dataset("folder", parts, category="bottle")
    X = np.concatenate([ds.x_train, 255 - ds.x_train[:16]])  # 24 real, then 16 "generated"
    kw = {"image_size": 32, **FAST, "epochs": 1}
    det = anomalens.create("kd_cae", **kw).fit(X, n_real=24)
    assert len(det.held_idx_) == round(0.2 * 24) and det.held_idx_.max() < 24
    (twin,) = anomalens.create("kd_cae", **kw).fit_many([X], [0], n_real=[24])
    assert np.array_equal(twin.held_idx_, det.held_idx_)
    # all real: the same split as without n_real, so earlier results stay reproducible
    assert np.array_equal(anomalens.create("kd_cae", **kw).fit(ds.x_train, n_real=24).held_idx_,
                          anomalens.create("kd_cae", **kw).fit(ds.x_train).held_idx_)
    knn = anomalens.create("raw_nnqed", index="flat").fit(X, n_real=24)
    assert knn.threshold_ == np.quantile(knn.train_scores_[:24], knn.threshold_quantile)
    assert len(knn.train_scores_) == 40
    for bad in (1, 41, True, 2.5):
        with pytest.raises(ValueError, match="n_real must be an int between 2 and the 40"):
            anomalens.create("raw_nnqed").fit(X, n_real=bad)
    with pytest.raises(ValueError, match="n_real: need one count per training set"):
        anomalens.create("raw_nnqed").fit_many([X, X], [0, 1], n_real=[24])


def test_ni_cae_noise_ssim_score_and_map(parts):
    from skimage.metrics import structural_similarity

    ds = load_dataset("folder", parts, category="bottle")
    det = anomalens.create("ni_cae", image_size=32, noise_share=0.25, **FAST)
    clean = det._tensor(ds.x_train)
    noisy = det._prepare_training(clean)
    assert int((noisy != clean).flatten(1).any(1).sum()) == 6  # 25 % of 24 images
    det.fit(ds.x_train)
    x, rec = det._reconstruct(ds.x_test[:2])
    expected = 1 - structural_similarity(x[0], rec[0], data_range=1.0, channel_axis=0)
    assert det.score(ds.x_test[:2])[0] == pytest.approx(expected)
    maps = det.anomaly_map(ds.x_test[:2])
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()
    assert anomalens.create("cae_ssim").noise_share == 0.0


def test_supervised_cnn_needs_labels():
    det = anomalens.create("supervised_cnn", preset="quick", device="cpu")
    x = np.zeros((4, 96, 96, 3), np.uint8)
    with pytest.raises(ValueError, match="needs labels"):
        det.fit(x)
    with pytest.raises(ValueError, match="both classes"):
        det.fit(x, [0, 0, 0, 0])


# -- benchmark protocols ----------------------------------------------------------------------
def test_runner_writes_pixel_metrics_and_runs_the_supervised_kfold(parts, tmp_path):
    out = tmp_path / "kd.jsonl"
    scores = tmp_path / "scores"
    rows = run_benchmark("kd_cae", "folder", data_root=parts, category="all", preset="quick", out=out,
                         overrides={"image_size": 32, **FAST}, progress=False, scores_dir=scores)
    (row,) = rows
    assert row["protocol"] == "folder" and row["normal_class"] == "bottle"
    for k in ("pixel_auroc", "aupro", "f1", "f1_oracle"):
        assert 0 <= row[k] <= 1
    assert set(row["by_defect"]) == {"contamination", "broken_rim"}  # one entry per defect folder
    for d in row["by_defect"].values():
        assert d["n"] == 3 and 0 <= d["auroc"] <= 1 and 0 <= d["pixel_auroc"] <= 1 and 0 <= d["aupro"] <= 1
    out2 = tmp_path / "cnn.jsonl"
    (row,) = run_benchmark("supervised_cnn", "folder", data_root=parts, category="bottle", preset="quick",
                           out=out2, overrides={"epochs": 2, "device": "cpu"}, progress=False, scores_dir=scores)
    assert row["protocol"] == "supervised_kfold" and row["n_test"] == 12 and row["folds"] == 5
    # score records for the report's figures: every test image's score, the panels of the top 4
    from PIL import Image

    from anomalens.eval.figures import load_records
    from anomalens.eval.report import write_report

    kd, cnn = sorted(load_records(scores), key=lambda r: r["method"])
    assert kd["method"] == "kd_cae" and len(kd["scores"]) == len(kd["labels"]) == 12 and kd["threshold"] is not None
    assert sum(kd["labels"]) == 6 and kd["names"][0].startswith("test/") and len(kd["panels"]) == 4
    top_score = max(kd["scores"])
    assert kd["scores"][kd["panels"][0]["index"]] == top_score
    for p in kd["panels"]:  # image | map (| mask when the image has one), at the images' 64 px
        w = Image.open(kd["_dir"] / p["file"]).size[0]
        assert w == (64 * 3 + 6 if kd["labels"][p["index"]] else 64 * 2 + 3)
    assert cnn["threshold"] == 0.5 and cnn["protocol"] == "supervised_kfold"
    for p in cnn["panels"]:  # no map: the image (| its mask)
        assert Image.open(cnn["_dir"] / p["file"]).size[0] == (64 * 2 + 3 if cnn["labels"][p["index"]] else 64)
    write_report([out, out2], html_path=tmp_path / "r.html", scores_dir=scores)
    page = (tmp_path / "r.html").read_text()
    assert "Per-category figures" in page and page.count("alt='ROC curves'") == 1  # both methods on one plot
    assert "kd_cae (score_mode=combined) [quick, folder]" in page and "supervised_cnn [quick, supervised_kfold]" in page
    assert "score histograms" in page
    assert run_benchmark("supervised_cnn", "folder", data_root=parts, category="bottle", preset="quick",
                         out=out2, overrides={"epochs": 2, "device": "cpu"}, progress=False) == []  # resumable
    assert len(read_results(out2)) == 1


def test_cli_score_writes_maps_and_csv(parts, tmp_path):
    runner = CliRunner()
    cat = parts / "bottle"
    r = runner.invoke(app, ["fit", "--method", "kd_cae", "--preset", "quick", "--train", str(cat / "train" / "good"),
                            "--out", str(tmp_path / "m"), "--set", "image_size=32", "--set", "epochs=3",
                            "--set", "device=cpu"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["score", str(tmp_path / "m"), str(cat / "test"), "--maps", str(tmp_path / "maps"),
                            "--csv", str(tmp_path / "s.csv"), "--report", str(tmp_path / "score.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "score.html").read_text()  # labels from good/ vs defect folders: a ROC curve
    assert "alt='ROC curves'" in page and page.count("<figure>") == 4 and "above the threshold" in page
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert len(rows) == 12  # test/ searched recursively: good + both defect folders
    pngs = sorted(p.name for p in (tmp_path / "maps").glob("*.png"))
    assert len(pngs) == 12 and "broken_rim__000_map.png" in pngs
    from PIL import Image

    assert Image.open(tmp_path / "maps" / pngs[0]).size == (64, 64)  # at the file's own size
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["detector"] == "kd_cae"


# -- DCGAN augmentation -----------------------------------------------------------------------
def test_dcgan_augmenter_generates_saves_and_memorisation_detects_copies(parts, tmp_path):
    from anomalens.augment import DCGANAugmenter, memorisation

    ds = load_dataset("folder", parts, category="bottle")
    aug = DCGANAugmenter.from_preset("quick", size=16, width=8, epochs=2, batch_size=8, device="cpu").fit(ds.x_train)
    gen = aug.generate(5, size=64)
    assert gen.shape == (5, 64, 64, 3) and gen.dtype == np.uint8
    np.testing.assert_array_equal(aug.generate(3), aug.generate(3))  # seeded
    loaded = DCGANAugmenter.load(aug.save(tmp_path / "gan"), device="cpu")
    np.testing.assert_array_equal(loaded.generate(3), aug.generate(3))
    small = aug.to_model_size(ds.x_train)
    copies = memorisation(small[:4], small)
    assert copies["gen_to_train_median"] == 0.0 and copies["train_to_train_median"] > 0
    assert memorisation(aug.generate(4), small)["gen_to_train_min"] > 0
    with pytest.raises(ValueError, match="differ in shape"):
        memorisation(gen, small)


def test_dcgan_g_steps_trains_the_generator_more_often_and_round_trips(parts, tmp_path):
    from anomalens.augment import DCGANAugmenter

    ds = load_dataset("folder", parts, category="bottle")
    small = dict(size=16, width=8, epochs=1, batch_size=8, device="cpu")
    one = DCGANAugmenter.from_preset("quick", **small).fit(ds.x_train)
    two = DCGANAugmenter.from_preset("quick", g_steps=2, **small).fit(ds.x_train)
    # same initial weights and batches; the second generator made twice the updates
    assert not torch.equal(one.net_.generator.net[0].weight, two.net_.generator.net[0].weight)
    loaded = DCGANAugmenter.load(two.save(tmp_path / "gan"), device="cpu")
    assert loaded.g_steps == 2 and loaded.settings() == two.settings()
    assert loaded.final_losses_ == two.final_losses_ and set(two.final_losses_) == {"gan_disc_loss", "gan_gen_loss"}
    assert two.final_losses_["gan_disc_loss"] == pytest.approx(two.train_log_.player_losses[0, -1, 0], abs=1e-5)
    np.testing.assert_array_equal(loaded.generate(3), two.generate(3))
    for bad, match in (({"g_steps": 0}, "g_steps must"), ({"g_steps": 2, "alternate": False}, "needs alternate")):
        with pytest.raises(ValueError, match=match):
            DCGANAugmenter.from_preset("quick", **{**small, **bad}).fit(ds.x_train)


def test_dcgan_turns_computing_one_players_loss_match_turns_computing_both():
    from anomalens.augment import _gan_loss
    from anomalens.nn import DCGAN
    from anomalens.train import Phase, seeded, train_models

    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (24, 3, 16, 16), dtype=np.uint8))
    nets = {}
    for name, loss in (("one", _gan_loss), ("both", lambda f, xb, t: f(xb * 2 - 1))):
        nets[name] = seeded(0, lambda: DCGAN(3, 8, 16, 4))
        torch.manual_seed(1)
        train_models([nets[name]], x, loss, phases=[Phase(2, 2e-4)], batch_size=8, weight_decay=0.0, seeds=[0],
                     optimizer_options={"betas": (0.5, 0.999)}, alternate=("disc.", "generator."), turns=(1, 2))
    disc_buffers = {f"disc.{n}" for n, _ in nets["one"].disc.named_buffers()}  # BatchNorm counts differ
    for (n, a), b in zip(nets["one"].state_dict().items(), nets["both"].state_dict().values()):
        if n not in disc_buffers:
            torch.testing.assert_close(a, b, msg=n)
    with pytest.raises(ValueError, match="player must be"):
        nets["one"](x[:2].float(), player=2)


def test_dcgan_cache_key_leaves_out_later_settings_at_their_earlier_value():
    from anomalens.augment import DCGANAugmenter
    from anomalens.eval.benchmark import _dcgan_key

    x = np.zeros((4, 8, 8, 3), np.uint8)
    now = DCGANAugmenter.from_preset("quick", seed=3).settings()
    before = {k: v for k, v in now.items() if k != "g_steps"}  # a generator cached before g_steps existed
    assert _dcgan_key(x, now, "cpu") == _dcgan_key(x, before, "cpu")
    assert _dcgan_key(x, {**now, "g_steps": 2}, "cpu") != _dcgan_key(x, now, "cpu")
    assert _dcgan_key(x, now, "cuda") != _dcgan_key(x, now, "cpu")


def test_memorisation_diagnosis_flags_copies_and_unlearned_generators():
    from anomalens.augment import diagnose, learned, memorisation

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1, 16, 16, 3)).astype(np.float64)
    train = np.clip(base + rng.normal(0, 8, (20, 16, 16, 3)), 0, 255).astype(np.uint8)  # ~11 apart
    new = np.clip(base + rng.normal(0, 8, (6, 16, 16, 3)), 0, 255).astype(np.uint8)
    noise = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)  # what a diverged generator writes
    good, copies, unlearned = memorisation(new, train), memorisation(train[:6], train), memorisation(noise, train)
    assert 0.5 < good["gen_to_train_ratio"] < 4 and learned(good) and diagnose(good) == []
    assert copies["gen_to_train_ratio"] == 0 and learned(copies) and "may copy" in diagnose(copies)[0]
    assert unlearned["gen_to_train_ratio"] > 4 and not learned(unlearned)
    assert "has not learned" in diagnose(unlearned)[0] and "train longer" in diagnose(unlearned)[0]
    assert "the discriminator wins (its loss 0.001" in diagnose({**unlearned, "gan_disc_loss": 0.001})[0]
    assert "train longer" in diagnose({**unlearned, "gan_disc_loss": 1.2})[0]
    # results rows written before the ratio existed carry only the medians
    assert not learned({"gen_to_train_median": 80.0, "train_to_train_median": 7.6})


def test_cli_augment_writes_images_with_set_overrides(parts, tmp_path):
    train = parts / "bottle" / "train" / "good"
    base = ["augment", "--train", str(train), "--preset", "quick", "--n", "3", "--size", "20"]
    small = ["--set", "size=16", "--set", "width=8", "--set", "epochs=1", "--set", "batch_size=8"]
    res = CliRunner().invoke(app, [*base, *small, "--out", str(tmp_path / "gen"), "--grid", str(tmp_path / "g.png")])
    assert res.exit_code == 0, res.output
    assert sorted(f.name for f in (tmp_path / "gen").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert "between training images" in res.output and (tmp_path / "g.png").is_file()
    assert "warning: the generator has not learned" in res.output  # one epoch: 11.7 times as far
    assert "last epoch: discriminator loss" in res.output
    bad = CliRunner().invoke(app, [*base, "--set", "epoch=1", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown DCGAN setting(s) epoch" in bad.output
    assert not (tmp_path / "bad").exists()

def test_runner_augment_dcgan_adds_generated_images_and_names_the_rows(parts, tmp_path):
    (row,) = run_benchmark("kd_cae", "folder", data_root=parts, category="bottle", preset="quick",
                           out=tmp_path / "aug.jsonl", overrides={"image_size": 32, **FAST}, progress=False,
                           augment="dcgan", augment_n=8, scores_dir=tmp_path / "scores")
    assert row["method"] == "kd_cae+dcgan" and row["n_generated"] == 8 and row["n_train"] == 24
    assert row["gen_to_train_median"] > 0 and row["train_to_train_median"] > 0
    from anomalens.eval.figures import load_records

    (rec,) = load_records(tmp_path / "scores")
    assert rec["grid"] and (rec["_dir"] / rec["grid"]).is_file() and "memorisation" in rec["notes"][1]
    with pytest.raises(ValueError, match="augment"):
        run_benchmark("kd_cae", "folder", data_root=parts, category="bottle", out=tmp_path / "x.jsonl", augment="vae")
    # other DCGAN settings are another run: recorded in params, resumed by them
    kw = dict(data_root=parts, category="bottle", preset="quick", out=tmp_path / "aug.jsonl", progress=False,
              overrides={"image_size": 32, **FAST}, augment="dcgan", augment_n=8)
    (longer,) = run_benchmark("kd_cae", "folder", augment_set={"epochs": 2, "size": 32}, **kw)
    assert longer["params"]["dcgan"] == {"epochs": 2, "size": 32} and "dcgan" not in row["params"]
    assert run_benchmark("kd_cae", "folder", augment_set={"epochs": 2, "size": 32}, **kw) == []
    with pytest.raises(ValueError, match=r"unknown DCGAN setting\(s\) epoch;"):
        run_benchmark("kd_cae", "folder", augment_set={"epoch": 2}, **kw)
    with pytest.raises(ValueError, match="give augment"):
        run_benchmark("kd_cae", "folder", **{**kw, "augment": None}, augment_set={"epochs": 2})


def test_runner_dcgan_cache_shares_one_generator_between_methods(parts, tmp_path):
    kw = dict(data_root=parts, category="bottle", preset="quick", progress=False, augment="dcgan", augment_n=8,
              augment_set={"size": 16, "width": 8, "epochs": 2, "batch_size": 8})
    fast = {"image_size": 32, **FAST}
    cache = tmp_path / "dcgan"
    with pytest.warns(UserWarning, match=r"DCGAN of folder class bottle \(seed 0\): the generator has not learned"):
        (plain,) = run_benchmark("kd_cae", "folder", out=tmp_path / "plain.jsonl", overrides=fast, **kw)
    (first,) = run_benchmark("kd_cae", "folder", out=tmp_path / "kd.jsonl", overrides=fast, dcgan_cache=cache, **kw)
    (entry,) = cache.iterdir()
    assert not first["gan_cached"] and "gan_cached" not in plain and first["gan_seconds"] > 0
    (second,) = run_benchmark("cae_ssim", "folder", out=tmp_path / "ssim.jsonl",
                              overrides={"image_size": 32, **FAST, "epochs": 2}, dcgan_cache=cache, **kw)
    assert second["gan_cached"] and list(cache.iterdir()) == [entry]  # loaded, not trained again
    memo = ("gen_to_train_median", "gen_to_train_min", "train_to_train_median", "gan_seconds", "gan_disc_loss")
    assert [second[k] for k in memo] == [first[k] for k in memo]  # the same generator and images
    assert first["auroc"] == plain["auroc"]  # a cached DCGAN changes nothing in the results
    (again,) = run_benchmark("kd_cae", "folder", out=tmp_path / "seed1.jsonl", overrides=fast, dcgan_cache=cache,
                             seeds=[1], **kw)
    assert not again["gan_cached"] and len(list(cache.iterdir())) == 2  # another seed: another generator
    with pytest.raises(ValueError, match="give augment too"):
        run_benchmark("kd_cae", "folder", out=tmp_path / "x.jsonl", data_root=parts, category="bottle",
                      dcgan_cache=cache)


def test_cli_benchmark_augment_with_dcgan_cache(parts, tmp_path):
    base = ["benchmark", "--method", "kd_cae", "--dataset", "folder", "--data-root", str(parts), "--category", "bottle",
            "--preset", "quick", "--out", str(tmp_path / "r.jsonl"), "--dcgan-cache", str(tmp_path / "gans")]
    small = [f"--set={k}={v}" for k, v in {"image_size": 32, **FAST, "epochs": 2}.items()]
    gan = ["--augment", "dcgan", "--augment-n", "8", *(f"--augment-set={kv}" for kv in
                                                        ("size=16", "width=8", "epochs=1", "batch_size=8"))]
    res = CliRunner().invoke(app, [*base, *small, *gan])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert row["method"] == "kd_cae+dcgan" and row["gan_cached"] is False
    assert len(list((tmp_path / "gans").iterdir())) == 1
    bad = CliRunner().invoke(app, [*base, *small])
    assert bad.exit_code == 2 and "give augment too" in bad.output
