"""The benchmark runner: one JSON line per (method, preset, dataset, protocol, class, seed).

Resumable: rows already in the output file are skipped; each row is flushed and fsynced
as soon as it is finished, so a kill loses at most the row in progress. A torn last line
(a kill in the middle of a write) is detected and dropped before appending.

The runner hands the detector the training images of the split only, and scores the test
images; test labels never reach the detector.
"""

from __future__ import annotations

import contextlib
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
from ..data import load_dataset, make_ood_split, make_split, protocol_classes
from ..data.protocols import validation_anomalies
from ..detectors.base import load_detector, localises
from ..registry import create
from .metrics import evaluate, evaluate_by_defect, evaluate_maps

__all__ = ["run_benchmark", "read_results", "parse_classes", "parse_seeds", "ROW_FIELDS"]

ROW_FIELDS = (
    "method", "preset", "dataset", "protocol", "normal_class", "seed", "auroc", "aupr_anomaly", "aupr_normal",
    "fpr_at_95tpr", "f1", "fit_seconds", "score_seconds", "peak_memory_mb", "n_train", "n_test", "device",
    "params", "version", "commit",
)
KEY_FIELDS = ("method", "preset", "dataset", "protocol", "normal_class", "seed")
#: Row parameters that are not settings of the run: the seed (a key field), what a run chose or
#: drew (selection, validation anomalies), and ``verbose`` (progress output; older rows carry it).
NOT_SETTINGS = frozenset({"seed", "selected", "validation_anomalies", "verbose"})


def _row_key(row: dict[str, Any]) -> tuple:
    params = {k: v for k, v in row.get("params", {}).items() if k not in NOT_SETTINGS}
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


#: the image-level metrics every results row carries, in this order
METRIC_FIELDS = ("auroc", "aupr_anomaly", "aupr_normal", "fpr_at_95tpr", "f1", "f1_oracle", "precision", "recall")


def _metric_fields(metrics: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] for k in METRIC_FIELDS}


def _params_of(det: Any) -> dict[str, Any]:
    """The detector's hyper-parameters (without ``verbose``), plus what its own selection chose
    (``selection_``)."""
    params = det.get_params()
    params.pop("verbose", None)
    if getattr(det, "selection_", None) is not None:
        params["selected"] = det.selection_
    return params


def _run_row(det: Any, method: str, base: dict[str, Any], seed: int, split: Any, fit_seconds: float, commit: str,
             batched: int) -> tuple[dict[str, Any], np.ndarray]:
    """Score the test split with a fitted detector; its results row and the test scores."""
    t1 = time.perf_counter()
    scores = det.score(split.x_test)
    t2 = time.perf_counter()
    metrics = evaluate(split.y_test, scores, det.threshold_)
    row = {
        **base, "method": method, "seed": seed,
        **_metric_fields(metrics),
        "fit_seconds": round(fit_seconds, 4), "score_seconds": round(t2 - t1, 4),
        "peak_memory_mb": round(_peak_memory_mb(det), 1),
        "n_train": int(len(split.x_train)), "n_test": int(len(split.x_test)),
        "device": det.device_name, "params": _params_of(det), "version": __version__, "commit": commit,
        "fit_models_batched": batched,
    }
    maps = None
    if split.test_masks is not None and localises(det) and split.test_masks.any():
        t3 = time.perf_counter()
        maps = det.anomaly_map(split.x_test)
        row.update(evaluate_maps(split.test_masks, maps))
        row["map_seconds"] = round(time.perf_counter() - t3, 4)
    if split.test_defects is not None and len(set(split.test_defects) - {"good"}) > 1:
        row["by_defect"] = evaluate_by_defect(split.test_defects, split.y_test, scores, split.test_masks, maps)
    if split.protocol.startswith("ood:"):
        row["mean_score_normal"] = float(np.mean(scores[split.y_test == 0]))
        row["mean_score_anomalous"] = float(np.mean(scores[split.y_test == 1]))
    if not np.isfinite(row["auroc"]):  # pragma: no cover - evaluate() already checks
        raise RuntimeError(f"non-finite AUROC for {method} class {base['normal_class']} seed {seed}")
    return row, scores


