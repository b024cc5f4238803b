"""Seed 000, Q4 (Fig. 2): AUROC and search time of NN-QED over the PQ parameters m and c.

For each normal class (and seed) one trained InceptionCAE gives the training and test
embeddings; every (m, c) in m in {1, 2, 4, ..., 128}, c in {1, ..., 8} and the exact search
are then scored on those same embeddings. Models come from ``--models`` (saved by
``anomalens benchmark --save-models``, e.g. the paper-preset GPU run) or are trained here
with ``--preset``. One JSONL row per (class, seed, m, c); the run resumes where it stopped.
The report averages the grid over the networks, summarises the paper's setting against the
exact search and adds one line per network; ``--render-only`` regenerates it from the rows
alone, for the networks trained like the newest row's (``--preset`` picks that preset's instead).

    PYTHONPATH=src python benchmarks/pq_sweep.py --dataset fashion_mnist \\
        --models models/inception_cae_nnqed-fashion_mnist-paper --seeds 0-2 \\
        --out benchmarks/results/sweeps/pq_sweep-fashion_mnist-paper.jsonl --markdown benchmarks/PQ_SWEEP.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from anomalens._io import atomic_write_text  # noqa: E402
from anomalens.eval.benchmark import _append_row, parse_classes, parse_seeds, read_results  # noqa: E402
from anomalens.scoring.knn import KNNScorer  # noqa: E402

MS = (1, 2, 4, 8, 16, 32, 64, 128)
CS = (1, 2, 3, 4, 5, 6, 7, 8)


def embeddings(args, c: int, seed: int, det=None):
    """Training and test embeddings of class ``c`` from ``det`` (a saved model), or from a
    network trained here at ``--preset`` when ``det`` is None; and the test labels."""
    import anomalens
    from anomalens.data import load_dataset
    from anomalens.data.protocols import make_split

    split = make_split(load_dataset(args.dataset), "one_vs_rest", c)
    if det is None:
        det = anomalens.create("inception_cae_nnqed", preset=args.preset or "quick", index="flat", seed=seed).fit(split.x_train)
    return det._embed(split.x_train), det._embed(split.x_test), split.y_test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--models", type=Path, help="folder of saved detectors class<c>-seed<s>")
    p.add_argument("--preset", default=None,
                   help="train here with this preset when --models is not given (default quick); with "
                        "--render-only, report the networks trained like this preset's")
    p.add_argument("--classes", default="0-9")
    p.add_argument("--seeds", default="0")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--render-only", action="store_true",
                   help="only regenerate --markdown from the rows already in --out (no model is loaded)")
    args = p.parse_args()

    import anomalens
    from anomalens.eval.metrics import auroc

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # the network's training setting is part of a row: the paper preset changed (GAP in training)
    preset_gap = anomalens.create("inception_cae_nnqed", preset=args.preset or "quick").train_gap
    rows = read_results(args.out, repair=True)
    done = {(r["normal_class"], r["seed"], r["m"], r["nbits"], r.get("train_gap")) for r in rows}
    grid = [("flat", 0, 0)] + [("pq", m, c) for m in MS for c in CS]
    # which networks the report covers: those of --preset, else those of the newest row (one
    # results file holds the sweeps of networks trained with and without GAP)
    gap = preset_gap if args.preset or not rows else rows[-1].get("train_gap")
    for c in [] if args.render_only else parse_classes(args.classes, range(10)):
        for seed in parse_seeds(args.seeds):
            det = anomalens.load(Path(args.models) / f"class{c}-seed{seed}") if args.models else None
            gap = preset_gap if det is None else det.train_gap  # a saved model says how it was trained
            todo = [g for g in grid if (c, seed, g[1], g[2], gap) not in done]
            if not todo:
                continue
            tr, te, y = embeddings(args, c, seed, det)
            for index, m, nbits in todo:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # small-sample PQ warning for c >= 7
                    try:
                        sc = KNNScorer(index=index, m=max(m, 1), nbits=max(nbits, 1), seed=seed).fit(tr)
                    except ValueError as e:  # a combination faiss cannot search (m = d/2 with c < 3)
                        _append_row(args.out, {"dataset": args.dataset, "normal_class": c, "seed": seed, "index": index,
                                               "m": m, "nbits": nbits, "train_gap": gap, "auroc": None,
                                               "unsupported": str(e)})
                        continue
                t1 = time.perf_counter()
                s = sc.score(te)
                t2 = time.perf_counter()
                row = {"dataset": args.dataset, "normal_class": c, "seed": seed, "index": index, "m": m, "nbits": nbits,
                       "train_gap": gap, "auroc": auroc(y, s), "build_s": round(t1 - t0, 4), "search_s": round(t2 - t1, 4),
                       "memory_bytes": sc.memory_bytes, "preset": None if args.models else args.preset or "quick",
                       "models": str(args.models) if args.models else None}
                _append_row(args.out, row)
            print(f"class {c} seed {seed}: {len(todo)} settings", flush=True)
    text = render([r for r in read_results(args.out) if r.get("train_gap") == gap])
    if args.markdown:
        atomic_write_text(args.markdown, text + "\n")
    print(text)


def render(rows: list[dict]) -> str:
    def cell(sel, key):
        v = [r[key] for r in rows if sel(r) and r.get(key) is not None]
        return np.mean(v) if v else float("nan")

    models = sorted({(r["normal_class"], r["seed"]) for r in rows})
    classes = sorted({c for c, _ in models})
    seeds = sorted({s for _, s in models})
    exact = cell(lambda r: r["index"] == "flat", "auroc")
    partial = f" **Partial: {len(classes)} of 10 classes.**" if len(classes) < 10 else ""
    lines = ["# PQ parameter sweep (seed 000, Fig. 2)", "",
             f"InceptionCAE NN-QED on {rows[0]['dataset'] if rows else '?'}, mean over {len(models)} (class, seed) models "
             f"(classes {', '.join(map(str, classes))}; seeds {', '.join(map(str, seeds))}; trained with "
             f"train_gap={rows[0].get('train_gap') if rows else '?'}).{partial} "
             "Generated by `benchmarks/pq_sweep.py`.", "",
             f"Exact search (EED): AUROC {100 * exact:.2f}, search {cell(lambda r: r['index'] == 'flat', 'search_s'):.3f} s.", "",
             "## AUROC (%) by m (rows) and c = bits per code (columns)", "",
             "| m \\ c | " + " | ".join(map(str, CS)) + " |", "|---:|" + "---:|" * len(CS)]
    for m in MS:
        lines.append(f"| {m} | " + " | ".join(
            f"{100 * cell(lambda r, m=m, c=c: r['m'] == m and r['nbits'] == c, 'auroc'):.2f}" for c in CS) + " |")
    lines += ["", "nan = a combination faiss cannot search (m = 64 on 128-d vectors needs c >= 3)."]
    lines += ["", "## Search time (s) for the test set, same grid", "",
              "| m \\ c | " + " | ".join(map(str, CS)) + " |", "|---:|" + "---:|" * len(CS)]
    for m in MS:
        lines.append(f"| {m} | " + " | ".join(
            f"{cell(lambda r, m=m, c=c: r['m'] == m and r['nbits'] == c, 'search_s'):.3f}" for c in CS) + " |")
    return "\n".join(lines + ["", *summary(rows, models), "", *per_network(rows, models)])


def summary(rows: list[dict], models: list[tuple[int, int]]) -> list[str]:
    """The paper's Fig. 2 claims in numbers: the paper's setting (m = 32, c = 4) against the
    exact search, the grid means at c = 4 with m >= 8, what c = 1 and c = 2 cost, and on how
    many networks the paper's setting is at or above the exact search."""
    def mean(m, c):
        v = [r["auroc"] for r in rows if r["index"] == ("flat" if m == 0 else "pq") and r["m"] == m
             and r["nbits"] == c and r.get("auroc") is not None]
        return 100 * float(np.mean(v)) if v else None

    exact, paper = mean(0, 0), mean(32, 4)
    if exact is None or paper is None:
        return ["## Summary", "", "Not enough rows for a summary (needs the exact search and m = 32, c = 4)."]

    def span(v, digits=2, unit=""):
        return f"{min(v):.{digits}f} to {max(v):.{digits}f}{unit}" if v else "nothing measured"

    c4 = [v for m in MS if m >= 8 and (v := mean(m, 4)) is not None]
    cost = {c: [exact - v for m in MS if (v := mean(m, c)) is not None] for c in (1, 2)}
    own = {(r["normal_class"], r["seed"], r["m"], r["nbits"]): r["auroc"] for r in rows if r.get("auroc") is not None}
    both = [(own[k + (32, 4)], own[k + (0, 0)]) for k in models if k + (32, 4) in own and k + (0, 0) in own]
    ahead = sum(p >= e for p, e in both)
    return ["## Summary", "",
            f"Grid means over the {len(models)} networks: m = 32, c = 4 gives {paper:.2f} against the exact "
            f"search's {exact:.2f} ({paper - exact:+.2f}); c = 4 with m >= 8 gives {span(c4)}; against the exact "
            f"search c = 1 costs {span(cost[1], 1, ' points')} and c = 2 {span(cost[2], 1, ' points')}. "
            f"On {ahead} of {len(both)} networks m = 32, c = 4 is "
            "at or above the exact search."]


