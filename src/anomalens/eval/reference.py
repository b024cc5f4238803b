"""The seed papers' published AUROC tables, stored as data (``reference_tables.csv``).

Every row names its source file and table. Numbers are in percent, as printed. These
are the papers' numbers, shown beside ours and never mixed with them.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["RefRow", "load_reference", "find_reference"]


@dataclass(frozen=True)
class RefRow:
    source: str
    table: str
    dataset: str
    method: str
    params: tuple[tuple[str, str], ...]
    paper_method: str
    normal_class: str  # class index as text, or "avg"
    auroc: float  # percent
    spread: float | None
    spread_kind: str

    @property
    def label(self) -> str:
        return f"seed {self.source[:3]} {self.table} ({self.paper_method})"


@functools.lru_cache(maxsize=1)
def load_reference() -> tuple[RefRow, ...]:
    text = resources.files("anomalens.eval").joinpath("reference_tables.csv").read_text()
    rows = []
    for r in csv.DictReader(text.splitlines()):
        params = tuple(tuple(kv.split("=", 1)) for kv in r["params"].split(";") if kv)
        rows.append(
            RefRow(
                r["source"], r["table"], r["dataset"], r["method"], params, r["paper_method"], r["normal_class"],
                float(r["auroc"]), float(r["spread"]) if r["spread"] else None, r["spread_kind"],
            )
        )
    return tuple(rows)


def _matches(ref: RefRow, params: dict[str, Any]) -> bool:
    return all(str(params.get(k)) == v for k, v in ref.params)


def find_reference(method: str, dataset: str, params: dict[str, Any] | None = None) -> dict[str, RefRow]:
    """Paper rows for ``method`` on ``dataset`` whose parameter conditions ``params`` meets,
    keyed by normal class ("avg" for the average); the first table listing a class wins."""
    out: dict[str, RefRow] = {}
    for ref in load_reference():
        if ref.method == method and ref.dataset == dataset and _matches(ref, params or {}):
            out.setdefault(ref.normal_class, ref)
    return out
