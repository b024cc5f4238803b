"""The engineer's workflow end to end: fit on a folder of good images, score new ones."""

import csv
import json

import numpy as np
from typer.testing import CliRunner

import anomalens
from anomalens.cli import app

runner = CliRunner()


def test_fit_then_score_folder_and_files(mvtec_root, tmp_path):
    cat = mvtec_root / "widget"
    r = runner.invoke(app, ["fit", "--method", "raw_nnqed", "--train", str(cat / "train" / "good"),
                            "--out", str(tmp_path / "model"), "--set", "index=flat", "--set", "threshold_quantile=1.0"])
    assert r.exit_code == 0, r.output
    assert "saved raw_nnqed fitted on 24 images" in r.output
    r = runner.invoke(app, ["score", str(tmp_path / "model"), str(cat / "test" / "scratch"),
                            str(cat / "test" / "good" / "000.png"), "--csv", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert len(rows) == 7 and rows[0]["path"].endswith("scratch/000.png")
    assert [int(x["anomalous"]) for x in rows] == [1] * 6 + [0]
    assert r.output.splitlines()[0] == "path,score,anomalous"
    # the Python API gives the same scores
    det = anomalens.load(tmp_path / "model")
    api = det.score(sorted((cat / "test" / "scratch").glob("*.png")))
    np.testing.assert_allclose(api, [float(x["score"]) for x in rows[:6]], rtol=1e-5)
    assert json.loads((tmp_path / "model" / "config.json").read_text())["params"]["index"] == "flat"



def test_fit_with_checkpoints_resumes_from_and_then_removes_them(mvtec_root, tmp_path):
    train = mvtec_root / "widget" / "train" / "good"
    args = ["fit", "--method", "cae_re", "--preset", "quick", "--train", str(train), "--image-size", "32",
            "--set", "epochs=2", "--set", "finetune_epochs=0", "--checkpoints", str(tmp_path / "ck")]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "model")])
    assert r.exit_code == 0, r.output
    assert list((tmp_path / "ck").iterdir()) == []  # removed once the model was saved
    # a checkpoint the rerun would resume from is read: a damaged one is named, nothing is saved
    (tmp_path / "ck" / "cae_re").mkdir()
    (tmp_path / "ck" / "cae_re" / "fit-00-cae_re_autoencoder_x1.safetensors").write_bytes(b"torn")
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "model2")])
    assert r.exit_code != 0 and "fit-00-cae_re_autoencoder_x1.safetensors" in r.output
    assert "cannot be read" in r.output and not (tmp_path / "model2").exists()

