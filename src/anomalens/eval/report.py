"""Results files -> per-dataset tables beside the papers' numbers (text, Markdown, HTML).

Our numbers are the mean ± std over seeds of each class; the average row is the mean of the
class means ± their std over classes (the papers' convention). The paper column is the
paper's own number, with its table named; Δ = ours - paper, in AUROC points. Where a paper
prints F1 (seed 001) a further column shows it beside our F1 oracle, the comparable number.
Paper tables that no results row matches are listed at the end of the Markdown report.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_text
from ..augment import UNLEARNED_RATIO, learned
from ..data.datasets import DATASETS
from .benchmark import read_results
from .reference import MVTEC_AD_CATEGORIES, RefRow, find_reference, load_reference

__all__ = ["Group", "Comparison", "PAIRS", "paired_differences", "render_comparisons", "summarize", "render_markdown",
           "render_html", "render_summary", "update_readme", "write_report"]

_HIDDEN_PARAMS = {"seed", "verbose"}
#: parameters the summary names beside the method (the variants a results file holds side by side)
_SUMMARY_PARAMS = ("index", "coreset", "score_mode", "on", "dcgan", "train_gap")


def _class_order(name: str) -> tuple:
    """Numbered classes in numeric order, then named ones alphabetically."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


@dataclass
class ClassStat:
    normal_class: str
    auroc: list[float] = field(default_factory=list)
    other: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    #: folder datasets: defect type -> metric -> one value per seed whose row has it
    by_defect: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def mean(self, key: str = "auroc") -> float:
        vals = self.auroc if key == "auroc" else self.other[key]
        return float(np.mean(vals)) if vals else float("nan")


@dataclass
class Group:
    dataset: str
    protocol: str
    method: str
    preset: str
    params: dict[str, Any]
    classes: dict[str, ClassStat]
    reference: dict[str, RefRow]  # AUROC, by class
    devices: set[str]
    reference_f1: dict[str, RefRow] = field(default_factory=dict)

    @property
    def title(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items() if k not in _HIDDEN_PARAMS)
        return f"{self.dataset} · {self.protocol} · {self.method} (preset {self.preset}; {shown})"

    def sorted_classes(self) -> list[ClassStat]:
        return sorted(self.classes.values(), key=lambda c: _class_order(c.normal_class))

    def average(self) -> tuple[float, float]:
        means = [c.mean() for c in self.classes.values()]
        return float(np.mean(means)), float(np.std(means))

    def seeds_per_class(self) -> tuple[int, int]:
        n = [len(c.auroc) for c in self.classes.values()]
        return min(n), max(n)

    def seeds_label(self) -> str:
        lo, hi = self.seeds_per_class()
        return f"{lo}" if lo == hi else f"{lo}-{hi}"

    def table_classes(self) -> int | None:
        """How many classes a complete table has: the paper's per-class numbers where it prints
        them, else the classes of the dataset's protocol; None where neither is known."""
        per_class = [k for k in self.reference if k != "avg"]
        if per_class:
            return len(per_class)
        info = DATASETS.get(self.dataset)
        return None if info is None or self.protocol.startswith("ood:") else info.n_classes

    def is_partial(self) -> bool:
        """Whether this group covers fewer classes than a complete table (a run still under way,
        or one stopped early): its average is then not the table's average."""
        n = self.table_classes()
        return n is not None and len(self.classes) < n

    def classes_label(self) -> str:
        n = self.table_classes()
        return f"{len(self.classes)} of {n}" if self.is_partial() else str(len(self.classes))

    def paper_average(self) -> RefRow | None:
        """The paper number comparable with :meth:`average`: the paper's own average when this
        group covers the classes of its table; for a partial group, the mean of the paper's
        per-class numbers over the classes run (None where the paper prints no per-class
        numbers, or where our classes are not among its own)."""
        per_class = {k: r for k, r in self.reference.items() if k != "avg"}
        ours = set(self.classes)
        if not self.is_partial():
            return self.reference.get("avg") if not per_class or ours == set(per_class) else None
        if not per_class or not ours <= set(per_class):
            return None
        shown = sorted(ours, key=_class_order)
        return replace(
            per_class[shown[0]], normal_class="avg", value=float(np.mean([per_class[c].value for c in shown])),
            spread=None, spread_kind=(f"the paper's class {shown[0]}" if len(shown) == 1
                                      else f"the mean of the paper's classes {', '.join(shown)}"))