def per_network(rows: list[dict], models: list[tuple[int, int]]) -> list[str]:
    """One line per (class, seed) network: the exact search, the paper's setting (m = 32, c = 4),
    the spread over m at c = 1, 2 and at c = 4 with m >= 8, and the best (m, c), in AUROC %."""
    def fmt(v):
        return "-" if v is None else f"{100 * v:.2f}"

    def span(v):
        return f"{100 * min(v):.2f}-{100 * max(v):.2f}" if v else "-"

    lines = ["## Per network (AUROC %)", "",
             "| class | seed | exact | m = 32, c = 4 | minus exact | c = 1, all m | c = 2, all m | c = 4, m >= 8 | best (m, c) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, s in models:
        own = [r for r in rows if (r["normal_class"], r["seed"]) == (c, s) and r.get("auroc") is not None]
        pq = {(r["m"], r["nbits"]): r["auroc"] for r in own if r["index"] == "pq"}
        exact = next((r["auroc"] for r in own if r["index"] == "flat"), None)
        paper = pq.get((32, 4))
        best = max(pq, key=pq.get) if pq else None
        lines.append(f"| {c} | {s} | {fmt(exact)} | {fmt(paper)} | "
                     f"{'-' if None in (paper, exact) else f'{100 * (paper - exact):+.2f}'} | "
                     f"{span([v for (m, b), v in pq.items() if b == 1])} | {span([v for (m, b), v in pq.items() if b == 2])} | "
                     f"{span([v for (m, b), v in pq.items() if b == 4 and m >= 8])} | "
                     f"{'-' if best is None else f'{fmt(pq[best])} ({best[0]}, {best[1]})'} |")
    return lines


if __name__ == "__main__":
    main()
