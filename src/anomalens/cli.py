"""The ``anomalens`` command: datasets, list, benchmark, report, fit, score, calibrate, info, serve, augment.

A thin shell over the Python API: flags map one to one onto ``create`` overrides
(an unset flag is ``None`` and dropped), heavy imports happen inside the commands.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="One-class image anomaly detection.")


def _parse_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if text.startswith("["):  # lists, e.g. --set latent_grid=[16,64] or layer_grid='[["relu3_2"]]'
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"cannot read {text!r} as a JSON list: {e}", param_hint="--set") from e
    return text


def _overrides(sets: list[str] | None, option: str = "--set") -> dict:
    out = {}
    for item in sets or []:
        if "=" not in item:
            raise typer.BadParameter(f"{option} expects key=value, got {item!r}", param_hint=option)
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


def _fail(e: Exception) -> None:
    typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def datasets() -> None:
    """List the datasets and whether each is available locally."""
    from rich.console import Console
    from rich.table import Table

    from .data import list_datasets

    t = Table("name", "description", "source", "local", "where")
    for name, desc, source, ok, where in list_datasets():
        t.add_row(name, desc, source, "yes" if ok else "no", where)
    Console().print(t)


@app.command("list")
def list_cmd() -> None:
    """List the registered detectors, their presets and papers."""
    from .registry import DETECTORS, list_presets

    for name, info in DETECTORS.items():
        typer.echo(f"{name:24s} presets: {', '.join(list_presets(name)):26s} {info.paper}")
        typer.echo(f"{'':24s} {info.summary}")


@app.command()
def benchmark(
    method: str = typer.Option(..., help="Registered detector name (see `anomalens list`)."),
    dataset: str = typer.Option(..., help="Dataset name (see `anomalens datasets`)."),
    out: Path = typer.Option(..., help="Results file (JSONL), appended to and resumable."),
    protocol: Optional[str] = typer.Option(
        None, help="one_vs_rest | leave_one_out | folder (default: folder for folder datasets, else one_vs_rest)."),
    classes: str = typer.Option("all", help="'all', '3', '0,2,5' or '0-4'."),
    seeds: str = typer.Option("0", help="'0', '0,1,2' or '0-9'."),
    preset: str = typer.Option("quick", help="paper | paper_cifar | quick (see `anomalens list`)."),
    batch_models: Optional[int] = typer.Option(
        None, help="Train up to N (class, seed) runs together as one batched network (default: each class's "
        "seeds together on CUDA, one at a time on CPU; 1: one at a time)."),
    also: Optional[list[str]] = typer.Option(
        None, help="Also score with NAME[:k=v,...] on the same trained network (repeatable), e.g. "
        "inception_cae_re or inception_cae_nnqed:index=flat; rows go to --out for the same method, else to "
        "<out folder>/NAME-DATASET-PRESET.jsonl."),
    data_root: Optional[Path] = typer.Option(None, help="Folder holding a user-supplied dataset."),
    category: Optional[str] = typer.Option(
        None, help="Category of --dataset folder / synthetic_parts: a name, 'a,b' or 'all'."),
    image_size: Optional[int] = typer.Option(None, help="Resize folder images to this size."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Hyper-parameter override key=value (repeatable)."),
    save_models: Optional[Path] = typer.Option(None, help="Also save every fitted model under this folder."),
    load_models: Optional[Path] = typer.Option(
        None, help="Folder of models saved by an earlier --save-models run: add missing --also rows to finished "
        "runs from their saved models, without retraining."),
    augment: Optional[str] = typer.Option(
        None, help="'dcgan': add DCGAN-generated normal images to each run's training set (seed 001); rows are "
        "named METHOD+dcgan."),
    augment_n: int = typer.Option(500, help="How many images --augment generates per run."),
    augment_set: Optional[list[str]] = typer.Option(
        None, "--augment-set", help="DCGAN setting override key=value for --augment (repeatable), e.g. epochs=300; "
        "recorded in the rows' params as 'dcgan'."),
    dcgan_cache: Optional[Path] = typer.Option(
        None, help="Keep each --augment DCGAN here and reuse it for runs with the same training images, settings, "
        "seed and device kind (another method's +dcgan runs): one generator per category and seed."),
    val_anomalies: int = typer.Option(
        200, help="Weakly-supervised detectors (dpa, dpa_pg, dpa_l1mix): labelled anomalies of one other class, "
        "drawn from the training split, for the hyper-parameter search."),
    ood_dataset: Optional[str] = typer.Option(
        None, help="Cross-dataset check (seed 003): train on all of --dataset, test on its test set + this "
        "dataset's test set as anomalies (replaces --protocol and --classes)."),
    scores: Optional[Path] = typer.Option(
        None, "--scores", help="Also keep each run's per-image scores and its most anomalous test images with their "
        "maps here, for the figures of `anomalens report --scores`."),
    checkpoints: Optional[Path] = typer.Option(
        None, help="Keep the training state here (every minute): rerunning an interrupted command resumes the "
        "training from its last checkpoint instead of from scratch; deleted once the run's rows are written."),
) -> None:
    """Run a detector over classes x seeds; one JSON line per run."""
    from .eval.benchmark import parse_also, run_benchmark

    try:
        rows = run_benchmark(
            method, dataset, protocol=protocol, classes=classes, seeds=seeds, preset=preset, out=out,
            overrides=_overrides(set_), data_root=data_root, category=category, image_size=image_size,
            batch_models=batch_models, also=parse_also(also or []), save_models=save_models, load_models=load_models,
            ood_dataset=ood_dataset,
            augment=augment, augment_n=augment_n, augment_set=_overrides(augment_set, "--augment-set"),
            val_anomalies=val_anomalies, scores_dir=scores, dcgan_cache=dcgan_cache, checkpoints=checkpoints,
        )
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    typer.echo(f"{len(rows)} new row(s) written to {out}")


@app.command()
def report(
    results: list[Path] = typer.Argument(..., help="Results files (JSONL)."),
    markdown: Optional[Path] = typer.Option(None, help="Also write the tables as Markdown here."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write an HTML report with charts here."),
    readme: Optional[Path] = typer.Option(None, help="Also refresh the results block of this README."),
    scores: Optional[Path] = typer.Option(
        None, "--scores", help="With --html: score records written by `benchmark --scores`; adds, per category, "
        "ROC curves, score histograms with the threshold and the most anomalous images with their maps."),
) -> None:
    """Per-dataset tables: each class's mean ± std over seeds beside the paper's number."""
    from .eval.report import write_report

    try:
        if scores is not None and html is None:
            raise ValueError("--scores draws figures into the HTML report: give --html too")
        text = write_report(results, markdown=markdown, html_path=html, readme=readme, scores_dir=scores)
    except (ValueError, OSError) as e:
        _fail(e)
    typer.echo(text)


@app.command()
def fit(
    method: str = typer.Option(..., help="Registered detector name."),
    train: Path = typer.Option(..., help="Folder of normal (good) training images."),
    out: Path = typer.Option(..., help="Directory to save the fitted detector in."),
    preset: Optional[str] = typer.Option(None, help="paper | paper_cifar | quick"),
    image_size: Optional[int] = typer.Option(None, help="Resize every image to this square size."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Hyper-parameter override key=value (repeatable)."),
    anomalies: Optional[Path] = typer.Option(
        None, help="Folder of a few labelled anomalies of one type: weakly-supervised detectors (dpa) choose their "
        "hyper-parameters with them (fit(X, y))."),
    checkpoints: Optional[Path] = typer.Option(
        None, help="Keep the training state here (every minute): rerunning an interrupted fit resumes the training "
        "from its last checkpoint; deleted once the model is saved."),
) -> None:
    """Fit a detector on a folder of good images and save it (with its threshold)."""
    import contextlib

    from .registry import create

    try:
        over = _overrides(set_)
        for key, value in (("image_size", image_size), ("seed", seed)):
            if value is not None:
                if key in over and over[key] != value:
                    raise ValueError(f"--{key.replace('_', '-')} {value} and --set {key}={over[key]} disagree")
                over[key] = value
        det = create(method, preset=preset, **over)
        ck_scope: Any = contextlib.nullcontext()
        if checkpoints is not None:
            from .train import train_checkpoints

            ck_scope = train_checkpoints(checkpoints / method / "fit")
        with ck_scope as ck:
            _fit_cli(det, train, anomalies)
        det.save(out)
        if ck is not None:
            ck.remove()
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    typer.echo(f"saved {method} fitted on {len(det.train_scores_)} images to {out} (threshold {det.threshold_:.6g})")


def _fit_cli(det, train: Path, anomalies: Optional[Path]) -> None:
    """``fit``'s images: the good folder, plus labelled anomalies for weakly-supervised detectors."""
    if anomalies is None:
        det.fit(train)
    else:
        import numpy as np

        from .data.images import as_image_array

        size = getattr(det, "image_size", None)
        good, bad = as_image_array(train, size=size), as_image_array(anomalies, size=size)
        if good.shape[1:] != bad.shape[1:]:
            raise ValueError(f"--anomalies images have shape {bad.shape[1:]}, --train images {good.shape[1:]}; "
                             "give --image-size to resize both")
        det.fit(np.concatenate([good, bad]), np.r_[np.zeros(len(good)), np.ones(len(bad))])


