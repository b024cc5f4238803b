"""The benchmark runner: one JSON line per (method, preset, dataset, protocol, class, seed).

Resumable: rows already in the output file are skipped; each row is flushed and fsynced
as soon as it is finished, so a kill loses at most the row in progress. A torn last line
(a kill in the middle of a write) is detected and dropped before appending.

The runner hands the detector the training images of the split only, and scores the test
images; test labels never reach the detector.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._io import ensure_writable_dir
from ..data import load_dataset, make_split, protocol_classes
from ..registry import create
from .metrics import evaluate

__all__ = ["run_benchmark", "read_results", "parse_classes", "parse_seeds", "ROW_FIELDS"]

ROW_FIELDS = (
    "method", "preset", "dataset", "protocol", "normal_class", "seed", "auroc", "aupr_anomaly", "aupr_normal",
    "fpr_at_95tpr", "f1", "fit_seconds", "score_seconds", "peak_memory_mb", "n_train", "n_test", "device",
    "params", "version", "commit",
)
KEY_FIELDS = ("method", "preset", "dataset", "protocol", "normal_class", "seed")


def _row_key(row: dict[str, Any]) -> tuple:
    params = {k: v for k, v in row.get("params", {}).items() if k != "seed"}
    return tuple(str(row[k]) for k in KEY_FIELDS) + (json.dumps(params, sort_keys=True),)


def read_results(path: str | os.PathLike, *, repair: bool = False) -> list[dict[str, Any]]:
    """Rows of a results file. A torn last line is ignored (and cut off if ``repair``)."""
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    complete, _, torn = data.rpartition(b"\n")
    if torn:
        warnings.warn(f"{str(p)!r}: dropping an incomplete last line ({len(torn)} bytes) left by an interrupted run")
        if repair:
            with open(p, "r+b") as f:
                f.truncate(len(complete) + (1 if complete else 0))
                f.flush()
                os.fsync(f.fileno())
    rows = []
    for i, line in enumerate(complete.split(b"\n") if complete else [], 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{str(p)!r} line {i} is not valid JSON ({e}); fix or remove that line") from e
    return rows


def _append_row(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def parse_classes(spec: str | Sequence[int], available: Sequence[int]) -> list[int]:
    """``"all"``, ``"3"``, ``"0,2,5"`` or ``"0-4"`` (or a list) -> class indices, checked."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return list(available)
        out: list[int] = []
        for part in spec.split(","):
            part = part.strip()
            try:
                if "-" in part:
                    a, b = part.split("-", 1)
                    out.extend(range(int(a), int(b) + 1))
                else:
                    out.append(int(part))
            except ValueError as e:
                raise ValueError(f"--classes: cannot read {spec!r}; use 'all', '3', '0,2,5' or '0-4'") from e
    else:
        out = [int(c) for c in spec]
    bad = [c for c in out if c not in available]
    if bad:
        raise ValueError(f"--classes: {bad} not in this dataset's classes {list(available)}")
    return out


def parse_seeds(spec: str | Sequence[int]) -> list[int]:
    if isinstance(spec, str):
        message = f"--seeds: cannot read {spec!r}; use '0', '0,1,2' or '0-9'"
        if spec.strip().lower() == "all":
            raise ValueError(message)
        try:
            return parse_classes(spec, range(0, 1 << 31))
        except ValueError as e:
            raise ValueError(message) from e
    return [int(s) for s in spec]


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here.parent, capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _peak_memory_mb(det: Any) -> float:
    """Peak GPU memory of the run on CUDA, else the process's peak resident memory (Linux: KiB)."""
    try:
        import torch

        if torch.cuda.is_available() and det.device_name.startswith("cuda"):
            return torch.cuda.max_memory_allocated() / 2**20
    except ImportError:  # pragma: no cover
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if platform.system() == "Darwin" else 2**10)


