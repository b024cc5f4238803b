"""Per-image figures: ROC curves, score histograms with the decision threshold, and the most
anomalous images beside their anomaly maps (and ground-truth masks where there are some).

Two users: the benchmark runner keeps a small **score record** per run (``--scores DIR``:
the test images' scores, labels and names and the detector's threshold, as JSON, plus PNG
panels of its most anomalous test images, :func:`write_run_record`), and ``anomalens
report --scores DIR`` turns the records into one HTML section per dataset and category
(:func:`render_records`); ``anomalens score --report`` draws the same section for the images
it scored (:func:`render_section`). Everything here works on arrays and files; nothing
retrains or rescores.

Record layout: ``<DIR>/<method>-<dataset>-<preset>/<category>-seed<s>[-<tag>].json`` with its
panels ``...-top<k>.jpg`` beside it (``<tag>``: a short hash of the hyper-parameters when they
differ from the method's defaults, so two variants of one method never overwrite each other).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text, ensure_writable_dir

__all__ = [
    "RunView", "method_label", "panel", "png_bytes", "top_indices", "write_run_record", "load_records",
    "render_section", "render_records", "figure_png",
]

#: hyper-parameters that name a variant of a method in legends and titles
LABEL_PARAMS = ("index", "coreset", "score_mode", "noise_share")
#: how many of the most anomalous test images a record keeps as panels
TOP_K = 4
#: the longest side of a stored panel tile, in pixels
PANEL_SIDE = 128
#: the record format's version (bump when fields change meaning)
RECORD_VERSION = 1


def method_label(method: str, params: dict[str, Any] | None = None) -> str:
    """``"kd_cae (score_mode=re)"``: the method and the parameters that name its variant."""
    extra = ", ".join(f"{k}={v}" for k, v in (params or {}).items() if k in LABEL_PARAMS and v is not None)
    return f"{method} ({extra})" if extra else method


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """``H x W`` or ``H x W x {1,3}`` uint8 -> PNG bytes (or ``fmt="JPEG"``, quality 90)."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _shrink(image: np.ndarray, mask: np.ndarray | None, side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Image (bilinear) and mask (nearest) scaled so that the longer side is at most ``side``."""
    from PIL import Image

    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image, mask
    size = (max(1, round(w * side / max(h, w))), max(1, round(h * side / max(h, w))))
    img = np.asarray(Image.fromarray(np.squeeze(image, 2) if image.ndim == 3 and image.shape[2] == 1 else image)
                     .resize(size, Image.BILINEAR))
    if mask is not None:
        mask = np.asarray(Image.fromarray(np.asarray(mask, np.uint8)).resize(size, Image.NEAREST))
    return img, mask