def test_benchmark_and_report_commands(mvtec_root, tmp_path):
    out = tmp_path / "res.jsonl"
    r = runner.invoke(app, ["benchmark", "--method", "raw_nnqed", "--dataset", "folder", "--protocol", "folder",
                            "--data-root", str(mvtec_root), "--category", "widget", "--out", str(out),
                            "--set", "index=flat", "--scores", str(tmp_path / "scores")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["report", str(out), "--html", str(tmp_path / "r.html")])
    assert r.exit_code == 0 and "folder:widget" in r.output and (tmp_path / "r.html").exists()
    assert "Per-category figures" not in (tmp_path / "r.html").read_text()
    r = runner.invoke(app, ["report", str(out), "--html", str(tmp_path / "r.html"), "--scores", str(tmp_path / "scores")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "r.html").read_text()
    assert "folder:widget · folder · widget" in page and "raw_nnqed (index=flat) [quick]" in page
    assert "test/scratch/" in page  # the most anomalous images are named by their paths
    r = runner.invoke(app, ["report", str(out), "--scores", str(tmp_path / "scores")])
    assert r.exit_code != 0 and "--html" in r.output


def test_list_and_datasets_commands():
    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0 and "raw_nnqed" in r.output and "seed 000" in r.output
    r = runner.invoke(app, ["datasets"])
    assert r.exit_code == 0 and "fashion_mnist" in r.output and "cifar100" in r.output


def test_benchmark_network_detector_with_also_and_saved_models(mvtec_root, tmp_path):
    out = tmp_path / "cae_nnqed-folder-quick.jsonl"
    r = runner.invoke(app, ["benchmark", "--method", "cae_nnqed", "--dataset", "folder", "--protocol", "folder",
                            "--data-root", str(mvtec_root), "--category", "widget", "--out", str(out),
                            "--seeds", "0,1", "--batch-models", "2", "--also", "cae_re", "--also", "cae_nnqed:index=flat",
                            "--save-models", str(tmp_path / "models"), "--set", "epochs=1", "--set", "finetune_epochs=0",
                            "--set", "batch_size=8", "--set", "m=16", "--set", "device=cpu"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((x["params"]["index"], x["seed"]) for x in rows) == [("flat", 0), ("flat", 1), ("pq", 0), ("pq", 1)]
    assert len((tmp_path / "cae_re-folder:widget-quick.jsonl").read_text().splitlines()) == 2
    saved = tmp_path / "models" / "cae_nnqed-folder:widget-quick" / "classwidget-seed1"
    assert (saved / "config.json").exists()
    r = runner.invoke(app, ["benchmark", "--method", "cae_nnqed", "--dataset", "folder", "--protocol", "folder",
                            "--data-root", str(mvtec_root), "--category", "widget", "--out", str(out),
                            "--also", "cae_nope"])
    assert r.exit_code == 2 and "cae_nope" in r.output


def test_fit_with_labelled_anomalies_then_maps(mvtec_root, tmp_path):
    """Seed 004 from the command line: dpa chooses its latent size with a few labelled anomalies."""
    cat = mvtec_root / "widget"
    r = runner.invoke(app, ["fit", "--method", "dpa", "--train", str(cat / "train" / "good"), "--anomalies",
                            str(cat / "test" / "scratch"), "--out", str(tmp_path / "model"), "--set", "image_size=16",
                            "--set", "max_iters=20", "--set", "val_every=10", "--set", "batch_size=8",
                            "--set", "latent_grid=[2,8]", "--set", 'layer_grid=[["relu2_2"]]', "--set", "device=cpu"])
    assert r.exit_code == 0, r.output
    assert "fitted on 24 images" in r.output  # the anomalies were not training images
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert cfg["detector"] == "dpa" and cfg["fitted"]["selection_"]["criterion"] == "weak"
    r = runner.invoke(app, ["score", str(tmp_path / "model"), str(cat / "test" / "scratch"), "--maps", str(tmp_path / "maps")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "maps").rglob("*.png"))) == 6
    r = runner.invoke(app, ["fit", "--method", "dpa", "--train", str(cat / "train" / "good"), "--out", str(tmp_path / "m2"),
                            "--set", "image_size=16", "--set", "device=cpu"])
    assert r.exit_code == 2 and "--anomalies FOLDER" in r.output


def test_score_reads_large_folders_in_chunks_with_the_same_scores(mvtec_root, tmp_path):
    """600 images (more than one 512-image chunk): the CLI's scores equal one API call on all of them."""
    from tests.conftest import make_images, write_png

    imgs = np.concatenate([make_images(590, seed=7), make_images(10, anomalous=True, seed=8)])
    for i, img in enumerate(imgs):
        write_png(tmp_path / "incoming" / f"{i:04d}.png", img)
    det = anomalens.create("raw_nnqed", index="flat").fit(mvtec_root / "widget" / "train" / "good")
    det.save(tmp_path / "model")
    r = runner.invoke(app, ["score", str(tmp_path / "model"), str(tmp_path / "incoming"), "--csv", str(tmp_path / "s.csv"),
                            "--report", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [x["path"][-8:] for x in rows] == [f"{i:04d}.png" for i in range(600)]
    # float32 faiss distances depend slightly on the query batch (BLAS blocking): 1e-4, not bit equality
    np.testing.assert_allclose([float(x["score"]) for x in rows], det.score(imgs), rtol=1e-4)
    assert "0599.png" in (tmp_path / "r.html").read_text()  # the anomalies of the second chunk top the report


def test_info_describes_a_saved_model_and_refuses_a_corrupt_one(tmp_path):
    from .conftest import make_images

    det = anomalens.create("raw_nnqed", index="flat", threshold_quantile=0.9).fit(make_images(40, seed=0))
    det.save(tmp_path / "m")
    r = runner.invoke(app, ["info", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    lines = dict(line.split(None, 1) for line in r.output.splitlines() if not line.startswith(("written", "anomaly")))
    assert lines["method"].startswith("raw_nnqed  (seed 000")
    assert lines["input"].startswith("16 x 16 x 1")
    assert lines["threshold"] == f"{det.threshold_:.6g} (chosen from training data: the 0.9 quantile of its training scores)"
    assert '"flat"' in lines["params"] and "anomaly maps no" in r.output

    r = runner.invoke(app, ["info", str(tmp_path / "m"), "--json"])
    d = json.loads(r.output)
    assert d == anomalens.model_info(tmp_path / "m")
    assert d["method"] == "raw_nnqed" and d["threshold"] == det.threshold_ and d["calibration"] is None
    assert d["input_shape"] == [16, 16, 1] and d["score_size"] == [16, 16]
    assert d["params"]["threshold_quantile"] == 0.9 and d["format_version"] == 1
    assert d["tensors"] >= 1 and d["values"] >= 40 * 16 * 16  # the flat index keeps every training image
    assert d["weights_bytes"] == (tmp_path / "m" / "weights.safetensors").stat().st_size

    det.calibrate(make_images(19, seed=3), fpr=0.05).save(tmp_path / "m")
    d = anomalens.model_info(tmp_path / "m")
    assert d["threshold_source"] == "calibration" and d["calibration"] == {"images": 19, "fpr": 0.05}
    assert "calibrated on 19 held-out normal images at fpr 0.05" in runner.invoke(app, ["info", str(tmp_path / "m")]).output

    w = tmp_path / "m" / "weights.safetensors"
    raw = bytearray(w.read_bytes())
    raw[-5] ^= 0xFF  # one byte of the learned values
    w.write_bytes(bytes(raw))
    r = runner.invoke(app, ["info", str(tmp_path / "m")])
    assert r.exit_code == 2 and "weights.safetensors" in r.output and "altered or corrupted" in r.output


def test_maps_from_a_detector_without_anomaly_map_names_those_that_have_one(mvtec_root, tmp_path):
    from anomalens.detectors.base import localises
    from anomalens.registry import localising_detectors

    cat = mvtec_root / "widget"
    r = runner.invoke(app, ["fit", "--method", "raw_nnqed", "--train", str(cat / "train" / "good"),
                            "--out", str(tmp_path / "model"), "--set", "index=flat"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["score", str(tmp_path / "model"), str(cat / "test" / "scratch"), "--maps", str(tmp_path / "maps")])
    assert r.exit_code != 0 and "raw_nnqed does not localise anomalies" in r.output
    named = localising_detectors()
    assert {"kd_cae", "ni_cae", "cae_ssim", "dpa", "vgg19_patch_nnqed", "effnet_patch_nnqed",
            "augnet_patch_nnqed"} <= set(named)
    assert "raw_nnqed" not in named and "inception_cae_nnqed" not in named
    assert all(callable(getattr(anomalens.registry.get_class(n), "anomaly_map", None)) for n in named)
    assert localises(anomalens.registry.get_class("kd_cae")) and not localises(anomalens.load(tmp_path / "model"))
    assert ", ".join(named) in r.output.replace("\n", "")
    assert not (tmp_path / "maps").exists()