def run_benchmark(
    method: str,
    dataset: str,
    *,
    protocol: str = "one_vs_rest",
    classes: str | Sequence[int] = "all",
    seeds: str | Sequence[int] = (0,),
    preset: str | None = "quick",
    out: str | os.PathLike,
    overrides: dict[str, Any] | None = None,
    data_root: str | os.PathLike | None = None,
    category: str | None = None,
    image_size: int | None = None,
    progress: bool = True,
    batch_seeds: bool = True,
) -> list[dict[str, Any]]:
    """Run ``method`` over classes x seeds and append one results row each to ``out``.

    Returns the rows written by this call (finished rows already in ``out`` are skipped).
    With ``batch_seeds`` the pending seeds of a class are fitted together
    (:meth:`~anomalens.detectors.BaseDetector.fit_seeds`); a row is written for each as soon
    as the group is fitted, so an interrupted run loses at most one group.
    """
    from tqdm.auto import tqdm

    overrides = dict(overrides or {})
    create(method, preset=preset, **overrides)  # unknown names fail before any data is loaded
    out_path = Path(out)
    ensure_writable_dir(out_path.parent if str(out_path.parent) else ".", "results")
    if out_path.exists() and not os.access(out_path, os.W_OK):
        raise PermissionError(f"results file {str(out_path)!r} is not writable")
    done = {_row_key(r) for r in read_results(out_path, repair=True)}

    ds = load_dataset(dataset, data_root, category=category, image_size=image_size)
    class_ids = parse_classes(classes, protocol_classes(ds, protocol))
    seed_list = parse_seeds(seeds)
    ds_name = dataset if dataset != "folder" else ds.name
    commit = _git_commit()
    written: list[dict[str, Any]] = []
    bar = tqdm(total=len(class_ids) * len(seed_list), disable=not progress, unit="run", dynamic_ncols=True)
    for c in class_ids:
        split = make_split(ds, protocol, c)
        normal_class: int | str = split.normal_class if protocol == "folder" else c
        base = {"method": method, "preset": preset, "dataset": ds_name, "protocol": protocol, "normal_class": normal_class}
        proto = create(method, preset=preset, **overrides)
        pending = [s for s in seed_list if _row_key({**base, "seed": s, "params": proto.get_params()}) not in done]
        bar.update(len(seed_list) - len(pending))
        if not pending:
            continue
        # Seeds of one class share the training images: detectors that can train several
        # copies as one batched network do so (fit_seconds is then the batch's time / K).
        groups = [pending] if batch_seeds else [[s] for s in pending]
        for group in groups:
            bar.set_description(f"{method} {ds_name} class {normal_class} seed{'s' if len(group) > 1 else ''} "
                                f"{','.join(map(str, group))}")
            t0 = time.perf_counter()
            dets = proto.fit_seeds(split.x_train, group)
            fit_seconds = (time.perf_counter() - t0) / len(group)
            for s, det in zip(group, dets):
                t1 = time.perf_counter()
                scores = det.score(split.x_test)
                t2 = time.perf_counter()
                metrics = evaluate(split.y_test, scores, det.threshold_)
                row = {
                    **base, "seed": s,
                    **{k: metrics[k] for k in ("auroc", "aupr_anomaly", "aupr_normal", "fpr_at_95tpr", "f1")},
                    "f1_oracle": metrics["f1_oracle"],
                    "fit_seconds": round(fit_seconds, 4), "score_seconds": round(t2 - t1, 4),
                    "peak_memory_mb": round(_peak_memory_mb(det), 1),
                    "n_train": int(len(split.x_train)), "n_test": int(len(split.x_test)),
                    "device": det.device_name, "params": det.get_params(), "version": __version__, "commit": commit,
                    "fit_models_batched": len(group),
                }
                if not np.isfinite(row["auroc"]):  # pragma: no cover - evaluate() already checks
                    raise RuntimeError(f"non-finite AUROC for class {c} seed {s}")
                _append_row(out_path, row)
                done.add(_row_key(row))
                written.append(row)
                bar.update(1)
                bar.set_postfix(auroc=f"{row['auroc']:.4f}")
    bar.close()
    return written
