"""The stored paper tables: complete, and consistent with the papers' own averages."""

import numpy as np
import pytest

from anomalens.eval.reference import find_reference, load_reference


def test_known_cells():
    r = find_reference("raw_nnqed", "mnist", {"index": "pq"})
    assert r["avg"].auroc == 94.7 and r["avg"].table == "Table 4" and r["avg"].source.startswith("000_")
    assert find_reference("raw_nnqed", "fashion_mnist", {"index": "pq"})["avg"].auroc == 91.4
    inc = find_reference("inception_cae_nnqed", "fashion_mnist", {"index": "pq"})
    assert inc["6"].auroc == 85.5 and inc["avg"].auroc == 93.9
    assert find_reference("inception_cae_nnqed", "fashion_mnist", {"index": "flat"})["avg"].auroc == 93.2
    geom = find_reference("geom", "fashion_mnist", {"score_mode": "dirichlet"})
    assert geom["avg"].auroc == 93.5 and geom["0"].auroc == 99.4
    assert find_reference("raw_nnqed", "mnist", {"index": "flat"}) == {}


@pytest.mark.parametrize("source, table", [("000", "Table 2"), ("000", "Table 3"), ("002", "Table 1")])
def test_per_class_rows_average_to_the_printed_average(source, table):
    rows = [r for r in load_reference() if r.source.startswith(source) and r.table == table]
    keys = {(r.dataset, r.method) for r in rows}
    assert keys
    for ds, m in keys:
        per = [r.auroc for r in rows if (r.dataset, r.method) == (ds, m) and r.normal_class != "avg"]
        avg = [r.auroc for r in rows if (r.dataset, r.method) == (ds, m) and r.normal_class == "avg"]
        assert len(per) in (2, 10, 20), (ds, m)
        assert abs(np.mean(per) - avg[0]) <= 0.151, (ds, m, np.mean(per), avg[0])


@pytest.mark.parametrize("dataset, avg", [("cifar10", 83.9), ("svhn", 80.3)])
def test_seed004_table5_per_class_rows_average_to_table1(dataset, avg):
    ref = find_reference("dpa", dataset)
    per = [ref[str(c)] for c in range(10)]
    assert {r.table for r in per} == {"Table 5"} and ref["avg"].table == "Table 1"
    assert ref["avg"].auroc == avg and abs(np.mean([r.auroc for r in per]) - avg) <= 0.05


def test_seed004_table4_ablation_rows():
    rows = [r for r in load_reference() if r.source.startswith("004") and r.table == "Table 4"]
    assert len(rows) == 40  # ten ablation rows x four medical datasets
    assert find_reference("dpa_l1", "camelyon16")["all"].auroc == 21.1
    assert find_reference("dpa_pg", "nih_subset")["all"].auroc == 92.6
    assert find_reference("dpa_l1mix", "camelyon16", {"l1_weight": 0.1})["all"].auroc == 93.0
