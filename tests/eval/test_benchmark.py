import json

import numpy as np
import pytest

from anomalens.data import Dataset
from anomalens.eval import benchmark as B
from tests.conftest import make_images


@pytest.fixture
def toy(monkeypatch):
    """A two-class labelled dataset: blobs (class 0) and blobs with a bar (class 1)."""
    x_train = np.concatenate([make_images(40, seed=1), make_images(40, anomalous=True, seed=2)])
    x_test = np.concatenate([make_images(20, seed=3), make_images(20, anomalous=True, seed=4)])
    y = lambda n: np.r_[np.zeros(n, int), np.ones(n, int)]  # noqa: E731
    ds = Dataset("toy", x_train, y(40), x_test, y(20), ("blob", "bar"))
    seen = {}

    def fake_load(name, root=None, **kw):
        seen["name"] = name
        return ds

    monkeypatch.setattr(B, "load_dataset", fake_load)
    return ds


def run(out, **kw):
    args = dict(protocol="one_vs_rest", classes="all", seeds="0,1", preset="quick", out=out, progress=False,
                overrides={"index": "flat"})
    args.update(kw)
    return B.run_benchmark("raw_nnqed", "toy", **args)


def test_rows_have_the_design_fields(toy, tmp_path):
    rows = run(tmp_path / "r.jsonl")
    assert len(rows) == 4
    for r in rows:
        assert set(B.ROW_FIELDS) <= set(r)
        assert 0 <= r["auroc"] <= 1 and r["n_train"] == 40 and r["n_test"] == 40
        assert r["params"]["index"] == "flat" and r["params"]["seed"] == r["seed"]
    assert B.read_results(tmp_path / "r.jsonl") == json.loads(json.dumps(rows))
    assert rows[0]["auroc"] > 0.9  # the bar class is easy to tell from blobs


def test_resume_skips_finished_rows(toy, tmp_path):
    out = tmp_path / "r.jsonl"
    run(out, seeds="0")
    assert len(run(out, seeds="0,1")) == 2  # only the seed-1 rows are new
    assert run(out, seeds="0,1") == []
    assert len(B.read_results(out)) == 4


def test_torn_last_line_is_dropped_and_redone(toy, tmp_path):
    out = tmp_path / "r.jsonl"
    run(out)
    text = out.read_text()
    lines = text.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:25])  # killed while writing the last row
    with pytest.warns(UserWarning, match="incomplete last line"):
        redone = run(out)
    assert len(redone) == 1
    assert [json.loads(line) for line in out.read_text().splitlines()][-1]["seed"] == 1
    assert len(out.read_text().splitlines()) == 4


def test_corrupt_middle_line_is_reported(toy, tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        B.read_results(out)


def test_leave_one_out_and_class_selection(toy, tmp_path):
    rows = run(tmp_path / "r.jsonl", protocol="leave_one_out", classes="1", seeds="0")
    assert len(rows) == 1 and rows[0]["normal_class"] == 1 and rows[0]["n_train"] == 40


def test_folder_protocol(mvtec_root, tmp_path):
    rows = B.run_benchmark("raw_nnqed", "folder", protocol="folder", data_root=mvtec_root, category="widget",
                           seeds="0", out=tmp_path / "f.jsonl", overrides={"index": "flat"}, progress=False)
    assert rows[0]["dataset"] == "folder:widget" and rows[0]["normal_class"] == "widget"
    assert rows[0]["auroc"] == 1.0


@pytest.mark.parametrize("spec, expected", [("all", [0, 1, 2]), ("1", [1]), ("0,2", [0, 2]), ("0-1", [0, 1])])
def test_parse_classes(spec, expected):
    assert B.parse_classes(spec, [0, 1, 2]) == expected


def test_parse_errors():
    with pytest.raises(ValueError, match="not in this dataset"):
        B.parse_classes("7", [0, 1])
    with pytest.raises(ValueError, match="--seeds"):
        B.parse_seeds("a-b")


def test_default_grouping_is_per_class_on_cuda_and_one_run_at_a_time_on_cpu():
    import anomalens

    tasks = [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert B._groups(tasks, None) == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]
    assert B._groups(tasks, None, on_cpu=True) == [[t] for t in tasks]  # vmap is slower than one by one on CPU
    assert B._groups(tasks, 3, on_cpu=True) == [tasks[:3], tasks[3:]]  # an explicit size is kept
    assert B._trains_on_cpu(anomalens.create("cae_re", device="cpu"))
    assert not B._trains_on_cpu(anomalens.create("raw_nnqed"))  # no network to train
    with pytest.raises(ValueError, match="batch_models"):
        B._groups(tasks, 0)


def test_progress_shows_training_bars_and_rows_do_not_record_it(toy, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    rows = B.run_benchmark("cae_re", "toy", classes="0", seeds="0", preset="quick", out=out, progress=True)
    assert "verbose" not in rows[0]["params"]
    assert "epoch" in capsys.readouterr().err  # the training run's own bar under the runs' bar
    older = [dict(r, params={**r["params"], "verbose": False}) for r in B.read_results(out)]
    out.write_text("".join(json.dumps(r) + "\n" for r in older))  # rows written before verbose was dropped
    assert B.run_benchmark("cae_re", "toy", classes="0", seeds="0", preset="quick", out=out, progress=False) == []


class _Killed(Exception):
    pass


def test_interrupted_benchmark_resumes_training_from_its_checkpoints(toy, tmp_path, monkeypatch):
    """Deep SVDD trains twice (autoencoder, then the SVDD objective): killed in the second
    stage, the rerun reuses the first stage's finished checkpoint and goes on with the second
    from its last epoch, and ends with the row an uninterrupted run writes."""
    import functools

    import anomalens.detectors.autoencoder as A
    import anomalens.train as T

    args = dict(classes="0", seeds="0", preset="quick", progress=False, overrides={"epochs": 3, "finetune_epochs": 1})
    ref = B.run_benchmark("deepsvdd", "toy", out=tmp_path / "ref.jsonl", **args)[0]
    monkeypatch.setattr(T, "train_checkpoints", functools.partial(T.train_checkpoints, interval=0))
    svdd, calls = A._svdd_loss, [0]

    def dies_in_the_third_svdd_epoch(forward, x, center):  # 40 images, batch 200 -> one step an epoch
        calls[0] += 1
        if calls[0] == 3:
            raise _Killed
        return svdd(forward, x, center)

    monkeypatch.setattr(A, "_svdd_loss", dies_in_the_third_svdd_epoch)
    ck = tmp_path / "ck"
    with pytest.raises(_Killed):
        B.run_benchmark("deepsvdd", "toy", out=tmp_path / "r.jsonl", checkpoints=ck, **args)
    files = sorted(p.name for p in (ck / "deepsvdd-toy-quick").iterdir())
    assert files == ["class0-seed0-00-deepsvdd_autoencoder_x1.safetensors", "class0-seed0-01-deepsvdd_svdd_x1.safetensors"]
    monkeypatch.setattr(A, "_svdd_loss", svdd)
    row = B.run_benchmark("deepsvdd", "toy", out=tmp_path / "r.jsonl", checkpoints=ck, **args)[0]
    assert row["auroc"] == ref["auroc"] and row["aupr_anomaly"] == ref["aupr_anomaly"]
    assert 0 < row["resumed_seconds"] <= row["fit_seconds"]
    assert "resumed_seconds" not in ref
    assert not (ck / "deepsvdd-toy-quick").exists()  # removed once the row is written