def _test_names(ds: Any) -> list[str] | None:
    """The test images' names for score records: paths below the category folder (folder datasets)."""
    if not ds.test_paths:
        return None
    root = Path(ds.meta.get("root", "")) / str(ds.meta.get("category", ""))
    out = []
    for p in map(Path, ds.test_paths):
        try:
            out.append(p.relative_to(root).as_posix())
        except ValueError:
            out.append(p.name)
    return out


def _defaults(method: str, preset: str | None) -> dict[str, Any] | None:
    """``method``'s parameters at ``preset`` without overrides (None if it has no such preset)."""
    try:
        return create(method, preset=preset).get_params()
    except (ValueError, KeyError):
        return None


def _keep_record(directory: str | os.PathLike, row: dict[str, Any], scores: np.ndarray, det: Any, split: Any,
                 names: list[str] | None, default_params: dict[str, Any] | None, *, pictures: bool,
                 threshold: float | None = None, grid: np.ndarray | None = None) -> None:
    """Write the run's score record (``--scores``); with ``pictures`` also the panels of its most
    anomalous test images and ``grid``. The runner asks for pictures for the lowest seed of the
    call only: the report shows that seed's run, and the other seeds' pictures would only weigh
    on the results folder."""
    from .figures import top_indices, write_run_record

    top = top_indices(scores)
    kw: dict[str, Any] = {}
    if pictures:
        kw = {"images": split.x_test[top], "maps": det.anomaly_map(split.x_test[top]) if localises(det)
              else None, "masks": None if split.test_masks is None else split.test_masks[top], "grid": grid}
    write_run_record(directory, row, scores, split.y_test, det.threshold_ if threshold is None else threshold,
                     names=names, top=top, default_params=default_params, **kw)


def _trains_on_cpu(proto: Any) -> bool:
    """Whether ``proto`` is a network detector that will train on the CPU."""
    device = getattr(proto, "_torch_device", None)
    return callable(device) and device().type == "cpu"


def _groups(tasks: list[tuple[int, int]], batch_models: int | None, on_cpu: bool = False
            ) -> list[list[tuple[int, int]]]:
    """``batch_models=None``: the seeds of each class together, or one at a time when ``on_cpu``
    (vmap over K models is slower on CPU than K single runs: ``benchmarks/TRAIN_SPEED-cpu.md``)."""
    if batch_models is None and on_cpu:
        batch_models = 1
    if batch_models is None:
        by_class: dict[int, list[tuple[int, int]]] = {}
        for t in tasks:
            by_class.setdefault(t[0], []).append(t)
        return list(by_class.values())
    if batch_models < 1:
        raise ValueError(f"batch_models must be None or >= 1, got {batch_models}")
    return [tasks[i : i + batch_models] for i in range(0, len(tasks), batch_models)]