_OTHER = ("aupr_normal", "aupr_anomaly", "fpr_at_95tpr", "f1", "precision", "recall", "f1_oracle", "fit_seconds",
          "score_seconds")


def _reference_dataset(dataset: str, protocol: str) -> str | None:
    """The dataset of the paper tables comparable with our runs: the same one under one-vs-rest;
    seed 001's ``mvtec_ad`` for ``folder`` runs (only categories named as MVTec AD's match)."""
    if protocol == "one_vs_rest":
        return dataset
    if dataset == "folder" and protocol in ("folder", "supervised_kfold"):
        return "mvtec_ad"
    return None


def _references(row: dict[str, Any], params: dict[str, Any], metric: str) -> dict[str, RefRow]:
    ref_dataset = _reference_dataset(row["dataset"], row["protocol"])
    if ref_dataset is None:
        return {}
    refs = find_reference(row["method"], ref_dataset, params, metric=metric)
    return {c: r for c, r in refs.items() if ref_dataset != "mvtec_ad" or c in MVTEC_AD_CATEGORIES}


def summarize(rows: Sequence[dict[str, Any]]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for r in rows:
        params = {k: v for k, v in r.get("params", {}).items() if k not in _HIDDEN_PARAMS}
        key = (r["dataset"], r["protocol"], r["method"], str(r["preset"]), json.dumps(params, sort_keys=True))
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(
                r["dataset"], r["protocol"], r["method"], str(r["preset"]), params, {},
                _references(r, params, "auroc"), set(), _references(r, params, "f1"),
            )
        c = str(r["normal_class"])
        stat = g.classes.setdefault(c, ClassStat(c))
        stat.auroc.append(float(r["auroc"]))
        for k in _OTHER:
            if r.get(k) is not None:
                stat.other[k].append(float(r[k]))
        for name, metrics in (r.get("by_defect") or {}).items():
            per = stat.by_defect.setdefault(name, defaultdict(list))
            for k, v in metrics.items():
                per[k].append(float(v))
        g.devices.add(str(r.get("device", "?")))
    return sorted(groups.values(), key=lambda g: (g.dataset, g.protocol, g.method, g.preset, g.title))


#: Declared with/without pairs: (method, its control, the parameters allowed to differ, what
#: the difference measures). ``<method>+<augment>`` rows pair with ``<method>`` automatically.
PAIRS: tuple[tuple[str, str, frozenset[str], str], ...] = (
    ("ni_cae", "cae_ssim", frozenset({"noise_share"}), "noise injection"),
)


@dataclass
class Comparison:
    """Paired differences (method - control) on the same dataset, class and seed."""

    dataset: str
    protocol: str
    preset: str
    method: str
    control: str
    what: str
    params: dict[str, Any]
    diffs: dict[str, dict[str, dict[int, float]]]  # metric -> class -> seed -> difference
    #: class -> seeds whose generator did not learn its images (augmentation pairs; see
    #: :func:`anomalens.augment.learned`)
    unlearned: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def per_class(self, metric: str = "auroc") -> dict[str, float]:
        return {c: float(np.mean(list(d.values()))) for c, d in self.diffs[metric].items()}

    def by_seed(self, metric: str = "auroc") -> list[float]:
        """The class-averaged difference of each seed that every class has."""
        classes = self.diffs[metric]
        seeds = sorted(set.intersection(*(set(d) for d in classes.values())))
        return [float(np.mean([classes[c][s] for c in classes])) for s in seeds]


def _pair_of(method: str) -> tuple[str, frozenset[str], str] | None:
    for m, control, differ, what in PAIRS:
        if method == m:
            return control, differ, what
    if "+" in method:
        base, aug = method.split("+", 1)
        return base, frozenset({aug}), f"{aug} augmentation"
    return None


def paired_differences(rows: Sequence[dict[str, Any]], metrics: Sequence[str] = ("auroc", "f1")) -> list[Comparison]:
    """Every with/without pair (:data:`PAIRS` and ``<method>+<augment>`` vs ``<method>``) found
    in ``rows``, matched on dataset, protocol, preset, class, seed and every other parameter."""
    def key(r: dict[str, Any], drop: frozenset[str]) -> tuple:
        params = {k: v for k, v in r.get("params", {}).items() if k not in _HIDDEN_PARAMS | drop}
        return (r["dataset"], r["protocol"], str(r["preset"]), json.dumps(params, sort_keys=True))

    by_run: dict[tuple, list[dict[str, Any]]] = defaultdict(list)  # (method, class, seed) -> rows
    for r in rows:
        by_run[(r["method"], str(r["normal_class"]), r["seed"])].append(r)
    out: dict[tuple, Comparison] = {}
    for r in rows:
        pair = _pair_of(r["method"])
        if pair is None:
            continue
        control, differ, what = pair
        k = key(r, differ)
        # the parameters that may differ from the control still tell two variants apart
        ident = (r["method"], *k, json.dumps({p: r.get("params", {}).get(p) for p in sorted(differ)}, sort_keys=True))
        for c in by_run.get((control, str(r["normal_class"]), r["seed"]), []):
            if key(c, differ) != k:
                continue
            comp = out.get(ident)
            if comp is None:
                params = {p: v for p, v in r.get("params", {}).items() if p not in _HIDDEN_PARAMS}
                comp = out[ident] = Comparison(k[0], k[1], k[2], r["method"], control, what, params,
                                               {m: defaultdict(dict) for m in metrics})
            for m in metrics:
                if r.get(m) is not None and c.get(m) is not None:
                    comp.diffs[m][str(r["normal_class"])][int(r["seed"])] = float(r[m]) - float(c[m])
            if "gen_to_train_median" in r and not learned(r):
                comp.unlearned[str(r["normal_class"])].add(int(r["seed"]))
    return sorted(out.values(), key=lambda x: (x.dataset, x.protocol, x.preset, x.method,
                                               json.dumps(x.params, sort_keys=True, default=str)))


_PAIRED_INTRO = ("Paired differences (method - control) in points, on the same class and seed: per class the mean "
                 "over seeds; avg = the mean over classes ± its std over seeds; F1 at the training threshold.")


def _comparison_table(c: Comparison) -> tuple[str, list[str], list[list[str]], list[str]]:
    """(title, header, rows, notes) of one comparison, for Markdown and HTML alike."""
    per = {m: c.per_class(m) for m in c.diffs}
    classes = sorted({k for p in per.values() for k in p}, key=_class_order)
    extra = c.params.get("dcgan")
    title = (f"{c.dataset} · {c.protocol} · preset {c.preset}: {c.what} (`{c.method}` - `{c.control}`"
             f"{f'; dcgan {extra}' if extra else ''})")
    rows = []
    for m in c.diffs:  # the metrics paired_differences was asked for
        if not per[m]:
            continue
        name, by = f"Δ {m.upper()}", c.by_seed(m)
        avg = f"{100 * np.mean(by):+.1f}" if by else "—"
        if len(by) > 1:  # one seed has no spread
            avg += f" ± {100 * np.std(by):.1f}"
        rows.append([name, *(f"{100 * per[m][k]:+.1f}" if k in per[m] else "—" for k in classes), avg, str(len(by))])
    bad = {k: sorted(v) for k, v in c.unlearned.items() if v}
    notes = [f"† the generator did not learn the images (`anomalens.augment.learned`: generated images more than "
             f"{UNLEARNED_RATIO:g} times as far from their nearest training image as training images are from each "
             "other), so its images are not plausible normal images: "
             + "; ".join(f"{k} seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}" for k, v in bad.items())] \
        if bad else []
    header = ["metric", *(f"{k}†" if k in bad else k for k in classes), "avg", "seeds"]
    return title, header, rows, notes


def render_comparisons(comps: Sequence[Comparison]) -> str:
    """Markdown: per class the mean paired difference in points, and the class average with
    its std over seeds."""
    if not comps:
        return ""
    lines = ["## With and without", "", _PAIRED_INTRO, ""]
    for c in comps:
        title, header, rows, notes = _comparison_table(c)
        lines += [f"### {title}", "", _md_row(header), "|" + "---|" * len(header)]
        lines += [_md_row([*r[:-2], f"**{r[-2]}**", r[-1]]) for r in rows]
        lines += ["", *notes] if notes else []
        lines.append("")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}"