def top_indices(scores: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of the ``k`` highest scores, highest first (ties: lower index first)."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(s)), -s))
    return order[: min(k, len(s))]


def _rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def panel(image: np.ndarray, amap: np.ndarray | None = None, mask: np.ndarray | None = None,
          vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """One row of tiles, ``H x W'`` RGB uint8: the image, its map blended over it (if ``amap``)
    and the ground-truth mask in red over the image (if ``mask`` has any pixel)."""
    from .maps import overlay

    img = _rgb(image)
    tiles = [img]
    if amap is not None:
        tiles.append(overlay(img, np.asarray(amap, np.float64), vmin, vmax))
    if mask is not None and np.asarray(mask).any():
        m = np.asarray(mask, bool)[..., None]
        red = np.array([255, 0, 0], np.float64)
        tiles.append(np.rint(np.where(m, 0.5 * img + 0.5 * red, img)).astype(np.uint8))
    gap = np.full((img.shape[0], 3, 3), 255, np.uint8)
    out = [tiles[0]]
    for t in tiles[1:]:
        out += [gap, t]
    return np.concatenate(out, axis=1)


@dataclass
class RunView:
    """What one section shows of one run (one detector on one category)."""

    label: str
    scores: np.ndarray
    threshold: float
    labels: np.ndarray | None = None  # 1 anomalous, 0 normal; None when unknown
    panels: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG)
    notes: list[str] = field(default_factory=list)
    grid: bytes | None = None  # e.g. the DCGAN's generated images

    @property
    def has_both_classes(self) -> bool:
        return self.labels is not None and 0 < int(np.sum(self.labels)) < len(self.labels)


def _roc_png(runs: Sequence[RunView], title: str) -> bytes:
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    for r in runs:
        fpr, tpr, _ = roc_curve(r.labels, r.scores)
        ax.plot(fpr, tpr, lw=1.5, label=f"{r.label}: {100 * roc_auc_score(r.labels, r.scores):.1f}")
    ax.plot([0, 1], [0, 1], color="#999", lw=0.8, linestyle=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=7, title="AUROC (%)", title_fontsize=7)
    fig.tight_layout()
    return figure_png(fig)


def _histograms_png(runs: Sequence[RunView]) -> bytes:
    plt = _pyplot()
    cols = min(3, len(runs))
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), dpi=100, squeeze=False)
    for ax in axes.ravel()[len(runs):]:
        ax.axis("off")
    for ax, r in zip(axes.ravel(), runs):
        s = np.asarray(r.scores, np.float64)
        edges = np.histogram_bin_edges(np.r_[s, r.threshold] if np.isfinite(r.threshold) else s, bins=30)
        if r.labels is not None:
            y = np.asarray(r.labels)
            ax.hist(s[y == 0], bins=edges, alpha=0.6, color="#3b6ea8", label=f"normal ({int((y == 0).sum())})")
            ax.hist(s[y == 1], bins=edges, alpha=0.6, color="#c8873a", label=f"anomalous ({int((y == 1).sum())})")
        else:
            ax.hist(s, bins=edges, alpha=0.7, color="#777", label=f"all ({len(s)})")
        if np.isfinite(r.threshold):
            ax.axvline(r.threshold, color="#b22", linestyle="--", lw=1.2, label="threshold")
        ax.set_title(r.label, fontsize=8)
        ax.set_xlabel("score (higher = more anomalous)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return figure_png(fig)


def _img(data: bytes, alt: str, style: str = "") -> str:
    mime = "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"
    return (f"<img alt='{html.escape(alt, quote=True)}' {style} "
            f"src='data:image/{mime};base64,{base64.b64encode(data).decode()}'>")


def render_section(title: str, runs: Sequence[RunView], *, level: int = 3) -> str:
    """HTML for one category: the ROC curves of every run that has labels of both kinds, one
    score histogram per run with its threshold drawn, then each run's most anomalous images
    (image | map | mask) and its notes."""
    if not runs:
        return ""
    parts = [f"<h{level}>{html.escape(title)}</h{level}>"]
    labelled = [r for r in runs if r.has_both_classes]
    figs = []
    if labelled:
        figs.append(_img(_roc_png(labelled, title), "ROC curves"))
    figs.append(_img(_histograms_png(runs), "score histograms with thresholds"))
    parts.append("<div class='figs'>" + "".join(figs) + "</div>")
    for r in runs:
        if not (r.panels or r.notes or r.grid):
            continue
        parts.append(f"<h{level + 1}>{html.escape(r.label)}</h{level + 1}>")
        if r.notes:
            parts.append("<p>" + "<br>".join(html.escape(n) for n in r.notes) + "</p>")
        if r.panels:
            parts.append("<p>Most anomalous test images (image | anomaly map | ground-truth mask):</p><div class='top'>")
            parts += [f"<figure>{_img(data, cap)}<figcaption>{html.escape(cap)}</figcaption></figure>"
                      for cap, data in r.panels]
            parts.append("</div>")
        if r.grid is not None:
            parts.append(f"<figure>{_img(r.grid, 'generated images', 'style=max-width:420px')}"
                         "<figcaption>images generated by the DCGAN of this run</figcaption></figure>")
    return "\n".join(parts)


# ---------------------------------------------------------------- score records (runner side)

def _params_tag(params: dict[str, Any], default_params: dict[str, Any] | None) -> str:
    """'' when ``params`` are the method's defaults (ignoring seed), else a 6-hex hash."""
    from .benchmark import NOT_SETTINGS

    keep = {k: v for k, v in params.items() if k not in NOT_SETTINGS}
    if default_params is not None:
        base = {k: v for k, v in default_params.items() if k in keep}
        if json.dumps(base, sort_keys=True, default=str) == json.dumps(keep, sort_keys=True, default=str):
            return ""
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:6]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._+-" else "_" for ch in str(name))


