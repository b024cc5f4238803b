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