def _ref_cell(ref: RefRow | None) -> str:
    if ref is None:
        return "—"
    spread = f" ± {ref.spread:.1f}" if ref.spread is not None else ""
    return f"{ref.value:.1f}{spread}"


def _delta(ours: float, ref: RefRow | None) -> str:
    return "—" if ref is None else f"{100 * ours - ref.value:+.1f}"


_COLUMNS = (
    "class", "AUROC ours (mean ± std)", "AUROC paper", "Δ", "AUPR-in", "AUPR-out", "FPR@95TPR",
    "F1 @ own threshold", "precision @ thr", "recall @ thr", "F1 oracle†", "fit s", "score s",
)
_FOOTNOTE = (
    "Metrics in %. Ours: mean ± std over seeds per class; average: mean of class means ± std over classes. "
    "Paper columns are the papers' own numbers (spread as the paper reports it). "
    "† F1 oracle uses the best threshold on the test labels: an upper bound, not an attainable result."
)
_F1_PAPER = "F1 paper‡"
_F1_FOOTNOTE = (
    " ‡ The paper's F1 (seed 001, on MVTec AD), its threshold chosen on the test data: compare it with F1 oracle."
)


def _columns(g: Group) -> tuple[str, ...]:
    return (*_COLUMNS[:-2], _F1_PAPER, *_COLUMNS[-2:]) if g.reference_f1 else _COLUMNS


