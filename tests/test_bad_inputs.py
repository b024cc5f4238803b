"""The catalogue of bad inputs (README, "Bad input"): each gives a clear error that names the
argument or file, and nothing is left half-written."""

import os

import numpy as np
import pytest

import anomalens
from anomalens.data import load_dataset
from anomalens.data.images import read_mask
from anomalens.eval.benchmark import run_benchmark
from anomalens.exceptions import (ChecksumError, DatasetNotAvailableError, ImageReadError, ModelFileError,
                                  NotFittedError)
from tests.conftest import make_images, png_header_only, write_png


def det():
    return anomalens.create("raw_nnqed", index="flat")


@pytest.fixture
def fitted(images):
    return det().fit(images)


def test_01_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty.*contains no images"):
        det().fit(tmp_path / "empty")


def test_02_truncated_image(tmp_path):
    for i, im in enumerate(make_images(4, 32)):
        write_png(tmp_path / f"{i}.png", im)
    p = tmp_path / "2.png"
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(ImageReadError, match=r"2\.png.*corrupt or truncated"):
        det().fit(tmp_path)


def test_03_non_image_file(tmp_path):
    f = tmp_path / "readme.txt"
    f.write_text("hello")
    with pytest.raises(ImageReadError, match=r"readme\.txt.*not an image"):
        det().fit([f, f])


def test_04_mixed_sizes(tmp_path):
    write_png(tmp_path / "a.png", make_images(1, 16)[0])
    write_png(tmp_path / "b.png", make_images(1, 20)[0])
    with pytest.raises(ValueError, match=r"mixed sizes: .*b\.png"):
        det().fit(tmp_path)


def test_05_mixed_channels(tmp_path):
    write_png(tmp_path / "a.png", make_images(1, 16)[0])
    write_png(tmp_path / "b.png", make_images(1, 16, channels=3)[0])
    with pytest.raises(ValueError, match=r"mixed channels: .*b\.png"):
        det().fit(tmp_path)


def test_06_wrong_dtype(images):
    with pytest.raises(TypeError, match="X must be uint8.*int64"):
        det().fit(images.astype(np.int64))


def test_07_wrong_shape(images):
    with pytest.raises(ValueError, match=r"X must have 4 dimensions.*X\[\.\.\., None\]"):
        det().fit(images[..., 0])


def test_08_nan_and_inf_in_float_input(images):
    x = images.astype(np.float32) / 255
    x[0, 0, 0, 0] = np.nan
    x[1, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="X contains 2 NaN or infinite"):
        det().fit(x)


def test_09_float_out_of_range(images):
    with pytest.raises(ValueError, match=r"float X must lie in \[0, 1\]"):
        det().fit(images.astype(np.float32))


def test_10_score_before_fit(images):
    with pytest.raises(NotFittedError, match="RawNNQED is not fitted yet"):
        det().score(images)


def test_11_score_with_other_image_shape(fitted):
    with pytest.raises(ValueError, match=r"fitted on \(16, 16, 1\)"):
        fitted.score(make_images(2, 20))


def test_12_unknown_detector_name():
    with pytest.raises(ValueError, match=r"unknown detector 'raw_nnqd'.*Did you mean 'raw_nnqed'"):
        anomalens.create("raw_nnqd")


def test_13_unknown_preset_and_parameter():
    with pytest.raises(ValueError, match=r"unknown preset 'papr'.*'paper'"):
        anomalens.create("raw_nnqed", preset="papr")
    with pytest.raises(ValueError, match=r"unknown parameter 'nbit'.*'nbits'"):
        anomalens.create("raw_nnqed", nbit=4)


def test_14_invalid_parameter_value(images):
    with pytest.raises(ValueError, match=r"parameter 'm' must be int in \[1, inf\], got 0"):
        anomalens.create("raw_nnqed", m=0).fit(images)
    with pytest.raises(ValueError, match=r"parameter 'index' must be one of"):
        anomalens.create("raw_nnqed", index="hnsw").fit(images)


def test_15_unknown_dataset_and_protocol(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'mnst'.*'mnist'"):
        load_dataset("mnst")
    with pytest.raises(ValueError, match="unknown detector"):
        run_benchmark("nope", "mnist", out=tmp_path / "r.jsonl")


def test_16_checksum_mismatch_in_the_cache(empty_cache):
    from anomalens.data.mnist import MNIST_FILES

    (empty_cache / "mnist").mkdir(parents=True)
    for spec in MNIST_FILES:
        (empty_cache / "mnist" / spec.name).write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 8)
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte.*delete it"):
        load_dataset("mnist")


def test_17_missing_user_supplied_dataset(tmp_path):
    with pytest.raises(DatasetNotAvailableError, match=r"cifar10: expected .*data_batch_1.*obtain"):
        load_dataset("cifar10", tmp_path)


def test_18_saved_model_altered(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    w = tmp_path / "m" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-8])
    with pytest.raises(ModelFileError, match=r"weights\.safetensors.*altered"):
        anomalens.load(tmp_path / "m")
    fitted.save(tmp_path / "m2")
    (tmp_path / "m2" / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"config\.json.*not a valid"):
        anomalens.load(tmp_path / "m2")


def test_19_saved_model_missing_file(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    os.remove(tmp_path / "m" / "weights.safetensors")
    with pytest.raises(ModelFileError, match=r"weights\.safetensors.*missing"):
        anomalens.load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="does not exist"):
        anomalens.load(tmp_path / "nothing-here")


def test_20_unwritable_output_path(fitted, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match=r"cannot create model directory .*a-file"):
        fitted.save(blocker / "model")
    with pytest.raises(PermissionError, match=r"cannot create results directory .*a-file"):
        run_benchmark("raw_nnqed", "mnist", out=blocker / "r.jsonl")


def test_21_failed_save_leaves_the_old_model_whole(fitted, images, tmp_path, monkeypatch):
    fitted.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def boom():
        raise RuntimeError("disk full")

    monkeypatch.setattr(fitted, "_get_state", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        fitted.save(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary leftovers


def test_22_missing_input_path(fitted, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"input path .*nope\.png.*does not exist"):
        fitted.score(tmp_path / "nope.png")


def test_23_too_few_training_images(images):
    with pytest.raises(ValueError, match="X has 8 image"):
        anomalens.create("raw_nnqed", index="pq").fit(images[:8])


def test_24_cli_reports_errors_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from anomalens.cli import app

    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(app, ["fit", "--method", "raw_nnqed", "--train", str(tmp_path / "empty"),
                                 "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "contains no images" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m").exists()
    r = CliRunner().invoke(app, ["score", str(tmp_path / "m"), str(tmp_path)])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_25_decompression_bomb(fitted, tmp_path):
    # Pillow refuses images over 2 x MAX_IMAGE_PIXELS with an exception that is not an OSError
    p = tmp_path / "huge.png"
    p.write_bytes(png_header_only(20_000, 20_000))
    with pytest.raises(ImageReadError, match=r"huge\.png.*decompression bomb.*MAX_IMAGE_PIXELS"):
        fitted.score(p)
    with pytest.raises(ImageReadError, match=r"mask file .*huge\.png.*decompression bomb"):
        read_mask(p, (8, 8))
