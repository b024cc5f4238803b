"""MVTec AD style folders, in three layers (as anomalib has them, minus its pitfalls).

Layout of one category::

    <root>/<category>/train/good/*.png          normal training images
    <root>/<category>/test/good/*.png           normal test images (label 0)
    <root>/<category>/test/<defect>/*.png       anomalous test images (label 1)
    <root>/<category>/ground_truth/<defect>/<stem>_mask.png   optional pixel masks

1. :func:`make_folder_samples` lists the samples (path, split, label, defect, mask path).
2. :func:`load_folder` reads them into arrays (resize policy in :mod:`anomalens.data.images`).
3. The benchmark's ``folder`` protocol uses the split as given: train holds normal images only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import IMAGE_EXTENSIONS, Size, load_images, read_mask

__all__ = ["FolderSample", "make_folder_samples", "list_categories", "load_folder", "mask_path"]


@dataclass(frozen=True)
class FolderSample:
    path: Path
    split: str  # "train" | "test"
    label: int  # 0 normal, 1 anomalous
    defect: str  # "good" or the defect folder name
    mask_path: Path | None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def mask_path(test_dir: str | Path, defect: str, stem: str) -> Path | None:
    """The MVTec AD ground-truth mask of ``<category>/test/<defect>/<stem>.*``, if it exists:
    ``<category>/ground_truth/<defect>/<stem>_mask.png``."""
    cand = Path(test_dir).parent / "ground_truth" / defect / f"{stem}_mask.png"
    return cand if cand.is_file() else None


def list_categories(root: str | Path) -> list[str]:
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"folder dataset root {str(r)!r} does not exist")
    return sorted(p.name for p in r.iterdir() if (p / "train" / "good").is_dir())


def make_folder_samples(root: str | Path, category: str) -> list[FolderSample]:
    """List the samples of one category; raise if the layout is not MVTec's."""
    base = Path(root) / category
    train_good = base / "train" / "good"
    test_dir = base / "test"
    if not train_good.is_dir():
        raise FileNotFoundError(
            f"expected normal training images in {str(train_good)!r} (MVTec AD layout: "
            f"<root>/<category>/train/good, <root>/<category>/test/<good|defect>)"
        )
    samples = [FolderSample(p, "train", 0, "good", None) for p in _images_in(train_good)]
    if not samples:
        raise ValueError(f"no training images in {str(train_good)!r} (looked for {', '.join(IMAGE_EXTENSIONS)})")
    if test_dir.is_dir():
        for d in sorted(p for p in test_dir.iterdir() if p.is_dir()):
            label = 0 if d.name == "good" else 1
            for p in _images_in(d):
                mask = mask_path(test_dir, d.name, p.stem) if label else None
                samples.append(FolderSample(p, "test", label, d.name, mask))
    return samples


def load_folder(root: str | Path, category: str, image_size: Size = None, channels: int | None = None) -> dict:
    """Read one category into arrays: train/test images, test labels, defect names, masks, paths."""
    samples = make_folder_samples(root, category)
    train = [s for s in samples if s.split == "train"]
    test = [s for s in samples if s.split == "test"]
    x_train = load_images([s.path for s in train], size=image_size, channels=channels)
    ch = x_train.shape[3]
    size = image_size if image_size is not None else x_train.shape[1:3]
    out = {
        "x_train": x_train,
        "y_train": np.zeros(len(train), dtype=np.int64),
        "train_paths": [str(s.path) for s in train],
        "x_test": None,
        "y_test": np.array([s.label for s in test], dtype=np.int64),
        "test_paths": [str(s.path) for s in test],
        "test_defects": [s.defect for s in test],
        "test_masks": None,
    }
    if test:
        out["x_test"] = load_images([s.path for s in test], size=size, channels=ch)
        hw = out["x_test"].shape[1:3]
        out["test_masks"] = np.stack([read_mask(s.mask_path, hw) for s in test])
    return out