def _footnote(groups: Sequence[Group]) -> str:
    return _FOOTNOTE + (_F1_FOOTNOTE if any(g.reference_f1 for g in groups) else "")


def _table(g: Group) -> tuple[list[list[str]], list[str]]:
    """The cells of one group's table: one row per class, then the average row (one source for
    Markdown and HTML)."""
    rows = []
    for c in g.sorted_classes():
        std = float(np.std(c.auroc)) if len(c.auroc) > 1 else float("nan")
        ours = f"{_pct(c.mean())}" + (f" ± {_pct(std)}" if np.isfinite(std) else "")
        ref = g.reference.get(c.normal_class)
        f1_paper = [_ref_cell(g.reference_f1.get(c.normal_class))] if g.reference_f1 else []
        rows.append([
            c.normal_class, ours, _ref_cell(ref), _delta(c.mean(), ref), _pct(c.mean("aupr_normal")),
            _pct(c.mean("aupr_anomaly")), _pct(c.mean("fpr_at_95tpr")), _pct(c.mean("f1")),
            _pct(c.mean("precision")), _pct(c.mean("recall")), _pct(c.mean("f1_oracle")), *f1_paper,
            f"{c.mean('fit_seconds'):.2f}", f"{c.mean('score_seconds'):.2f}",
        ])
    avg, sd = g.average()
    ref = g.paper_average()
    label = f"average ({g.classes_label()} classes)" if g.is_partial() else "average"
    average = [label, f"{_pct(avg)} ± {_pct(sd)}", _ref_cell(ref), _delta(avg, ref)]
    return rows, average + [""] * (len(_columns(g)) - len(average))


