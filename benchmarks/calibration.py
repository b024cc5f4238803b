"""False alarms on normal test images: the fit-time threshold against a conformal calibration.

For each method, class and seed (one-vs-rest): ``--cal`` of the class's training images,
drawn from the seed, are held out; the detector is fitted on the rest and its fit-time
``threshold_`` (the ``threshold_quantile`` quantile of its training scores, leave-one-out or
held out where the method allows, in-sample otherwise) is compared with
``calibrate(held_out, fpr=--fpr)``. Reported: the false-positive rate on the class's normal
*test* images (the target is ``--fpr``) and the true-positive rate on the anomalous ones, at
each threshold. No test label chooses anything; the test images only count.

    PYTHONPATH=src python benchmarks/calibration.py --dataset mnist --method raw_nnqed --preset paper \\
        --classes 0-9 --seeds 0 --out benchmarks/results/calibration/thresholds.jsonl --markdown benchmarks/CALIBRATION.md

With ``--models DIR`` (networks saved by ``anomalens benchmark --save-models``, fitted on every
training image of their class) ``--method`` scores that network (another scorer of it is
derived, e.g. ``inception_cae_re`` from ``inception_cae_nnqed``) and calibration uses half of
the class's normal test images, the FPR counted on the other half:

    PYTHONPATH=src python benchmarks/calibration.py --dataset fashion_mnist --preset paper \\
        --models models/inception_cae_nnqed-fashion_mnist-paper --classes 4,5 --seeds 2 \\
        --method inception_cae_nnqed --method inception_cae_re --out benchmarks/results/calibration/thresholds.jsonl

Rows already in ``--out`` (same method, preset, dataset, class, seed, calibration source and
fpr) are skipped, so a run can be resumed or extended with other methods; ``--markdown`` renders every row of ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from anomalens._io import atomic_write_text  # noqa: E402

KEY = ("method", "preset", "dataset", "normal_class", "seed", "cal_source", "fpr_target")


def _key(row: dict) -> tuple:
    return tuple(row.get(k, "train") if k == "cal_source" else row[k] for k in KEY)


def run_one(ds, method: str, preset: str | None, c: int, seed: int, n_cal: int, fpr: float, **overrides) -> dict:
    """Fit on the class's training images less ``n_cal`` held out (drawn from ``seed``), calibrate on those."""
    import anomalens
    from anomalens.data.protocols import make_split

    split = make_split(ds, "one_vs_rest", c)
    if not 0 < n_cal < len(split.x_train) - 1:
        raise ValueError(f"--cal {n_cal}: class {c} has {len(split.x_train)} training images")
    perm = np.random.default_rng(seed).permutation(len(split.x_train))
    held, fit_on = split.x_train[np.sort(perm[:n_cal])], split.x_train[np.sort(perm[n_cal:])]
    t0 = time.perf_counter()
    det = anomalens.create(method, preset=preset, seed=seed, **overrides).fit(fit_on)
    fit_s = time.perf_counter() - t0
    test = det.score(split.x_test)
    row = {"method": method, "preset": preset, "dataset": ds.name, "normal_class": c, "seed": seed,
           "cal_source": "train", "n_fit": len(fit_on), "fit_seconds": fit_s}
    return {**row, **_rates(det, split.y_test, test, np.ones(len(test), bool), det.score(held), fpr)}


HALVINGS = 200


