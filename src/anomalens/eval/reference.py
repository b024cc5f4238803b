"""The seed papers' published tables, stored as data (``reference_tables.csv``).

Every row names its source file and table and its metric (``auroc`` for seeds 000, 002 and
004; seed 001 prints ``f1`` too). Numbers are in percent, as printed (seed 001's F1 fractions
times 100). These are the papers' numbers, shown beside ours and never mixed with them.

Seed 001's rows are on MVTec AD (dataset ``mvtec_ad``, classes = its category names): the
report shows them beside ``folder`` runs whose categories carry those names, i.e. MVTec AD
read through the folder reader, and never beside ``synthetic_parts``.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["RefRow", "METRICS", "MVTEC_AD_CATEGORIES", "load_reference", "find_reference"]

METRICS = ("auroc", "f1")
MVTEC_AD_CATEGORIES = frozenset({
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill", "screw", "tile",
    "toothbrush", "transistor", "wood", "zipper"})


@dataclass(frozen=True)
class RefRow:
    source: str
    table: str
    dataset: str
    method: str
    params: tuple[tuple[str, str], ...]
    paper_method: str
    normal_class: str  # class index or category name as text, or "avg"
    metric: str  # one of METRICS
    value: float  # percent
    spread: float | None
    spread_kind: str

    def matches(self, params: dict[str, Any]) -> bool:
        """Whether a run with hyper-parameters ``params`` meets this row's parameter conditions."""
        return all(str(params.get(k)) == v for k, v in self.params)

    @property
    def label(self) -> str:
        return f"seed {self.source[:3]} {self.table} ({self.paper_method})"


@functools.lru_cache(maxsize=1)
def load_reference() -> tuple[RefRow, ...]:
    text = resources.files("anomalens.eval").joinpath("reference_tables.csv").read_text()
    rows = []
    for r in csv.DictReader(text.splitlines()):
        if r["metric"] not in METRICS:
            raise ValueError(f"reference_tables.csv: unknown metric {r['metric']!r} (one of {', '.join(METRICS)})")
        params = tuple(tuple(kv.split("=", 1)) for kv in r["params"].split(";") if kv)
        rows.append(
            RefRow(
                r["source"], r["table"], r["dataset"], r["method"], params, r["paper_method"], r["normal_class"],
                r["metric"], float(r["value"]), float(r["spread"]) if r["spread"] else None, r["spread_kind"],
            )
        )
    return tuple(rows)


def find_reference(
    method: str, dataset: str, params: dict[str, Any] | None = None, *, metric: str = "auroc"
) -> dict[str, RefRow]:
    """Paper rows of ``metric`` for ``method`` on ``dataset`` whose parameter conditions ``params``
    meets, keyed by normal class ("avg" for the average); the first table listing a class wins."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}: one of {', '.join(METRICS)}")
    out: dict[str, RefRow] = {}
    for ref in load_reference():
        if (ref.method, ref.dataset, ref.metric) == (method, dataset, metric) and ref.matches(params or {}):
            out.setdefault(ref.normal_class, ref)
    return out
