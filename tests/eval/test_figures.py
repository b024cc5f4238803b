"""The report's per-image figures: ranking, panels, score records and their HTML."""

import json

import numpy as np
import pytest

from anomalens.eval.figures import (
    RunView, load_records, method_label, panel, render_records, render_section, top_indices, write_run_record,
)


def test_top_indices_highest_first_ties_by_index():
    assert top_indices(np.array([0.1, 0.9, 0.5, 0.9, 0.2]), 3).tolist() == [1, 3, 2]
    assert top_indices(np.array([1.0, 2.0]), 4).tolist() == [1, 0]


def test_panel_tiles_image_map_and_red_mask():
    img = np.full((8, 8, 1), 100, np.uint8)
    assert panel(img).shape == (8, 8, 3)
    amap = np.zeros((4, 4))
    amap[0, 0] = 1.0  # a map at a lower resolution is resized onto the image
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1
    out = panel(img, amap, mask, 0.0, 1.0)
    assert out.shape == (8, 8 * 3 + 6, 3)
    assert (out[:, 8:11] == 255).all()  # the white gap
    m = out[:, 22:]
    assert m[2, 2].tolist() == [178, 50, 50] and m[0, 0].tolist() == [100, 100, 100]
    assert panel(img, amap, np.zeros((8, 8))).shape == (8, 8 * 2 + 3, 3)  # an empty mask is left out


def _row(method="m", seed=0, **params):
    return {"method": method, "dataset": "folder:w", "preset": "quick", "protocol": "folder", "normal_class": "w",
            "seed": seed, "auroc": 0.75, "f1": 0.5, "f1_oracle": 0.8, "params": {"seed": seed, **params}}


def test_records_round_trip_and_variants_do_not_overwrite(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    s = rng.normal(size=20) + y
    imgs = rng.integers(0, 255, (4, 8, 8, 1), dtype=np.uint8)
    p0 = write_run_record(tmp_path, _row(score_mode="re"), s, y, 0.3, names=[f"f{i}" for i in range(20)],
                          images=imgs, maps=rng.random((4, 8, 8)), default_params={"score_mode": "re"})
    p1 = write_run_record(tmp_path, _row(score_mode="kde"), -s, y, float("inf"), default_params={"score_mode": "re"})
    p2 = write_run_record(tmp_path, _row(seed=1, score_mode="re"), s, y, 0.3, default_params={"score_mode": "re"})
    assert p0.name == "w-seed0.json" and p1.name.startswith("w-seed0-") and p1 != p0 and p2.name == "w-seed1.json"
    recs = load_records(tmp_path)
    assert len(recs) == 3
    r0 = next(r for r in recs if r["_file"] == p0)
    assert r0["label"] == "m (score_mode=re)" and r0["threshold"] == 0.3 and r0["scores"][3] == pytest.approx(s[3], 1e-5)
    assert [p["index"] for p in r0["panels"]] == top_indices(s).tolist()
    assert json.loads(p1.read_text())["threshold"] is None  # a non-finite threshold is stored as null
    page = render_records(recs)
    # one section (same category); the seed-1 run is not shown beside its seed-0 twin
    assert page.count("<h3>") == 1 and page.count("alt='ROC curves'") == 1
    assert "m (score_mode=kde) [quick]" in page and "f%d (" % r0["panels"][0]["index"] in page
    assert "seed 0; AUROC 75.0" in page


def test_load_records_names_a_broken_file(tmp_path):
    (tmp_path / "m-d-p").mkdir()
    (tmp_path / "m-d-p" / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="x.json"):
        load_records(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_records(tmp_path / "nope")


def test_section_without_labels_has_histogram_but_no_roc():
    view = RunView("det", np.arange(5.0), 2.5)
    page = render_section("t", [view])
    assert "ROC" not in page and "score histograms" in page
    assert method_label("kd_cae", {"score_mode": "kde", "lr": 1}) == "kd_cae (score_mode=kde)"


def test_stored_panels_are_small_jpegs(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 255, (2, 300, 200, 3), dtype=np.uint8)
    masks = np.zeros((2, 300, 200), np.uint8)
    masks[0, :50] = 1
    p = write_run_record(tmp_path, _row(), np.array([2.0, 1.0, 0.0]), np.array([1, 0, 0]), 0.5, images=imgs,
                         maps=rng.random((2, 30, 20)), masks=masks, top=np.array([0, 1]))
    (rec,) = load_records(tmp_path)
    first = Image.open(p.parent / rec["panels"][0]["file"])
    assert first.format == "JPEG" and first.size == (85 * 3 + 6, 128)  # image | map | mask, 128 px high
    assert Image.open(p.parent / rec["panels"][1]["file"]).size == (85 * 2 + 3, 128)  # no defect: no mask tile