def run_saved(ds, models: Path, method: str, preset: str | None, c: int, seed: int, fpr: float) -> dict:
    """A network saved by ``anomalens benchmark --save-models`` (fitted on *all* the class's
    training images, so none is left to hold out): ``method`` on it (derived when it is
    another scorer of the same network), calibrated on half of the class's normal *test*
    images (drawn from ``seed``) and counted on the other half. Labels only pick the normal
    images, as a user would pick a folder of good parts; nothing is chosen by them."""
    import anomalens
    from anomalens.data.protocols import make_split

    split = make_split(ds, "one_vs_rest", c)
    base = anomalens.load(models / f"class{c}-seed{seed}")
    det = base if method == base.name else base.derive(method, split.x_train)
    test = det.score(split.x_test)
    normal = np.flatnonzero(split.y_test == 0)
    rng = np.random.default_rng(seed)
    cal = rng.permutation(normal)[: len(normal) // 2]
    counted = np.ones(len(test), bool)
    counted[cal] = False
    row = {"method": method, "preset": preset, "dataset": ds.name, "normal_class": c, "seed": seed,
           "cal_source": "test_half", "n_fit": len(split.x_train), "models": str(models)}
    return {**row, **_rates(det, split.y_test, test, counted, test[cal], fpr), **_halvings(det, test[normal], fpr, rng)}


def _halvings(det, normal_scores: np.ndarray, fpr: float, rng: np.random.Generator, n: int = HALVINGS) -> dict:
    """The calibrated FPR over ``n`` more random halvings of the normal test scores (calibrate
    on one half, count on the other): one split is one draw of a random quantity, whose mean
    the conformal guarantee bounds (no new scoring, only new splits)."""
    half, rates = len(normal_scores) // 2, np.empty(n)
    for i in range(n):
        perm = rng.permutation(len(normal_scores))
        det.calibrate_from_scores(normal_scores[perm[:half]], fpr=fpr)
        rates[i] = np.mean(normal_scores[perm[half:]] > det.threshold_)
    return {"halvings": n, "fpr_cal_halvings_mean": float(rates.mean()),
            "fpr_cal_halvings_p95": float(np.quantile(rates, 0.95))}


def _rates(det, y: np.ndarray, test: np.ndarray, counted: np.ndarray, cal: np.ndarray, fpr: float) -> dict:
    """FPR on the counted normal test images and TPR on the anomalous ones, at the fit-time
    threshold and after calibrating on ``cal`` (scores)."""
    from anomalens.eval.metrics import auroc

    normal, anomalous = test[(y == 0) & counted], test[y == 1]
    out = {"n_cal": len(cal), "fpr_target": fpr, "n_test_normal": len(normal), "n_test_anomalous": len(anomalous),
           "auroc": auroc(y, test), "threshold_quantile": det.threshold_quantile, "threshold_fit": det.threshold_,
           "fpr_fit": float(np.mean(normal > det.threshold_)), "tpr_fit": float(np.mean(anomalous > det.threshold_))}
    det.calibrate_from_scores(cal, fpr=fpr)
    out.update({"threshold_cal": det.threshold_, "fpr_cal": float(np.mean(normal > det.threshold_)),
                "tpr_cal": float(np.mean(anomalous > det.threshold_))})
    return out


def render(rows: list[dict]) -> str:
    lines = ["# Thresholds: fit-time quantile against conformal calibration", "",
             "Generated by `benchmarks/calibration.py` from `benchmarks/results/calibration/thresholds.jsonl`. Each row: "
             "one-vs-rest, the class's normal test images give the false-positive rate (FPR), its anomalous ones the "
             "true-positive rate (TPR); *fit* = the detector's own `threshold_` (the `threshold_quantile` quantile of "
             "its training scores), *calibrated* = `calibrate()` at the target FPR on normal images the detector was not "
             "fitted on: training images held out before fitting, or, for networks saved fitted on every training "
             "image (`--models`), half the class's normal test images, the FPR then counted on the other half. "
             "Means over classes and seeds; *worst* = the largest FPR of any class. One split is one draw: with "
             "`--models` the calibrated FPR is also given over 200 more random halvings of the same normal test "
             "scores (their mean, which the conformal guarantee bounds by the target, and the largest 95th "
             "percentile of any class).", "",
             "| dataset | method | preset | target FPR | held out | runs | AUROC | FPR fit (worst) | TPR fit | "
             "FPR calibrated (worst) | TPR calibrated | FPR calibrated, 200 halvings: mean (95th pct) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        source = r.get("cal_source", "train")
        held = f"{r['n_cal']} training" if source == "train" else "half the normal test"
        groups.setdefault((r["dataset"], r["method"], r["preset"], r["fpr_target"], held), []).append(r)
    for (dataset, method, preset, fpr, held), rs in sorted(groups.items()):
        def m(key: str) -> float:
            return 100 * float(np.mean([r[key] for r in rs]))

        worst_fit, worst_cal = (100 * max(r[k] for r in rs) for k in ("fpr_fit", "fpr_cal"))
        halved = "—"
        if all("fpr_cal_halvings_mean" in r for r in rs):
            halved = f"{m('fpr_cal_halvings_mean'):.2f} % ({100 * max(r['fpr_cal_halvings_p95'] for r in rs):.1f} %)"
        lines.append(f"| {dataset} | {method} | {preset} | {100 * fpr:g} % | {held} | {len(rs)} | {m('auroc'):.1f} | "
                     f"{m('fpr_fit'):.2f} % ({worst_fit:.1f} %) | {m('tpr_fit'):.1f} % | "
                     f"{m('fpr_cal'):.2f} % ({worst_cal:.1f} %) | {m('tpr_cal'):.1f} % | {halved} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--method", action="append", help="detector (repeatable); default raw_nnqed")
    p.add_argument("--preset", default="paper")
    p.add_argument("--classes", default="0-9")
    p.add_argument("--seeds", default="0")
    p.add_argument("--cal", type=int, default=1000, help="training images of the class held out for calibration")
    p.add_argument("--models", type=Path, help="saved networks class<c>-seed<s> (benchmark --save-models): "
                   "calibrate on half the normal test images instead of training")
    p.add_argument("--fpr", type=float, default=0.01)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--markdown", type=Path)
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args()

    from anomalens.data import load_dataset
    from anomalens.eval.benchmark import _append_row, parse_classes, parse_seeds, read_results

    rows = read_results(args.out, repair=not args.render_only)
    if not args.render_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ds = load_dataset(args.dataset)
        done = {_key(r) for r in rows}
        source = "train" if args.models is None else "test_half"
        for method in args.method or ["raw_nnqed"]:
            for c in parse_classes(args.classes, range(10)):
                for s in parse_seeds(args.seeds):
                    if (method, args.preset, ds.name, c, s, source, args.fpr) in done:
                        continue
                    if args.models is None:
                        row = run_one(ds, method, args.preset, c, s, args.cal, args.fpr)
                    else:
                        row = run_saved(ds, args.models, method, args.preset, c, s, args.fpr)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    _append_row(args.out, row)
    if args.markdown is not None:
        atomic_write_text(args.markdown, render(rows), what="Markdown summary")


if __name__ == "__main__":
    main()