@app.command()
def score(
    model: Path = typer.Argument(..., help="Directory written by `anomalens fit`."),
    inputs: list[Path] = typer.Argument(..., help="Image files and/or folders (searched recursively)."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write path,score,anomalous to this CSV."),
    maps: Optional[Path] = typer.Option(
        None, "--maps", help="Write a heatmap overlay PNG per image here (detectors with anomaly_map)."),
    report: Optional[Path] = typer.Option(
        None, "--report", help="Also write an HTML page: the score histogram with the threshold, the ROC curve when "
        "an input is an MVTec-style test folder (good/ = normal, other sub-folders = anomalous) and the most "
        "anomalous images with their maps."),
) -> None:
    """Score images: prints path, score and 0/1 (1 = anomalous) per image."""
    from ._io import atomic_write_text
    from .detectors.base import load_detector, localises

    try:
        det = load_detector(model)
        if maps is not None and not localises(det):
            from .registry import localising_detectors

            raise ValueError(f"--maps: {det.name} does not localise anomalies (no anomaly_map); "
                             f"detectors that do: {', '.join(localising_detectors())}")
        paths = _expand_inputs(inputs)
        scores = _score_paths(det, paths, maps=maps, map_names=_map_names(paths, inputs) if maps else None)
        if report is not None:
            _score_report(report, det, model, paths, inputs, scores)
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    flags = (scores > det.threshold_).astype(int)
    calibrated = hasattr(det, "calibration_scores_")
    pvals = det.p_values_from_scores(scores) if calibrated else [None] * len(scores)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "score", "anomalous"] + (["p_value"] if calibrated else []))
    for p, s, f, pv in zip(paths, scores, flags, pvals):
        w.writerow([str(p), f"{s:.6g}", int(f)] + ([f"{pv:.6g}"] if calibrated else []))
    if csv_out is not None:
        try:
            atomic_write_text(csv_out, buf.getvalue(), what="CSV output")
        except OSError as e:
            _fail(e)
    sys.stdout.write(buf.getvalue())