_DEFECT_INTRO = ("By defect type: each type against the good test images; pixel metrics where the detector has "
                 "maps; mean over the seeds whose rows carry per-defect figures.")
_DEFECT_COLUMNS = ("class", "defect type", "images", "seeds", "image AUROC", "pixel AUROC", "AUPRO")


def _defect_table(g: Group) -> list[list[str]]:
    """Folder datasets: one row per (category, defect type), each type against the good images
    (``eval.metrics.evaluate_by_defect``), mean over the seeds whose rows carry it; [] if none do."""
    rows = []
    for c in g.sorted_classes():
        for name in sorted(c.by_defect):
            m = c.by_defect[name]

            def cell(k, m=m):
                return _pct(float(np.mean(m[k]))) if m.get(k) else "—"
            rows.append([c.normal_class, name, f"{int(np.mean(m['n']))}", str(len(m["auroc"])), cell("auroc"),
                         cell("pixel_auroc"), cell("aupro")])
    return rows


def _partial_note(g: Group) -> str:
    ref = g.paper_average()
    text = f" **Partial: {g.classes_label()} classes.** The average is over the classes run, not the table's"
    if not g.reference:
        return text + "."
    return text + (f"; beside it, {ref.spread_kind}." if ref is not None
                   else "; the paper prints no per-class numbers to set beside it.")


def _md_row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def render_markdown(groups: Sequence[Group], *, header: str = "", comparisons: Sequence[Comparison] = ()) -> str:
    lines = [header] if header else []
    for g in groups:
        refs = sorted({r.label for r in g.reference.values()})
        rows, average = _table(g)
        lines += [
            f"### {g.title}",
            "",
            f"{g.seeds_label()} seed(s) per class; device: {', '.join(sorted(g.devices))}. "
            f"Paper: {'; '.join(refs) if refs else 'no published number for this setting'}."
            + (_partial_note(g) if g.is_partial() else ""),
            "",
            _md_row(_columns(g)),
            "|" + "---|" * len(_columns(g)),
        ]
        lines += [_md_row(r) for r in rows]
        lines.append(_md_row([f"**{c}**" if c else "" for c in average]))
        lines.append("")
        defects = _defect_table(g)
        if defects:
            lines += [_DEFECT_INTRO, "",
                      _md_row(_DEFECT_COLUMNS), "|" + "---|" * len(_DEFECT_COLUMNS), *map(_md_row, defects), ""]
    lines.append(_footnote(groups))
    paired = render_comparisons(comparisons)
    if paired:
        lines += ["", paired]
    unmatched = render_unmatched(groups)
    if unmatched:
        lines += ["", unmatched]
    return "\n".join(lines) + "\n"


