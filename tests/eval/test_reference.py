"""The stored paper tables: complete, and consistent with the papers' own averages."""

import numpy as np
import pytest

from anomalens.eval.reference import find_reference, load_reference


def test_known_cells():
    r = find_reference("raw_nnqed", "mnist", {"index": "pq"})
    assert r["avg"].value == 94.7 and r["avg"].table == "Table 4" and r["avg"].source.startswith("000_")
    assert find_reference("raw_nnqed", "fashion_mnist", {"index": "pq"})["avg"].value == 91.4
    inc = find_reference("inception_cae_nnqed", "fashion_mnist", {"index": "pq"})
    assert inc["6"].value == 85.5 and inc["avg"].value == 93.9
    assert find_reference("inception_cae_nnqed", "fashion_mnist", {"index": "flat"})["avg"].value == 93.2
    geom = find_reference("geom", "fashion_mnist", {"score_mode": "dirichlet"})
    assert geom["avg"].value == 93.5 and geom["0"].value == 99.4
    assert find_reference("raw_nnqed", "mnist", {"index": "flat"}) == {}


@pytest.mark.parametrize("source, table", [("000", "Table 2"), ("000", "Table 3"), ("002", "Table 1")])
def test_per_class_rows_average_to_the_printed_average(source, table):
    rows = [r for r in load_reference() if r.source.startswith(source) and r.table == table]
    keys = {(r.dataset, r.method) for r in rows}
    assert keys
    for ds, m in keys:
        per = [r.value for r in rows if (r.dataset, r.method) == (ds, m) and r.normal_class != "avg"]
        avg = [r.value for r in rows if (r.dataset, r.method) == (ds, m) and r.normal_class == "avg"]
        assert len(per) in (2, 10, 20), (ds, m)
        assert abs(np.mean(per) - avg[0]) <= 0.151, (ds, m, np.mean(per), avg[0])


@pytest.mark.parametrize("dataset, avg", [("cifar10", 83.9), ("svhn", 80.3)])
def test_seed004_table5_per_class_rows_average_to_table1(dataset, avg):
    ref = find_reference("dpa", dataset)
    per = [ref[str(c)] for c in range(10)]
    assert {r.table for r in per} == {"Table 5"} and ref["avg"].table == "Table 1"
    assert ref["avg"].value == avg and abs(np.mean([r.value for r in per]) - avg) <= 0.05


def test_seed004_table4_ablation_rows():
    rows = [r for r in load_reference() if r.source.startswith("004") and r.table == "Table 4"]
    assert len(rows) == 40  # ten ablation rows x four medical datasets
    assert find_reference("dpa_l1", "camelyon16")["all"].value == 21.1
    assert find_reference("dpa_pg", "nih_subset")["all"].value == 92.6
    assert find_reference("dpa_l1mix", "camelyon16", {"l1_weight": 0.1})["all"].value == 93.0


def test_seed001_tables_are_on_mvtec_ad_with_their_metric():
    cats = ["toothbrush", "bottle", "screw", "leather", "transistor"]
    kd = find_reference("kd_cae", "mvtec_ad", {"score_mode": "combined"}, metric="f1")
    assert [kd[c].value for c in cats] == [85, 87, 11, 72, 59] and kd["screw"].table == "Table 2"
    assert find_reference("kd_cae", "mvtec_ad", {"score_mode": "re"}, metric="f1") == {}
    assert find_reference("kd_cae", "mvtec_ad", {"score_mode": "combined"}) == {}  # Table 2 prints no AUROC
    assert find_reference("cae_ssim", "mvtec_ad", metric="f1")["transistor"].value == 80.83
    assert find_reference("ni_cae", "mvtec_ad", metric="f1")["screw"].value == 8.3
    cnn = find_reference("supervised_cnn", "mvtec_ad")
    assert cnn["leather"].value == 2 and cnn["leather"].metric == "auroc"
    assert find_reference("supervised_cnn", "mvtec_ad", metric="f1")["toothbrush"].value == 25
    with pytest.raises(ValueError, match="metric"):
        find_reference("kd_cae", "mvtec_ad", metric="accuracy")