def parse_also(specs: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``["inception_cae_re", "inception_cae_nnqed:index=flat,m=16"]`` -> [(name, overrides)]."""
    out = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        over: dict[str, Any] = {}
        for item in filter(None, rest.split(",")):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise ValueError(f"--also {spec!r}: expected NAME or NAME:key=value,key=value")
            over[key.strip()] = _parse_value(value.strip())
        out.append((name.strip(), over))
    return out


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


SUPERVISED_PROTOCOL = "supervised_kfold"
#: folds of the supervised protocol
SUPERVISED_FOLDS = 5


def _run_supervised(proto: Any, method: str, ds: Any, dataset: str, preset: str | None, seeds: list[int],
                    out_path: Path, done: set, progress: bool,
                    scores_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Seed 001's supervised CNN: stratified k-fold over the labelled test images.

    Each fold's model trains on the normal training images plus the other folds' test
    images (normal and anomalous, with labels) and scores only its own fold, so every test
    image gets exactly one score from a model that never saw it; the metrics are computed
    over all test images at once. ``threshold_`` is the classifier's 0.5.
    """
    from sklearn.model_selection import StratifiedKFold
    from tqdm.auto import tqdm

    ds_name = dataset if dataset != "folder" else ds.name
    base = {"method": method, "preset": preset, "dataset": ds_name, "protocol": SUPERVISED_PROTOCOL,
            "normal_class": ds.class_names[0]}
    commit = _git_commit()
    written = []
    y_all = ds.y_test.astype(np.int64)
    for seed in tqdm(seeds, disable=not progress, desc=f"{method} {ds.class_names[0]}", unit="seed"):
        det0 = clone_with(proto, seed=seed)
        if _row_key({**base, "seed": seed, "params": det0.get_params()}) in done:
            continue
        scores = np.zeros(len(y_all))
        t0 = time.perf_counter()
        folds = StratifiedKFold(min(SUPERVISED_FOLDS, int(y_all.sum()), int((1 - y_all).sum())), shuffle=True,
                                random_state=seed)
        score_time = 0.0
        for tr, te in tqdm(list(folds.split(np.zeros(len(y_all)), y_all)), disable=not progress, leave=False,
                           desc=f"seed {seed}", unit="fold"):
            x_fit = np.concatenate([ds.x_train, ds.x_test[tr]])
            y_fit = np.r_[np.zeros(len(ds.x_train), np.int64), y_all[tr]]
            det = clone_with(proto, seed=seed).fit(x_fit, y_fit)
            t1 = time.perf_counter()
            scores[te] = det.score(ds.x_test[te])
            score_time += time.perf_counter() - t1
        metrics = evaluate(y_all, scores, 0.5)
        row = {
            **base, "seed": seed,
            **_metric_fields(metrics),
            "fit_seconds": round(time.perf_counter() - t0 - score_time, 4), "score_seconds": round(score_time, 4),
            "peak_memory_mb": round(_peak_memory_mb(det), 1), "n_train": int(len(ds.x_train) + len(y_all)),
            "n_test": int(len(y_all)), "device": det.device_name, "params": det0.get_params(), "version": __version__,
            "commit": commit, "folds": folds.get_n_splits(),
        }
        if scores_dir is not None:  # no maps: a classifier does not localise
            split = make_split(ds, "folder")
            _keep_record(scores_dir, row, scores, det, split, _test_names(ds), _defaults(method, preset),
                         pictures=seed == min(seeds), threshold=0.5)
        _append_row(out_path, row)
        done.add(_row_key(row))
        written.append(row)
    return written


#: DCGAN settings added after models were first cached, with the value every earlier model had:
#: at that value they stay out of the cache key, so earlier cached generators are still found.
_LATER_DCGAN_SETTINGS = {"g_steps": 1}


def _dcgan_key(x_train: np.ndarray, settings: dict[str, Any], device: str) -> str:
    """What a trained DCGAN depends on: its training images, its settings (seed included) and
    the kind of device it trained on (CUDA and CPU kernels round differently)."""
    import hashlib

    settings = {k: v for k, v in settings.items() if k not in _LATER_DCGAN_SETTINGS or v != _LATER_DCGAN_SETTINGS[k]}
    h = hashlib.sha256(json.dumps({"shape": list(x_train.shape), "dtype": str(x_train.dtype), "device": device,
                                   **settings}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(x_train).tobytes())
    return h.hexdigest()[:20]


def _augmented(x_train: np.ndarray, preset: str | None, seed: int, n: int, proto: Any, info: dict,
               dcgan: dict[str, Any] | None = None, cache: str | os.PathLike | None = None,
               label: str = "") -> np.ndarray:
    """``x_train`` plus ``n`` DCGAN images (trained on ``x_train``, seeded; ``dcgan`` overrides
    the preset's settings); ``info`` gets the memorisation check, the GAN's training time and
    the counts. With ``cache`` (a folder) a DCGAN trained on the same images with the same
    settings, seed and device kind is loaded from it instead of trained again (``gan_cached``),
    and a newly trained one is saved there: the ``+dcgan`` runs of two methods then share one
    generator per category and seed, and its images are the same ones. A generator that has
    not learned its images (or may copy them, :func:`anomalens.augment.diagnose`) is warned
    about, naming ``label``."""
    from ..augment import PRESETS, DCGANAugmenter, diagnose, memorisation
    from ..train import resolve_device

    device = getattr(proto, "device", "auto")
    aug = DCGANAugmenter.from_preset(preset if preset in PRESETS else "paper", seed=seed, device=device,
                                     **(dcgan or {}))
    path = None
    if cache is not None:
        path = Path(cache) / _dcgan_key(x_train, aug.settings(), resolve_device(device).type)
    cached = path is not None and (path / "config.json").is_file()
    if cached:
        aug = DCGANAugmenter.load(path, device=device)
    else:
        aug.fit(x_train)
        if path is not None:
            aug.save(path)
    gen = aug.generate(n, size=x_train.shape[1:3])
    info.update(memorisation(aug.generate(n), aug.to_model_size(x_train)))
    info.update(aug.final_losses_ or {})
    for w in diagnose(info):
        warnings.warn(f"DCGAN of {label or 'this run'} (seed {seed}): {w}", stacklevel=2)
    info.update({"n_generated": int(n), "gan_seconds": aug.fit_seconds_, "n_train_real": int(len(x_train))})
    if cache is not None:
        info["gan_cached"] = cached
    g = aug.generate(16)  # a 4 x 4 grid for the report (kept only with --scores)
    info["_grid"] = g.reshape(4, 4, *g.shape[1:]).transpose(0, 2, 1, 3, 4).reshape(4 * g.shape[1], 4 * g.shape[2], -1)
    return np.concatenate([x_train, gen])


def _check_augment_set(augment: str | None, augment_set: dict[str, Any] | None) -> dict[str, Any]:
    from ..augment import check_settings

    augment_set = dict(augment_set or {})
    if augment_set and augment is None:
        raise ValueError("augment_set (--augment-set) changes the DCGAN of augment='dcgan': give augment too")
    return check_settings(augment_set, "augment_set")


def clone_with(det: Any, **params: Any) -> Any:
    """An unfitted copy of ``det`` with ``params`` changed."""
    return type(det)(**{**det.get_params(), **params})


def _late_derived(proto: Any, derived: list[tuple], finished: list[tuple[int, int]], base_of, params_of
                  ) -> list[tuple[int, int, list[tuple]]]:
    """For runs whose main row is done: those lacking some ``also`` row, with the ones they lack."""
    late = []
    for c, s in finished:
        todo = [d for d in derived
                if _row_key({**base_of(c), "method": d[0], "seed": s,
                             "params": params_of(proto.derived_unfitted(d[0], **d[1]))}) not in d[3]]
        if todo:
            late.append((c, s, todo))
    return late


def _derive_rows(det: Any, method: str, derived: list[tuple], s: int, split: Any, base: dict[str, Any],
                 fit_seconds: float, batched: int, commit: str, params_of, scores_dir, names, seed_list: list[int],
                 loaded_from: str | None = None, resumed_seconds: float = 0.0) -> list[dict[str, Any]]:
    """Fit each ``also`` scorer on ``det``'s network, score it and append its row (unless done)."""
    written = []
    for d_name, d_over, d_path, d_done, d_defaults in derived:
        t1 = time.perf_counter()
        ddet = det.derive(d_name, split.x_train, **d_over)
        extra = time.perf_counter() - t1
        drow, dscores = _run_row(ddet, d_name, base, s, split, fit_seconds + extra, commit, batched)
        drow["derived_from"] = method
        drow["params"] = params_of(ddet)
        if loaded_from is not None:
            drow["loaded_from"] = loaded_from
        if resumed_seconds:
            drow["resumed_seconds"] = resumed_seconds
        if _row_key(drow) not in d_done:
            if scores_dir is not None:
                _keep_record(scores_dir, drow, dscores, ddet, split, names, d_defaults, pictures=s == min(seed_list))
            _append_row(d_path, drow)
            d_done.add(_row_key(drow))
            written.append(drow)
    return written


def _model_dir(root: str | os.PathLike, method: str, dataset: str, preset: str | None, normal_class: Any,
               seed: int) -> Path:
    """Where ``save_models`` keeps one run's model and ``load_models`` looks for it."""
    return Path(root) / f"{method}-{dataset}-{preset}" / f"class{normal_class}-seed{seed}"


def _categories(dataset: str, root, category: str | None) -> list[str]:
    """``category`` as a list: ``"all"`` = every category of the folder / synthetic_parts, or ``"a,b"``."""
    if category is None:
        return []
    if category.strip().lower() == "all":
        if dataset == "synthetic_parts":
            from ..data.synthetic_parts import CATEGORIES

            return list(CATEGORIES)
        if dataset == "folder" and root is not None:
            from ..data.folder import list_categories

            return list_categories(root)
        raise ValueError("--category all needs --dataset synthetic_parts or --dataset folder with --data-root")
    return [c.strip() for c in category.split(",") if c.strip()]


def _fit_group_runs(proto: Any, ds: Any, protocol: str, group: list[tuple[int, int]], train_sets: list,
                    n_real: dict, aug_info: dict, val_anomalies: int) -> list[Any]:
    """Fit one group of (class, seed) runs: together with ``fit_many``, or one by one with
    validation anomalies for seed 004's weakly-supervised selection."""
    if getattr(proto, "selection", None) != "weak":
        return proto.fit_many(train_sets, [s for _, s in group], n_real=[n_real[cs] for cs in group])
    dets = []
    for (c, s), x in zip(group, train_sets):  # seed 004: a few labelled anomalies of one type each
        extra, k = validation_anomalies(ds, protocol, c, s, val_anomalies)
        aug_info.setdefault((c, s), {})["validation"] = {"anomaly_class": k, "n_anomalies": int(len(extra))}
        dets.append(clone_with(proto, seed=s).fit(np.concatenate([x, extra]), np.r_[np.zeros(len(x)), np.ones(len(extra))],
                                                  n_real=n_real[(c, s)]))
    return dets


def run_benchmark(
    method: str,
    dataset: str,
    *,
    protocol: str | None = None,
    classes: str | Sequence[int] = "all",
    seeds: str | Sequence[int] = (0,),
    preset: str | None = "quick",
    out: str | os.PathLike,
    overrides: dict[str, Any] | None = None,
    data_root: str | os.PathLike | None = None,
    category: str | None = None,
    image_size: int | None = None,
    progress: bool = True,
    batch_models: int | None = None,
    also: Sequence[tuple[str, dict[str, Any]]] = (),
    save_models: str | os.PathLike | None = None,
    load_models: str | os.PathLike | None = None,
    ood_dataset: str | None = None,
    augment: str | None = None,
    augment_n: int = 500,
    augment_set: dict[str, Any] | None = None,
    val_anomalies: int = 200,
    scores_dir: str | os.PathLike | None = None,
    dcgan_cache: str | os.PathLike | None = None,
    checkpoints: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Run ``method`` over classes x seeds and append one results row each to ``out``.

    Returns the rows written by this call (finished rows already in ``out`` are skipped).
    Runs are fitted in groups with :meth:`~anomalens.detectors.BaseDetector.fit_many`
    (network detectors train a group as one batched network): ``batch_models=None`` groups
    the pending seeds of each class on CUDA and fits one run at a time on CPU (where training
    K models as one vmapped network is slower than K single runs), ``N`` groups up to N
    (class, seed) runs across classes,
    ``1`` fits one at a time. ``fit_seconds`` is then the group's time / its size. Rows are
    written as soon as their group is fitted, so an interrupted run loses at most one group.

    ``also`` lists detectors derived from each fitted one (same trained network, another
    scorer, see ``derive``), as ``(name, overrides)``; their rows (with ``derived_from``
    set) go to ``out`` when ``name`` is ``method`` (e.g. ``index="flat"``), else to
    ``<out's folder>/<name>-<dataset>-<preset>.jsonl``.

    ``ood_dataset`` replaces ``protocol`` by seed 003's cross-dataset check: one run per
    seed, trained on every training image of ``dataset``, tested on its test set (normal)
    plus ``ood_dataset``'s test set (anomalous); rows have protocol ``ood:<name>``,
    normal_class ``"all"`` and the mean score of each part (``mean_score_normal``,
    ``mean_score_anomalous``: a likelihood model that gives the other dataset *higher*
    likelihood has the second lower).

    ``category`` (folder datasets): one category, ``"a,b"`` or ``"all"``, each run in turn
    into the same ``out``.

    ``augment="dcgan"`` (seed 001): before each fit, a DCGAN (same preset name, same seed)
    is trained on the run's normal training images and ``augment_n`` generated images are
    added after them (``fit(..., n_real=)``: the detector trains on all of them but holds
    out, and sets its threshold on, real images only); rows are named ``<method>+dcgan`` and carry the memorisation check
    (``gen_to_train_median`` ... , see :func:`anomalens.augment.memorisation`).
    ``augment_set`` overrides the DCGAN's preset settings (e.g. ``{"epochs": 300}``); rows
    record them as ``params["dcgan"]``, so runs with other DCGAN settings are other rows.
    ``dcgan_cache`` (a folder) keeps each trained DCGAN and reuses it for a run with the same
    training images, settings, seed and device kind (rows say ``gan_cached``): ``kd_cae+dcgan``
    and ``ni_cae+dcgan`` then train one generator per category and seed, not two.

    ``val_anomalies`` (seed 004's weakly-supervised detectors, ``selection="weak"``): each run
    draws this many images of one other class from the *training* split (seeded by class and
    seed, :func:`~anomalens.data.protocols.validation_anomalies`) for the hyper-parameter
    search; the class and the choice are recorded in the row's ``params``.

    ``scores_dir`` keeps, per row, a score record for the report's figures (the test images'
    scores, labels and names, the threshold, and panels of the most anomalous test images with
    their maps; see :mod:`anomalens.eval.figures`), under
    ``<scores_dir>/<method>-<dataset>-<preset>/``.

    ``save_models`` keeps every fitted detector under
    ``<save_models>/<method>-<dataset>-<preset>/class<c>-seed<s>`` (``anomalens.load`` reads it).

    ``checkpoints`` (a folder) keeps the training state of the group being fitted (see
    :func:`anomalens.train.train_checkpoints`), written every minute, so that rerunning an
    interrupted command resumes the group's training from its last checkpoint instead of
    from scratch; the files are deleted once the group's rows are written. A resumed row's
    ``fit_seconds`` includes the earlier processes' training time, also given as
    ``resumed_seconds``.

    ``load_models`` (a folder written by ``save_models``) adds ``also`` rows to runs that are
    already done: for each (class, seed) whose main row is in ``out`` but some derived row is
    not, the saved model is loaded, its settings checked against the main row, and the
    missing rows derived from it, with the main row's ``fit_seconds`` plus the scorer's fit
    and ``loaded_from`` set. No network is retrained for them (retraining would give
    another network than the main row's). Runs whose main row is missing are fitted as
    usual. Without ``load_models`` such missing derived rows are only warned about.
    """
    from tqdm.auto import tqdm

    if augment not in (None, "dcgan"):
        raise ValueError(f"augment must be None or 'dcgan', got {augment!r}")
    augment_set = _check_augment_set(augment, augment_set)
    if dcgan_cache is not None and augment is None:
        raise ValueError("dcgan_cache (--dcgan-cache) keeps the DCGANs of augment='dcgan': give augment too")
    cats = _categories(dataset, data_root, category)
    if len(cats) > 1:
        return [row for cat in cats for row in run_benchmark(
            method, dataset, protocol=protocol, classes=classes, seeds=seeds, preset=preset, out=out,
            overrides=overrides, data_root=data_root, category=cat, image_size=image_size, progress=progress,
            batch_models=batch_models, also=also, save_models=save_models, load_models=load_models,
            ood_dataset=ood_dataset, augment=augment,
            augment_n=augment_n, augment_set=augment_set, val_anomalies=val_anomalies, scores_dir=scores_dir,
            dcgan_cache=dcgan_cache, checkpoints=checkpoints)]
    category = cats[0] if cats else category
    overrides = dict(overrides or {})
    proto = create(method, preset=preset, **overrides)  # unknown names fail before any data is loaded
    if progress and "verbose" not in overrides and "verbose" in proto.get_params():
        proto = clone_with(proto, verbose=True)  # a bar per training run under the runs' bar
    out_path = Path(out)
    ensure_writable_dir(out_path.parent if str(out_path.parent) else ".", "results")
    if out_path.exists() and not os.access(out_path, os.W_OK):
        raise PermissionError(f"results file {str(out_path)!r} is not writable")
    done = {_row_key(r) for r in read_results(out_path, repair=True)}

    ds = load_dataset(dataset, data_root, category=category, image_size=image_size)
    if getattr(proto, "supervised", False):
        if not ds.is_folder or protocol not in (None, SUPERVISED_PROTOCOL):
            raise ValueError(f"{method!r} is a supervised classifier: it runs only under protocol "
                             f"{SUPERVISED_PROTOCOL!r} on folder datasets (labelled anomalies)")
        return _run_supervised(proto, method, ds, dataset, preset, parse_seeds(seeds), out_path, done, progress,
                               scores_dir)
    if protocol is None:
        protocol = "folder" if ds.is_folder else "one_vs_rest"
    if ood_dataset is not None:
        other = load_dataset(ood_dataset)
        protocol, class_ids = f"ood:{other.name}", [0]
    else:
        class_ids = parse_classes(classes, protocol_classes(ds, protocol))
    seed_list = parse_seeds(seeds)
    ds_name = dataset if dataset != "folder" else ds.name
    derived = []
    for d_name, d_over in also:
        if not hasattr(proto, "derive"):
            raise ValueError(f"{method!r} has no trained network to derive {d_name!r} from")
        create(d_name, **d_over)  # unknown names / parameters fail before any training
        d_path = out_path if d_name == method else out_path.parent / f"{d_name}-{ds_name}-{preset}.jsonl"
        d_done = done if d_path.resolve() == out_path.resolve() else {_row_key(r) for r in read_results(d_path, repair=True)}
        derived.append((d_name, d_over, d_path, d_done, _defaults(d_name, preset)))
    defaults = _defaults(method, preset)  # score records tag runs whose parameters differ from these
    names = _test_names(ds)
    commit = _git_commit()
    written: list[dict[str, Any]] = []
    bar = tqdm(total=len(class_ids) * len(seed_list), disable=not progress, unit="run", dynamic_ncols=True)
    splits: dict[int, Any] = {}

    def base_of(c: int) -> dict[str, Any]:
        if c not in splits:
            splits[c] = make_ood_split(ds, other) if ood_dataset is not None else make_split(ds, protocol, c)
        normal_class = splits[c].normal_class if protocol == "folder" or ood_dataset is not None else c
        label = method if augment is None else f"{method}+{augment}"
        return {"method": label, "preset": preset, "dataset": ds_name, "protocol": protocol, "normal_class": normal_class}

    def params_of(det: Any) -> dict[str, Any]:  # changed DCGAN settings are part of what a row ran
        return {**_params_of(det), "dcgan": augment_set} if augment_set else _params_of(det)

    tasks = [(c, s) for c in class_ids for s in seed_list
             if _row_key({**base_of(c), "seed": s, "params": params_of(proto)}) not in done]
    late = _late_derived(proto, derived, [(c, s) for c in class_ids for s in seed_list if (c, s) not in tasks],
                         base_of, params_of)
    if late and load_models is None:
        warnings.warn(f"{len(late)} finished run(s) lack rows of --also; pass load_models (--load-models) with the "
                      "folder their models were saved to (--save-models) to derive them without retraining")
    elif late:
        paths = {(c, s): _model_dir(load_models, method, ds_name, preset, base_of(c)["normal_class"], s)
                 for c, s, _ in late}
        missing = [str(p) for p in paths.values() if not p.is_dir()]
        if missing:
            raise FileNotFoundError(f"load_models: no saved model for finished run(s) lacking --also rows: "
                                    f"{', '.join(missing)}")
        rows_by_key = {_row_key(r): r for r in read_results(out_path)}
        for c, s, todo in late:
            path = paths[(c, s)]
            main = rows_by_key[_row_key({**base_of(c), "seed": s, "params": params_of(proto)})]
            det = load_detector(path)
            if _row_key({**base_of(c), "seed": s, "params": params_of(det)}) != _row_key(main):
                raise ValueError(f"load_models: {str(path)!r} was trained with other settings than the "
                                 f"{method} row of class {c} seed {s} in {str(out_path)!r}")
            written += _derive_rows(det, method, todo, s, splits[c], base_of(c), main["fit_seconds"],
                                    main.get("fit_models_batched", 1), commit, params_of,
                                    scores_dir, names, seed_list, loaded_from=str(path))
    bar.update(len(class_ids) * len(seed_list) - len(tasks))
    for group in _groups(tasks, batch_models, _trains_on_cpu(proto)):
        label = ", ".join(f"{c}/{s}" for c, s in group)
        bar.set_description(f"{method} {ds_name} class/seed {label if len(label) < 40 else label[:37] + '...'}")
        aug_info: dict[tuple[int, int], dict[str, Any]] = {}
        train_sets = [splits[c].x_train for c, _ in group]
        # generated images go after the real ones; held-out images and thresholds use real ones only
        n_real = {(c, s): (len(splits[c].x_train) if augment is not None else None) for c, s in group}
        if augment is not None:
            train_sets = [_augmented(splits[c].x_train, preset, s, augment_n, proto, aug_info.setdefault((c, s), {}),
                                     augment_set, dcgan_cache, f"{dataset} class {splits[c].normal_class}")
                          for c, s in group]
        t0 = time.perf_counter()
        ck_scope: Any = contextlib.nullcontext()
        if checkpoints is not None:
            from ..train import train_checkpoints

            tag = "+".join(f"class{base_of(c)['normal_class']}-seed{s}" for c, s in group)
            ck_scope = train_checkpoints(Path(checkpoints) / f"{base_of(group[0][0])['method']}-{ds_name}-{preset}" / tag)
        with ck_scope as ck:
            dets = _fit_group_runs(proto, ds, protocol, group, train_sets, n_real, aug_info, val_anomalies)
        resumed = (ck.resumed_seconds if ck is not None else 0.0) / len(group)
        fit_seconds = (time.perf_counter() - t0) / len(group) + resumed
        if resumed:  # the row records how much of fit_seconds earlier (interrupted) processes spent
            for cs in group:
                aug_info.setdefault(cs, {})["resumed_seconds"] = resumed
        for (c, s), det in zip(group, dets):
            split, base = splits[c], base_of(c)
            # derived rows first: a crash before the main row re-runs the group, and the
            # derived rows already written are then skipped
            written += _derive_rows(det, method, derived, s, split, base, fit_seconds, len(group), commit, params_of,
                                    scores_dir, names, seed_list, resumed_seconds=resumed)
            row, scores = _run_row(det, base["method"], base, s, split, fit_seconds, commit, len(group))
            row["params"] = params_of(det)
            info = dict(aug_info.get((c, s), {}))
            grid = info.pop("_grid", None)
            if "validation" in info:  # the validation anomaly class goes with the chosen hyper-parameters
                row["params"] = {**row["params"], "validation_anomalies": info.pop("validation")}
            row.update(info)
            if save_models is not None:
                det.save(_model_dir(save_models, method, ds_name, preset, base["normal_class"], s))
            if scores_dir is not None:
                _keep_record(scores_dir, row, scores, det, split, names, defaults, pictures=s == min(seed_list),
                             grid=grid)
            _append_row(out_path, row)
            done.add(_row_key(row))
            written.append(row)
            bar.update(1)
            bar.set_postfix(auroc=f"{row['auroc']:.4f}")
        if ck is not None:
            ck.remove()
        del dets
    bar.close()
    return written
