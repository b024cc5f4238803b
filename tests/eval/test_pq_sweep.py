"""The m / c sweep's report (benchmarks/pq_sweep.py): grid means and the per-network table."""

import pytest

from . import ROOT, load_benchmark


@pytest.fixture(scope="module")
def sweep():
    return load_benchmark("pq_sweep")


def _rows(c, s, exact, pq):
    base = {"dataset": "fashion_mnist", "normal_class": c, "seed": s, "train_gap": "reshape", "search_s": 0.1}
    rows = [{**base, "index": "flat", "m": 0, "nbits": 0, "auroc": exact}]
    rows += [{**base, "index": "pq", "m": m, "nbits": b, "auroc": v} for (m, b), v in pq.items()]
    rows.append({**base, "index": "pq", "m": 64, "nbits": 1, "auroc": None, "unsupported": "m = d/2"})
    return rows


def test_per_network_table_reports_paper_setting_spans_and_best(sweep):
    a = _rows(0, 0, 0.90, {(32, 4): 0.92, (8, 4): 0.91, (2, 4): 0.80, (32, 1): 0.85, (8, 1): 0.86, (16, 5): 0.93})
    b = _rows(6, 1, 0.84, {(32, 4): 0.83, (8, 4): 0.82, (32, 1): 0.76})
    text = sweep.render(a + b)
    lines = text.splitlines()
    net = lines[lines.index("## Per network (AUROC %)") + 4:]
    assert net[0] == "| 0 | 0 | 90.00 | 92.00 | +2.00 | 85.00-86.00 | - | 91.00-92.00 | 93.00 (16, 5) |"
    assert net[1] == "| 6 | 1 | 84.00 | 83.00 | -1.00 | 76.00-76.00 | - | 82.00-83.00 | 83.00 (32, 4) |"
    # the grid averages the two networks where both have the cell, ignoring unsupported ones
    row32 = next(x for x in lines if x.startswith("| 32 |"))
    assert row32.split(" | ")[4] == "87.50"
    assert "mean over 2 (class, seed) models" in text and "Partial: 2 of 10 classes" in text


def test_summary_states_the_papers_setting_against_exact_search(sweep):
    a = _rows(0, 0, 0.90, {(32, 4): 0.92, (8, 4): 0.91, (32, 1): 0.85, (8, 1): 0.86})
    b = _rows(6, 1, 0.84, {(32, 4): 0.83, (8, 4): 0.82, (32, 1): 0.76})
    lines = sweep.render(a + b).splitlines()
    text = lines[lines.index("## Summary") + 2]
    assert text == ("Grid means over the 2 networks: m = 32, c = 4 gives 87.50 against the exact search's 87.00 "
                    "(+0.50); c = 4 with m >= 8 gives 86.50 to 87.50; against the exact search c = 1 costs "
                    "1.0 to 6.5 points and c = 2 nothing measured. On 1 of 2 networks m = 32, c = 4 is at or "
                    "above the exact search.")


def test_render_only_reports_the_networks_of_the_newest_rows(sweep, tmp_path):
    import json
    import subprocess
    import sys

    old = [{**r, "train_gap": None} for r in _rows(0, 0, 0.90, {(32, 4): 0.92})]
    new = _rows(1, 0, 0.95, {(32, 4): 0.96}) + _rows(2, 0, 0.80, {(32, 4): 0.79})
    out = tmp_path / "sweep.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in old + new))
    md = tmp_path / "sweep.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pq_sweep.py"), "--render-only", "--out", str(out),
                    "--markdown", str(md)], check=True, capture_output=True)
    text = md.read_text()
    assert "mean over 2 (class, seed) models (classes 1, 2; seeds 0; trained with train_gap=reshape)" in text
    assert "On 1 of 2 networks" in text
