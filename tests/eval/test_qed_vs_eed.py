"""The QED-against-EED page (benchmarks/qed_vs_eed.py): pairing of pq and flat rows per network."""

import json

import pytest

from . import load_benchmark


@pytest.fixture(scope="module")
def qe():
    return load_benchmark("qed_vs_eed")


def _row(ds, c, s, index, auroc, gap="reshape", preset="paper"):
    return {"method": "inception_cae_nnqed", "preset": preset, "dataset": ds, "normal_class": c, "seed": s,
            "auroc": auroc, "params": {"index": index, "train_gap": gap}}


def test_pairs_networks_and_counts_where_quantised_search_is_ahead(qe, tmp_path):
    rows = [_row("mnist", 8, 0, "pq", 0.96), _row("mnist", 8, 0, "flat", 0.95),
            _row("mnist", 5, 0, "pq", 0.94), _row("mnist", 5, 0, "flat", 0.96),
            _row("mnist", 5, 0, "pq_fastscan", 0.50),
            _row("mnist", 3, 0, "pq", 0.90),                       # no flat row: not a pair
            _row("mnist", 2, 0, "pq", 0.99, gap=None), _row("mnist", 2, 0, "flat", 0.90, gap=None),
            _row("mnist", 1, 0, "pq", 0.99, preset="quick"), _row("mnist", 1, 0, "flat", 0.90, preset="quick")]
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    nets = qe.pairs([f], "reshape")
    assert set(nets) == {("mnist", 8, 0), ("mnist", 5, 0)}
    text = qe.render(nets, "reshape")
    assert "2 networks; the quantised search (PQ m = 32, c = 4) is ahead of the exact one on 1, behind on 1" in text
    table = [x for x in text.splitlines() if x.startswith("| mnist")]
    assert table == ["| mnist | 8 | 0 | 96.00 | 95.00 | +1.00 |", "| mnist | 5 | 0 | 94.00 | 96.00 | -2.00 |"]
    assert "Mean gap -0.50 points" in text