def render_unmatched(groups: Sequence[Group]) -> str:
    """Markdown tables of the stored paper numbers for the methods and datasets that no complete
    paper-preset group in ``groups`` covers: the reproductions still to be run or finished (or,
    for seed 001's MVTec AD, data not present here)."""
    done = [(g.method, _reference_dataset(g.dataset, g.protocol), g.params) for g in groups
            if g.preset.startswith("paper") and not g.is_partial()]
    tables: dict[tuple[str, str, str, str], list[RefRow]] = defaultdict(list)
    for ref in load_reference():
        if not any(m == ref.method and d == ref.dataset and ref.matches(p) for m, d, p in done):
            tables[(ref.source, ref.table, ref.dataset, ref.metric)].append(ref)
    if not tables:
        return ""
    lines = ["## Paper numbers not yet run at the paper preset", "",
             "The papers' own numbers (in %, from `src/anomalens/eval/reference_tables.csv`) for the methods "
             "and datasets that no paper-preset results file above covers in full yet (partial ones are "
             "marked so above); not results of ours.", ""]
    for (source, table, dataset, metric), refs in tables.items():
        classes = list(dict.fromkeys(r.normal_class for r in refs))
        methods = list(dict.fromkeys((r.paper_method, r.method, r.params) for r in refs))
        cell = {(r.paper_method, r.method, r.params, r.normal_class): r for r in refs}
        lines += [f"### seed {source[:3]} {table}: {dataset}, {metric.upper()}", "",
                  _md_row(["paper method (our detector)", *classes]), "|" + "---|" * (len(classes) + 1)]
        for pm, m, params in methods:
            name = f"{pm} (`{m}`{''.join(f' {k}={v}' for k, v in params)})"
            lines.append(_md_row([name, *(_ref_cell(cell.get((pm, m, params, c))) for c in classes)]))
        lines.append("")
    return "\n".join(lines)


def _chart_png(g: Group) -> str:
    from .figures import _pyplot, figure_png

    plt = _pyplot()
    cls = g.sorted_classes()
    x = np.arange(len(cls))
    ours = [100 * c.mean() for c in cls]
    err = [100 * float(np.std(c.auroc)) for c in cls]
    paper = [g.reference[c.normal_class].value if c.normal_class in g.reference else np.nan for c in cls]
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(cls) + 2), 3.2), dpi=100)
    per_class_paper = not np.all(np.isnan(paper))
    if per_class_paper:
        ax.bar(x - 0.2, ours, 0.4, yerr=err, label="ours", color="#3b6ea8")
        ax.bar(x + 0.2, paper, 0.4, label="paper", color="#c8873a")
    else:
        ax.bar(x, ours, 0.6, yerr=err, label="ours", color="#3b6ea8")
        if g.paper_average() is not None:
            ax.axhline(g.paper_average().value, color="#c8873a", linestyle="--", label="paper average")
    ax.set_xticks(x, [c.normal_class for c in cls])
    lo = min([v for v in ours + paper if np.isfinite(v)] + [50.0])
    ax.set_ylim(max(0, lo - 5), 100)
    ax.set_ylabel("AUROC (%)")
    ax.set_xlabel("normal class")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{g.method} on {g.dataset}", fontsize=10)
    fig.tight_layout()
    return base64.b64encode(figure_png(fig)).decode()


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page (figures are embedded as data URLs)."""
    return "\n".join([
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
        ".top{display:flex;flex-wrap:wrap;gap:8px}figure{margin:4px}figcaption{font-size:11px;max-width:420px}"
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", body, "</body></html>",
    ])


def _html_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """An HTML table's rows: ``header`` as <th> cells, then ``rows`` as <td> cells, escaped."""
    return ["<tr>" + "".join(f"<{t}>{html.escape(x)}</{t}>" for x in r) + "</tr>"
            for t, r in [("th", header)] + [("td", r) for r in rows]]


