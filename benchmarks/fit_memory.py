"""Peak memory of fitting the patch detectors, for two versions of the package side by side.

Each (tree, method) pair is fitted in a fresh Python process on one ``synthetic_parts``
category's training images (or an MVTec-style folder's, ``--data-root``): the process's peak
resident memory (``ru_maxrss``) is read after the fit, beside its resident memory just before
it (the backbone loaded by a first fit on 20 of the images, the images in memory), so ``fit_mb = peak - before`` is what the fit itself
added. Every process also reports the fitted threshold and a sha256 of the saved weights, so
the table says whether two versions fitted the same model.

    PYTHONPATH=src python benchmarks/fit_memory.py --tree before=/path/to/old/src --tree after=src \\
        --methods vgg19_patch_nnqed,effnet_patch_nnqed --category bottle \\
        --out benchmarks/results/fit_memory.json

Extra ``--set key=value`` pairs go to every detector (``--set coreset=0.015625``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import hashlib, json, resource, sys, tempfile, time
from pathlib import Path

import anomalens
from anomalens.data import load_dataset

method, category, seed, overrides = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
root = sys.argv[6] or None  # an MVTec-style folder, else the synthetic_parts stand-in
x = load_dataset("folder" if root else "synthetic_parts", root, category=category).x_train[: int(sys.argv[5]) or None]
det = anomalens.create(method, seed=seed, **overrides)
anomalens.create(method, **overrides).fit(x[:20])  # loads the backbone: not the fit's memory


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


before = rss_mb()
t = time.perf_counter()
det.fit(x)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with tempfile.TemporaryDirectory() as d:
    det.save(d)
    digest = hashlib.sha256(Path(d, "weights.safetensors").read_bytes()).hexdigest()
print(json.dumps({"before_mb": round(before, 1), "peak_mb": round(peak, 1), "fit_mb": round(peak - before, 1),
                  "fit_seconds": round(seconds, 1), "threshold": float(det.threshold_), "weights_sha256": digest,
                  "n_train": int(len(x))}))
"""


def _commit(src: str) -> str | None:
    """The git commit a tree's source is checked out at (None outside git), with "+dirty" when it
    has uncommitted changes."""
    git = ["git", "-C", str(Path(src).resolve())]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return None
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", required=True, help="label=path of a package's src folder")
    ap.add_argument("--methods", default="vgg19_patch_nnqed,effnet_patch_nnqed")
    ap.add_argument("--category", default="bottle")
    ap.add_argument("--data-root", type=Path, help="an MVTec-style folder to read --category from (default: "
                    "the synthetic_parts stand-in)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="fit on the first N training images (0: all)")
    ap.add_argument("--set", action="append", default=[], help="key=value for every detector (as anomalens --set)")
    ap.add_argument("--out", type=Path, help="JSON file for the rows")
    args = ap.parse_args(argv)
    trees = [t.split("=", 1) for t in args.tree]
    if any(len(t) != 2 or not Path(t[1], "anomalens").is_dir() for t in trees):
        ap.error("--tree takes label=path, path a folder holding the anomalens package")
    from anomalens.cli import _overrides  # the command line's own reading of --set key=value

    overrides = _overrides(args.set)
    root = str(args.data_root.resolve()) if args.data_root else ""
    rows = []
    for method in args.methods.split(","):
        for label, src in trees:
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
            res = subprocess.run([sys.executable, "-c", _CHILD, method, args.category, str(args.seed),
                                  json.dumps(overrides), str(args.limit), root], env=env, capture_output=True, text=True)
            if res.returncode:
                raise SystemExit(f"{method} in {src} failed:\n{res.stderr}")
            row = {"method": method, "tree": label, "commit": _commit(src), "category": args.category, "seed": args.seed,
                   "overrides": overrides, **json.loads(res.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{method:20s} {label:8s} peak {row['peak_mb']:8.1f} MB  fit adds {row['fit_mb']:8.1f} MB  "
                  f"{row['fit_seconds']:6.1f} s  threshold {row['threshold']:.6g}  weights {row['weights_sha256'][:12]}",
                  flush=True)
    if args.out:
        from anomalens._io import atomic_write_text

        meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                "threads": os.environ.get("OMP_NUM_THREADS")}
        atomic_write_text(args.out, json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