@app.command()
def serve(
    model: Path = typer.Argument(..., help="Directory written by `anomalens fit`."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port (0: any free port)."),
    max_mb: float = typer.Option(32.0, help="Largest request body accepted, in MiB."),
    quiet: bool = typer.Option(False, help="Do not log each request."),
) -> None:
    """Serve a fitted detector over HTTP: POST images to /score, one to /map (heatmap PNG), GET /health."""
    from .detectors.base import load_detector
    from .serve import ScoringService, make_server

    try:
        if max_mb <= 0:
            raise ValueError(f"--max-mb must be > 0, got {max_mb}")
        service = ScoringService(load_detector(model))
        server = make_server(service, host, port, max_bytes=int(max_mb * 2**20), quiet=quiet)
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    h, p = server.server_address[:2]
    typer.echo(f"serving {service.detector.name} from {model} on http://{h}:{p} "
               f"(POST /score: an image or multipart files; POST /map: one image; GET /health); Ctrl-C stops")
    import signal

    def stop(signum, frame):  # SIGTERM (docker stop, systemd) ends it like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()


def _folder_labels(paths: list[Path], inputs: list[Path]) -> tuple[list[int] | None, list[str | None]]:
    """Labels from an MVTec-style test layout: ``<input>/good/*`` normal (0), ``<input>/<defect>/*``
    anomalous (1); None when any image is not in such a sub-folder. Also each image's defect
    folder (None for loose files)."""
    labels: list[int] | None = []
    defects: list[str | None] = []
    for p in paths:
        base = next((i for i in inputs if i.is_dir() and i in p.parents), None)
        parts = p.relative_to(base).parts if base is not None else (p.name,)
        defect = parts[0] if len(parts) == 2 else None
        defects.append(defect)
        if defect is None or labels is None:
            labels = None
        else:
            labels.append(0 if defect == "good" else 1)
    return labels, defects


def _score_report(out: Path, det, model: Path, paths: list[Path], inputs: list[Path], scores) -> None:
    """``anomalens score --report``: one page with the figures of :func:`anomalens.eval.figures.render_section`."""
    import numpy as np

    from ._io import atomic_write_text
    from .data.folder import mask_path
    from .data.images import as_image_array, read_image, read_mask
    from .detectors.base import localises
    from .eval.figures import RunView, panel, png_bytes, top_indices, render_section
    from .eval.report import html_page

    labels, defects = _folder_labels(paths, inputs)
    top = top_indices(scores)
    if localises(det):
        size, channels = det.score_format()
        amaps = det.anomaly_map(as_image_array([paths[i] for i in top], size=size, channels=channels))
    else:
        amaps = None
    lo, hi = (float(v) for v in np.percentile(amaps, [1, 99])) if amaps is not None else (0.0, 1.0)
    panels = []
    for k, i in enumerate(top):
        img = read_image(paths[i])  # at the file's own size; the map is resized onto it
        mpath = mask_path(paths[i].parent.parent, defects[i], paths[i].stem) if defects[i] not in (None, "good") else None
        mask = read_mask(mpath, img.shape[:2]) if mpath is not None else None
        tile = panel(img, None if amaps is None else amaps[k], mask, lo, hi)
        kind = "" if labels is None else (" (anomalous)" if labels[i] else " (normal)")
        panels.append((f"{paths[i].name}{kind}, score {scores[i]:.4g}", png_bytes(tile)))
    view = RunView(label=det.name, scores=np.asarray(scores), threshold=float(det.threshold_),
                   labels=None if labels is None else np.asarray(labels), panels=panels,
                   notes=[f"{len(paths)} images; {int((scores > det.threshold_).sum())} above the threshold "
                          f"{det.threshold_:.6g} ({_threshold_source(det.describe())})"])
    body = render_section(f"{det.name} ({model}) on {', '.join(map(str, inputs))}", [view], level=2)
    atomic_write_text(out, html_page("anomalens score report", body), what="score report")


@app.command()
def calibrate(
    model: Path = typer.Argument(..., help="Directory written by `anomalens fit`; rewritten in place unless --out."),
    inputs: list[Path] = typer.Argument(..., help="Normal images the model was not fitted on: files and/or folders."),
    fpr: float = typer.Option(0.01, help="False-positive rate to guarantee on normal images, in (0, 1)."),
    out: Optional[Path] = typer.Option(None, help="Save the calibrated model here instead of over MODEL."),
) -> None:
    """Re-set a fitted model's threshold from held-out normal images (conformal: at most --fpr false alarms)."""
    from .detectors.base import load_detector

    try:
        det = load_detector(model)
        old = det.threshold_
        det.calibrate_from_scores(_score_paths(det, _expand_inputs(inputs)), fpr=fpr)
        det.save(out if out is not None else model)
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    typer.echo(f"calibrated {det.name} on {det.calibration_['images']} normal images at fpr={fpr}: threshold "
               f"{old:.6g} -> {det.threshold_:.6g}; saved to {out if out is not None else model}")


@app.command()
def info(
    model: Path = typer.Argument(..., help="Directory written by `anomalens fit` (or detector.save)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
) -> None:
    """What a saved model is: method and paper, input size, threshold and where it came from,
    calibration, maps, weights (checksum verified). Scores nothing."""
    import json

    from .detectors.base import model_info
    from .registry import DETECTORS

    try:
        d = model_info(model)
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    h, w, c = d["input_shape"]
    info_ = DETECTORS.get(d["method"])
    rows = [
        ("model", d["path"]),
        ("method", d["method"] + (f"  ({info_.paper})" if info_ is not None else "")),
        ("written by", f"anomalens {d['anomalens_version']}, model format {d['format_version']}"),
        ("input", f"{h} x {w} x {c}; image files are resized to {d['score_size'][0]} x {d['score_size'][1]}"),
        ("threshold", f"{d['threshold']:.6g} ({_threshold_source(d)})"),
        ("anomaly maps", "yes (score --maps, serve /map)" if d["anomaly_map"] else "no"),
        ("weights", f"{d['weights_bytes'] / 1e6:.3g} MB, {d['tensors']} tensors, {d['values']:,} values, "
                    f"sha256 {d['weights_sha256'][:12]}... verified"),
        ("params", " ".join(f"{k}={json.dumps(v)}" for k, v in d["params"].items())),
    ]
    for key, value in rows:
        typer.echo(f"{key:13s}{value}")


def _threshold_source(described: dict) -> str:
    """Where a threshold came from, in words, from :meth:`BaseDetector.describe`'s values."""
    cal = described["calibration"]
    if cal is None and described["threshold_quantile"] is None:
        return f"{described['method']}'s fixed rule"
    if cal is None:
        return f"chosen from training data: the {described['threshold_quantile']:g} quantile of its training scores"
    return f"calibrated on {cal['images']} held-out normal images at fpr {cal['fpr']:g}"


def _expand_inputs(inputs: list[Path]) -> list[Path]:
    """Image files named on the command line, folders replaced by the images under them."""
    paths: list[Path] = []
    for p in inputs:
        paths.extend(_images_under(p) if p.is_dir() else [p])
    return paths


def _score_paths(det, paths: list[Path], *, maps: Path | None = None, map_names: list[str] | None = None):
    """Scores of image files, read and scored in chunks (512, or 64 when writing the overlays
    of ``maps``) so memory stays bounded for any folder."""
    import numpy as np
    from tqdm.auto import tqdm

    from .data.images import as_image_array, read_image
    from .eval.maps import write_overlays

    size, channels = det.score_format()
    step = 64 if maps is not None else 512
    scores = np.empty(len(paths))
    for i in tqdm(range(0, len(paths), step), desc="scoring", unit="chunk", disable=len(paths) <= step,
                  leave=False):
        chunk = paths[i : i + step]
        images = as_image_array(chunk, size=size, channels=channels)
        scores[i : i + len(chunk)] = det.score(images)
        if maps is not None:  # overlays at the files' own size
            write_overlays(map_names[i : i + step], [read_image(p) for p in chunk], det.anomaly_map(images), maps)
    return scores


def _images_under(folder: Path) -> list[Path]:
    """Image files in ``folder`` and its sub-folders (an MVTec ``test/`` with good/ and defect folders)."""
    from .data.images import IMAGE_EXTENSIONS

    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not found:
        raise ValueError(f"folder {str(folder)!r} contains no images (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return found


def _map_names(paths: list[Path], inputs: list[Path]) -> list[str]:
    """Unique file names for the overlays: the path below its input folder, '/' -> '__'."""
    names = []
    for p in paths:
        base = next((i for i in inputs if i.is_dir() and i in p.parents), None)
        rel = p.relative_to(base) if base is not None else Path(p.name)
        names.append("__".join(rel.with_suffix("").parts) + "_map")
    if len(set(names)) != len(names):
        names = [f"{i:05d}_{n}" for i, n in enumerate(names)]
    return names


@app.command()
def augment(
    method: str = typer.Option("dcgan", help="Generator (only 'dcgan')."),
    train: Path = typer.Option(..., help="Folder of normal training images."),
    n: int = typer.Option(500, help="How many images to write."),
    out: Path = typer.Option(..., help="Folder to write 0000.png, 0001.png, ... into."),
    preset: str = typer.Option("paper", help="paper (128 px, 25 epochs) | quick"),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="DCGAN setting override key=value (repeatable), e.g. epochs=300."),
    seed: int = typer.Option(0, help="Seeds the training and the generated images."),
    size: Optional[int] = typer.Option(None, help="Size of the written images (default: the training images')."),
    save_model: Optional[Path] = typer.Option(None, help="Also save the trained DCGAN here."),
    grid: Optional[Path] = typer.Option(None, help="Also write an 8 x 8 grid of generated images (PNG)."),
) -> None:
    """Train a DCGAN on a folder of normal images and write synthetic ones (seed 001)."""
    from PIL import Image

    from ._io import atomic_dir
    from .augment import DCGANAugmenter, check_settings, diagnose, memorisation
    from .data.images import list_images, load_images

    try:
        if method != "dcgan":
            raise ValueError(f"--method: only 'dcgan' is available, got {method!r}")
        settings = check_settings(_overrides(set_), "--set")
        x = load_images(list_images(train))
        aug = DCGANAugmenter.from_preset(preset, seed=seed, verbose=True, **settings).fit(x)
        side = size or x.shape[1:3]
        images = aug.generate(n, size=side)
        with atomic_dir(out, what="augmented images") as tmp:
            for i, img in enumerate(images):
                Image.fromarray(img[..., 0] if img.shape[2] == 1 else img).save(tmp / f"{i:04d}.png")
        if save_model is not None:
            aug.save(save_model)
        if grid is not None:
            from ._io import atomic_path

            g = aug.generate(64)
            tiles = g.reshape(8, 8, *g.shape[1:]).transpose(0, 2, 1, 3, 4).reshape(8 * g.shape[1], 8 * g.shape[2], -1)
            with atomic_path(grid, what="image grid") as tmp:
                Image.fromarray(tiles[..., 0] if tiles.shape[2] == 1 else tiles).save(tmp, format="PNG")
        stats = memorisation(aug.generate(min(n, 500)), aug.to_model_size(x))
        stats.update(aug.final_losses_ or {})
    except (ValueError, OSError, TypeError) as e:
        _fail(e)
    typer.echo(f"wrote {n} images to {out}; nearest-training-image distance of generated images (median) "
               f"{stats['gen_to_train_median']:.2f} vs between training images {stats['train_to_train_median']:.2f}")
    if "gan_disc_loss" in stats:
        typer.echo(f"last epoch: discriminator loss {stats['gan_disc_loss']:.4g}, generator loss {stats['gan_gen_loss']:.4g}")
    for warning in diagnose(stats):
        typer.echo(f"warning: {warning}", err=True)


def main() -> None:
    """The ``anomalens`` entry point: flush denormal floats (before torch starts its worker
    threads; see :func:`anomalens.train.flush_denormals`), then run the command."""
    args = sys.argv[1:]
    if args and "--help" not in args:  # help needs no torch: it stays a 0.3 s answer
        from .train import flush_denormals

        flush_denormals()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
