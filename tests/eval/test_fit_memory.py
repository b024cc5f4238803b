"""benchmarks/fit_memory.py: each fit runs in its own process and reports what it fitted."""

import json

from anomalens.data.synthetic_parts import write_synthetic_parts

from . import ROOT, load_benchmark


def test_two_trees_fit_the_same_model_and_report_their_memory(tmp_path):
    mod = load_benchmark("fit_memory")
    src = str(ROOT / "src")
    out = tmp_path / "fit_memory.json"
    root = write_synthetic_parts(tmp_path / "parts", ["bottle"], n_train=30, n_test_good=2, n_test_defect=2, size=64)
    rows = mod.main(["--tree", f"a={src}", "--tree", f"b={src}", "--methods", "effnet_patch_nnqed", "--limit", "24",
                     "--data-root", str(root), "--set", "input_size=64", "--out", str(out)])
    assert [r["tree"] for r in rows] == ["a", "b"] and rows[0]["commit"] == rows[1]["commit"]
    a, b = rows
    assert a["n_train"] == 24 and a["overrides"] == {"input_size": 64}
    assert a["weights_sha256"] == b["weights_sha256"] and a["threshold"] == b["threshold"]  # deterministic
    assert all(r["peak_mb"] >= r["before_mb"] > 100 and r["fit_seconds"] > 0 for r in rows)  # torch alone is > 100 MB
    assert json.loads(out.read_text())["rows"] == rows
