"""CatsVsDogs (ASIRRA, 25,000 photos: 12,500 cats, 12,500 dogs), GEOM's 64 px dataset (seed 002).

It cannot be fetched here; point ``root`` at one of these layouts:

* ``root/train/`` and ``root/test/`` holding ``cat.<i>.jpg`` / ``dog.<i>.jpg``: a split
  made beforehand (the GEOM authors' ``create_cats_vs_dogs_npz`` reads this), used as is;
* ``root/train/`` only, with all 25,000 ``cat.<i>.jpg`` / ``dog.<i>.jpg`` (Kaggle's
  "Dogs vs. Cats" ``train.zip``), or ``root/PetImages/{Cat,Dog}/<i>.jpg`` (Microsoft's
  download): split per class by the image number, the first 10,000 for training and the
  rest (2,500) for testing, as in the paper.

Each photo is resized so that its shorter side is ``size`` (area filter) and centre-cropped
to ``size x size`` (the authors' ``resize_and_crop_image``). Decoding 25,000 JPEGs takes a
while, so the arrays are cached (``<cache>/catsvsdogs/``, keyed by the file list and size).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes
from ..exceptions import DatasetNotAvailableError
from .fetch import cache_dir

__all__ = ["load_cats_vs_dogs", "CATS_VS_DOGS_CLASSES", "resize_and_crop", "N_TRAIN_PER_CLASS"]

CATS_VS_DOGS_CLASSES = ("cat", "dog")
N_TRAIN_PER_CLASS = 10_000
_KAGGLE = re.compile(r"^(cat|dog)\.(\d+)\.(jpe?g|png)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(\d+)\.(jpe?g|png)$", re.IGNORECASE)


def resize_and_crop(img, size: int) -> np.ndarray:
    """PIL image -> RGB uint8 ``size x size x 3``: shorter side to ``size``, centre crop."""
    from PIL import Image

    img = img.convert("RGB")
    w, h = img.size
    nw, nh = (size, int(size * h / w)) if h > w else (int(size * w / h), size)
    img = img.resize((max(nw, size), max(nh, size)), Image.Resampling.BOX)
    top, left = (img.size[1] - size) // 2, (img.size[0] - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def _kaggle_files(folder: Path) -> list[tuple[Path, int, int]]:
    """(path, label, number) of the ``cat.<i>.jpg`` / ``dog.<i>.jpg`` files in ``folder``."""
    out = []
    for p in folder.iterdir():
        m = _KAGGLE.match(p.name)
        if m:
            out.append((p, CATS_VS_DOGS_CLASSES.index(m.group(1).lower()), int(m.group(2))))
    return sorted(out, key=lambda t: (t[1], t[2]))


def _find(root: Path) -> tuple[list, list, str]:
    """Train and test file lists for whichever layout ``root`` has."""
    train, test = root / "train", root / "test"
    if train.is_dir():
        tr = _kaggle_files(train)
        te = _kaggle_files(test) if test.is_dir() else []
        if tr and te:
            return tr, te, "train+test folders"
        if tr:
            return ([f for f in tr if f[2] < N_TRAIN_PER_CLASS], [f for f in tr if f[2] >= N_TRAIN_PER_CLASS],
                    "one train folder split by number")
    pets = root / "PetImages"
    if pets.is_dir():
        files = []
        for label, sub in enumerate(("Cat", "Dog")):
            d = pets / sub
            if d.is_dir():
                files += sorted(((p, label, int(m.group(1))) for p in d.iterdir() if (m := _NUMBERED.match(p.name))),
                                key=lambda t: t[2])
        if files:
            return ([f for f in files if f[2] < N_TRAIN_PER_CLASS], [f for f in files if f[2] >= N_TRAIN_PER_CLASS],
                    "PetImages split by number")
    raise DatasetNotAvailableError(
        f"catsvsdogs: no cat.<i>.jpg / dog.<i>.jpg files under {str(train)!r} (nor PetImages/Cat, PetImages/Dog "
        f"under {str(root)!r}). CatsVsDogs cannot be downloaded by anomalens here: obtain Kaggle's Dogs vs. Cats "
        f"train.zip (or Microsoft's PetImages download) yourself, unpack it, and pass its folder as root= "
        f"(CLI: --data-root)."
    )


def _decode(files: list[tuple[Path, int, int]], size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image, UnidentifiedImageError
    from tqdm.auto import tqdm

    images, labels, bad = [], [], []
    for path, label, _ in tqdm(files, desc="catsvsdogs: decoding", unit="img", leave=False, disable=len(files) < 500):
        try:
            with Image.open(path) as img:
                images.append(resize_and_crop(img, size))
            labels.append(label)
        except (OSError, UnidentifiedImageError, ValueError):
            bad.append(str(path))  # Microsoft's PetImages has a few empty / corrupt files
    x = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return x, np.asarray(labels, dtype=np.int64), bad


def load_cats_vs_dogs(root: str | Path, size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``, uint8 ``N x size x size x 3``, label 0 cat / 1 dog."""
    import warnings

    root = Path(root)
    train, test, layout = _find(root)
    key = hashlib.sha256(
        "\n".join(f"{p.name}:{p.stat().st_size}" for p, _, _ in train + test).encode() + f"|{size}|{layout}".encode()
    ).hexdigest()[:16]
    cache = cache_dir() / "catsvsdogs" / f"catsvsdogs-{size}px-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    x_tr, y_tr, bad_tr = _decode(train, size)
    x_te, y_te, bad_te = _decode(test, size)
    if bad_tr or bad_te:
        warnings.warn(f"catsvsdogs: skipped {len(bad_tr) + len(bad_te)} unreadable files, e.g. {(bad_tr + bad_te)[0]!r}",
                      stacklevel=2)
    if not len(x_tr) or not len(x_te):
        raise ValueError(f"catsvsdogs under {str(root)!r} ({layout}): {len(x_tr)} training and {len(x_te)} test images; "
                         f"both must be non-empty")
    buf = io.BytesIO()
    np.savez(buf, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    try:
        atomic_write_bytes(cache, buf.getvalue(), what="catsvsdogs cache")
    except OSError:  # a read-only cache only costs the decoding next time
        pass
    return x_tr, y_tr, x_te, y_te
