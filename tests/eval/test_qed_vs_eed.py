"""The QED-against-EED page (benchmarks/qed_vs_eed.py): pairing of pq and flat rows per network."""

import json

import pytest

from . import load_benchmark


@pytest.fixture(scope="module")
def qe():
    return load_benchmark("qed_vs_eed")


def _row(ds, c, s, index, auroc, gap="reshape", preset="paper", method="inception_cae_nnqed"):
    params = {"index": index} if method == "cae_nnqed" else {"index": index, "train_gap": gap}
    return {"method": method, "preset": preset, "dataset": ds, "normal_class": c, "seed": s,
            "auroc": auroc, "params": params}


def _pairs_of(qe, tmp_path, rows):
    """The networks qed_vs_eed pairs from `rows` written to one results file."""
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return qe.pairs([f], "reshape")


def test_pairs_networks_and_counts_where_quantised_search_is_ahead(qe, tmp_path):
    rows = [_row("mnist", 8, 0, "pq", 0.96), _row("mnist", 8, 0, "flat", 0.95),
            _row("mnist", 5, 0, "pq", 0.94), _row("mnist", 5, 0, "flat", 0.96),
            _row("mnist", 5, 0, "pq_fastscan", 0.50),
            _row("mnist", 3, 0, "pq", 0.90),                       # no flat row: not a pair
            _row("mnist", 2, 0, "pq", 0.99, gap=None), _row("mnist", 2, 0, "flat", 0.90, gap=None),
            _row("mnist", 1, 0, "pq", 0.99, preset="quick"), _row("mnist", 1, 0, "flat", 0.90, preset="quick")]
    nets = _pairs_of(qe, tmp_path, rows)
    assert set(nets) == {("InceptionCAE", "mnist", 8, 0), ("InceptionCAE", "mnist", 5, 0)}
    text = qe.render(nets, "reshape")
    assert "InceptionCAE: 2 networks; the quantised search (PQ m = 32, c = 4) is ahead of the exact one on 1, " \
           "behind on 1. Mean gap -0.50 points" in text
    assert "CAE: " not in text.replace("InceptionCAE: ", "")
    table = [x for x in text.splitlines() if x.startswith("| Inc")]
    assert table == ["| InceptionCAE | mnist | 8 | 0 | 96.00 | 95.00 | +1.00 |",
                     "| InceptionCAE | mnist | 5 | 0 | 94.00 | 96.00 | -2.00 |"]


def test_baseline_cae_networks_pair_apart_from_inception_ones_of_the_same_run(qe, tmp_path):
    rows = [_row("mnist", 0, 0, "pq", 0.98, method="cae_nnqed"), _row("mnist", 0, 0, "flat", 0.95, method="cae_nnqed"),
            _row("mnist", 0, 0, "pq", 0.90), _row("mnist", 0, 0, "flat", 0.91),
            _row("mnist", 1, 0, "flat", 0.99, method="cae_nnqed"),        # no pq row: not a pair
            _row("mnist", 2, 0, "pq", 0.90, method="raw_nnqed"), _row("mnist", 2, 0, "flat", 0.80, method="raw_nnqed")]
    nets = _pairs_of(qe, tmp_path, rows)
    assert set(nets) == {("CAE", "mnist", 0, 0), ("InceptionCAE", "mnist", 0, 0)}
    text = qe.render(nets, "reshape")
    assert "- InceptionCAE: 1 networks; the quantised search (PQ m = 32, c = 4) is ahead of the exact one on 0, " \
           "behind on 1. Mean gap -1.00 points." in text
    assert "- CAE: 1 networks; the quantised search (PQ m = 32, c = 4) is ahead of the exact one on 1, " \
           "behind on 0. Mean gap +3.00 points." in text
    table = [x for x in text.splitlines() if x.startswith("| ") and "mnist" in x]
    assert table == ["| InceptionCAE | mnist | 0 | 0 | 90.00 | 91.00 | -1.00 |",
                     "| CAE | mnist | 0 | 0 | 98.00 | 95.00 | +3.00 |"]