def render_html(groups: Sequence[Group], records: Sequence[dict[str, Any]] = (),
                comparisons: Sequence[Comparison] = ()) -> str:
    """The tables and AUROC charts of ``groups``, the with/without ``comparisons``; then, if
    score ``records`` are given, the per-category figures
    (:func:`anomalens.eval.figures.render_records`)."""
    parts = []
    for g in groups:
        rows, average = _table(g)
        parts.append(f"<h2>{html.escape(g.title)}</h2>")
        parts.append(f"<img alt='AUROC per class' src='data:image/png;base64,{_chart_png(g)}'>")
        parts.append("<table>")
        parts += _html_rows(_columns(g), rows + [average])
        parts.append("</table>")
        defects = _defect_table(g)
        if defects:
            parts.append(f"<p>{_DEFECT_INTRO}</p><table>")
            parts += _html_rows(_DEFECT_COLUMNS, defects)
            parts.append("</table>")
    parts.append(f"<p>{html.escape(_footnote(groups))}</p>")
    if comparisons:
        parts.append(f"<h2>With and without</h2><p>{html.escape(_PAIRED_INTRO)}</p>")
        for c in comparisons:
            title, header, rows, notes = _comparison_table(c)
            parts.append(f"<h3>{html.escape(title)}</h3><table>")
            parts += _html_rows(header, rows)
            parts.append("</table>")
            parts += [f"<p>{html.escape(n.replace('`', ''))}</p>" for n in notes]
    if records:
        from .figures import render_records

        parts.append("<h2>Per-category figures</h2><p>For each category, of each method the run with the lowest "
                     "seed: ROC curves, the test scores of normal and anomalous images with the threshold the "
                     "detector chose from training data (dashed), and its most anomalous test images.</p>")
        parts.append(render_records(records))
    return html_page("anomalens benchmark report", "\n".join(parts))


README_START = "<!-- results:start (generated by anomalens report --readme; do not edit) -->"
README_END = "<!-- results:end -->"


def render_summary(groups: Sequence[Group]) -> str:
    """One line per (dataset, protocol, method, preset, params): average AUROC beside the paper's."""
    lines = [
        "| dataset | protocol | method | preset | classes | seeds/class | AUROC ours (avg ± std over classes) | paper "
        "| Δ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        avg, sd = g.average()
        ref = g.paper_average()
        extra = ", ".join(f"{k}={v}" for k, v in g.params.items() if k in _SUMMARY_PARAMS and v is not None)
        paper = "—" if ref is None else (
            f"{_ref_cell(ref)} ({ref.label}{f'; {ref.spread_kind}' if g.is_partial() else ''})")
        lines.append(
            f"| {g.dataset} | {g.protocol} | {g.method}{f' ({extra})' if extra else ''} | {g.preset} | "
            f"{g.classes_label()} | {g.seeds_label()} | {_pct(avg)} ± {_pct(sd)} | {paper} | {_delta(avg, ref)} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(readme: str | Path, groups: Sequence[Group]) -> None:
    """Replace the block between the results markers in ``readme`` with the summary table."""
    p = Path(readme)
    text = p.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{str(p)!r} has no results block ({README_START} ... {README_END})")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    atomic_write_text(p, head + README_START + "\n" + render_summary(groups) + README_END + tail, what="README")


def write_report(
    paths: Sequence[str | Path],
    *,
    markdown: str | Path | None = None,
    html_path: str | Path | None = None,
    readme: str | Path | None = None,
    scores_dir: str | Path | None = None,
) -> str:
    """Read results files and return the Markdown text; optionally write it and an HTML page
    (with the per-category figures of the score records under ``scores_dir``)."""
    rows: list[dict[str, Any]] = []
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"results file {str(p)!r} does not exist")
        rows += read_results(p)
    if not rows:
        raise ValueError(f"no results rows in {', '.join(map(str, paths))}")
    groups = summarize(rows)
    # name the folders as given (relative paths stay relative; an absolute one by its last part only,
    # so no machine path lands in a committed report)
    folders = sorted({(q.as_posix() if not q.is_absolute() else q.name) + "/" for q in (Path(p).parent for p in paths)})
    header = (
        "# Benchmark results\n\nGenerated by `anomalens report` from " + ", ".join(sorted(Path(p).name for p in paths))
        + f" (in {', '.join(folders)}); do not edit by hand.\n"
    )
    comparisons = paired_differences(rows)
    text = render_markdown(groups, header=header, comparisons=comparisons)
    if markdown is not None:
        atomic_write_text(markdown, text, what="report")
    if html_path is not None:
        from .figures import load_records

        records = load_records(scores_dir) if scores_dir is not None else []
        atomic_write_text(html_path, render_html(groups, records, comparisons), what="report")
    if readme is not None:
        update_readme(readme, groups)
    return text