def write_run_record(
    directory: str | os.PathLike,
    row: dict[str, Any],
    scores: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    *,
    names: Sequence[str] | None = None,
    images: np.ndarray | None = None,
    maps: np.ndarray | None = None,
    masks: np.ndarray | None = None,
    top: np.ndarray | None = None,
    default_params: dict[str, Any] | None = None,
    grid: np.ndarray | None = None,
) -> Path:
    """Write the record of one results ``row`` (see the module docstring) and return its path.

    ``scores`` / ``labels`` are of every test image of the run, ``threshold`` the detector's.

    ``images`` / ``maps`` / ``masks`` are of the ``top`` test images (default: the
    :data:`TOP_K` highest scores), in that order; ``maps`` may be None (no localisation).
    ``grid`` (optional) is an image saved beside the record (the DCGAN's samples). Pictures
    are stored as JPEG (quality 90), each tile at most :data:`PANEL_SIDE` pixels a side, so
    that records stay small enough to commit beside the results.
    Every file is written atomically; the JSON last, so a record never names a missing panel.
    """
    params = row.get("params", {})
    folder = ensure_writable_dir(Path(directory) / _safe(f"{row['method']}-{row['dataset']}-{row['preset']}"),
                                 "score records")
    tag = _params_tag(params, default_params)
    stem = _safe(f"{row['normal_class']}-seed{row['seed']}" + (f"-{tag}" if tag else ""))
    scores = np.asarray(scores, np.float64)
    top = top_indices(scores) if top is None else np.asarray(top)
    panels = []
    if images is not None:
        if maps is not None:
            lo, hi = (float(v) for v in np.percentile(np.asarray(maps, np.float64), [1, 99]))
        for k, i in enumerate(top):
            img, mask = _shrink(np.asarray(images[k]), None if masks is None else masks[k], PANEL_SIDE)
            tile = panel(img, None if maps is None else maps[k], mask, *((lo, hi) if maps is not None else (0.0, 1.0)))
            fname = f"{stem}-top{k}.jpg"
            atomic_write_bytes(folder / fname, png_bytes(tile, "JPEG"), what="report panel")
            panels.append({"file": fname, "index": int(i)})
    grid_file = None
    if grid is not None:
        grid_file = f"{stem}-grid.jpg"
        atomic_write_bytes(folder / grid_file, png_bytes(grid, "JPEG"), what="image grid")
    record = {
        "version": RECORD_VERSION,
        "method": row["method"], "dataset": row["dataset"], "preset": row["preset"], "protocol": row["protocol"],
        "normal_class": str(row["normal_class"]), "seed": row["seed"], "label": method_label(row["method"], params),
        "threshold": float(threshold) if np.isfinite(threshold) else None,
        "auroc": row.get("auroc"), "f1": row.get("f1"),
        "scores": [float(f"{s:.6g}") for s in scores],
        "labels": [int(v) for v in labels],
        "names": list(map(str, names)) if names is not None else None,
        "panels": panels, "grid": grid_file,
        "notes": _notes(row),
    }
    path = folder / f"{stem}.json"
    atomic_write_text(path, json.dumps(record) + "\n", what="score record")
    return path


def _notes(row: dict[str, Any]) -> list[str]:
    notes = [f"seed {row['seed']}; AUROC {100 * row['auroc']:.1f}, F1 at the threshold {row.get('f1', float('nan')):.3f}"
             f" (oracle {row.get('f1_oracle', float('nan')):.3f})" if "auroc" in row else f"seed {row['seed']}"]
    if "gen_to_train_median" in row:
        notes.append(f"memorisation check: median distance of a generated image to its nearest training image "
                     f"{row['gen_to_train_median']:.2f}, between training images {row['train_to_train_median']:.2f}")
        from ..augment import diagnose

        notes += [f"warning: {w}" for w in diagnose(row)]
    return notes


def load_records(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record under ``directory`` (sorted by path), each with ``"_dir"`` set to its folder
    and ``"_file"`` to its path."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"score records folder {str(root)!r} does not exist")
    out = []
    for p in sorted(root.glob("*/*.json")):
        try:
            rec = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"score record {str(p)!r} is not valid JSON ({e})") from e
        if not isinstance(rec, dict) or "scores" not in rec or "labels" not in rec:
            raise ValueError(f"{str(p)!r} is not a score record (no 'scores' / 'labels')")
        rec["_dir"], rec["_file"] = p.parent, p
        out.append(rec)
    return out


def _view(rec: dict[str, Any]) -> RunView:
    panels = []
    names = rec.get("names")
    for p in rec.get("panels", []):
        i = p["index"]
        name = names[i] if names else f"test image {i}"
        kind = "anomalous" if rec["labels"][i] else "normal"
        panels.append((f"{name} ({kind}), score {rec['scores'][i]:.4g}", (rec["_dir"] / p["file"]).read_bytes()))
    grid = (rec["_dir"] / rec["grid"]).read_bytes() if rec.get("grid") else None
    thr = rec.get("threshold")
    return RunView(label=rec["label"], scores=np.asarray(rec["scores"], np.float64),
                   threshold=float("nan") if thr is None else float(thr), labels=np.asarray(rec["labels"]),
                   panels=panels, notes=list(rec.get("notes", [])), grid=grid)


def render_records(records: Sequence[dict[str, Any]]) -> str:
    """One section per (dataset, category): of each method variant (and protocol), the run with
    the lowest seed, so the figures compare methods on the same seed where they can."""
    chosen: dict[tuple, dict[tuple, dict[str, Any]]] = {}
    for rec in records:
        where = (rec["dataset"], rec["normal_class"])
        which = (rec["label"], rec["preset"], rec["protocol"])
        cur = chosen.setdefault(where, {}).get(which)
        if cur is None or int(rec["seed"]) < int(cur["seed"]):
            chosen[where][which] = rec
    parts = []
    for (dataset, cat), by in sorted(chosen.items()):
        protocols = sorted({p for _, _, p in by})
        runs = []
        for (label, preset, protocol), rec in sorted(by.items()):
            view = _view(rec)
            view.label = f"{label} [{preset}" + (f", {protocol}]" if len(protocols) > 1 else "]")
            runs.append(view)
        parts.append(render_section(f"{dataset} · {' / '.join(protocols)} · {cat}", runs))
    return "\n".join(parts)
