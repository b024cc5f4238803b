"""Image files to uint8 ``N x H x W x C`` arrays, with one explicit resize policy.

Policy
------
* Grayscale files (Pillow modes ``1``, ``L``, ``I;16``, ``I``, ``F``) give C = 1; every
  other mode (RGB, RGBA, P, CMYK, ...) is converted to RGB, C = 3. Alpha is dropped.
* ``size=None``: every image must have the size of the first, else an error names the
  first file that differs. ``size=S`` (int) or ``(H, W)``: each whole image is resized
  to that size with bilinear filtering (aspect ratio not kept, no crop). Masks use
  nearest-neighbour resizing and are binarised at > 0.
* All images in one call must have the same channel count unless ``channels`` is given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..exceptions import ImageReadError

__all__ = ["IMAGE_EXTENSIONS", "list_images", "read_image", "decode_image", "load_images", "read_mask", "as_image_array"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm", ".pbm")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}

Size = int | tuple[int, int] | None


def _hw(size: Size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"image size must be a positive integer, got {size}")
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        return int(size[0]), int(size[1])
    raise ValueError(f"image size must be a positive int or (height, width), got {size!r}")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (sorted by name), by extension."""
    d = Path(folder)
    if not d.exists():
        raise FileNotFoundError(f"folder {str(d)!r} does not exist")
    if not d.is_dir():
        raise NotADirectoryError(f"{str(d)!r} is not a folder")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(
            f"folder {str(d)!r} contains no images (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return files


def read_image(path: str | os.PathLike, size: Size = None, channels: int | None = None) -> np.ndarray:
    """Read one image file as a uint8 ``H x W x C`` array (see the module policy)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file {str(p)!r} does not exist")
    return _decode(p, f"image file {str(p)!r}", size, channels)


def decode_image(data: bytes, name: str = "image", size: Size = None, channels: int | None = None) -> np.ndarray:
    """Decode an encoded image (the bytes of a PNG, JPEG, ... file) with the policy of :func:`read_image`.

    ``name`` says in errors which input was bad (an upload's file name, a form field).
    """
    import io

    if not data:
        raise ImageReadError(f"{name} is empty (0 bytes)")
    return _decode(io.BytesIO(data), name, size, channels)


def _decode(src, what: str, size: Size, channels: int | None) -> np.ndarray:
    """The module policy on one file or file-like ``src``; ``what`` names it in errors."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(src) as im:
            im.load()
            gray = im.mode in _GRAY_MODES
            if channels == 1 or (channels is None and gray):
                if im.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
                    arr = np.asarray(im, dtype=np.float64)
                    hi = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
                    im = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8))
                else:
                    im = im.convert("L")
            else:
                im = im.convert("RGB")
            hw = _hw(size)
            if hw is not None and (im.height, im.width) != hw:
                im = im.resize((hw[1], hw[0]), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except UnidentifiedImageError as e:
        raise ImageReadError(f"{what} is not an image Pillow can read") from e
    except Image.DecompressionBombError as e:  # not an OSError: without this, a bare traceback (HTTP 500 in serve)
        raise ImageReadError(f"{what} is refused as a possible decompression bomb: {e} "
                             "(raise PIL.Image.MAX_IMAGE_PIXELS to read it anyway)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{what} is corrupt or truncated: {e}") from e
    return arr[..., None] if arr.ndim == 2 else arr


def read_mask(path: str | os.PathLike | None, shape: tuple[int, int]) -> np.ndarray:
    """Read a defect mask as a 0/1 uint8 ``H x W`` array at ``shape`` (nearest resize).

    ``None`` gives an all-zero mask.
    """
    from PIL import Image

    if path is None:
        return np.zeros(shape, dtype=np.uint8)
    p = Path(path)
    try:
        with Image.open(p) as im:
            im = im.convert("L")
            if (im.height, im.width) != tuple(shape):
                im = im.resize((shape[1], shape[0]), Image.NEAREST)
            return (np.asarray(im) > 0).astype(np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageReadError(f"mask file {str(p)!r} cannot be read: {e}") from e


def load_images(paths: Sequence[str | os.PathLike], size: Size = None, channels: int | None = None) -> np.ndarray:
    """Read many image files into one uint8 ``N x H x W x C`` array (see the module policy)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no image files given")
    out: list[np.ndarray] = []
    for p in paths:
        arr = read_image(p, size=size, channels=channels)
        if out:
            first = out[0]
            if arr.shape[2] != first.shape[2]:
                raise ValueError(
                    f"mixed channels: {str(p)!r} has {arr.shape[2]} channel(s) but {str(paths[0])!r} has "
                    f"{first.shape[2]}; pass channels=1 or channels=3 to convert all"
                )
            if arr.shape[:2] != first.shape[:2]:
                raise ValueError(
                    f"mixed sizes: {str(p)!r} is {arr.shape[0]}x{arr.shape[1]} but {str(paths[0])!r} is "
                    f"{first.shape[0]}x{first.shape[1]}; declare an image size to resize all"
                )
        out.append(arr)
    return np.stack(out)


def as_image_array(X, size: Size = None, channels: int | None = None) -> np.ndarray:
    """Turn what a detector accepts into an array, without validating values.

    ``X`` may be an array, a folder path, a single image path, a list of image paths,
    or an object with an ``images`` array attribute (e.g. :class:`ImageSet`).
    Paths are read with :func:`load_images`; arrays are returned unchanged.
    """
    if isinstance(X, np.ndarray):
        return X
    if hasattr(X, "images") and isinstance(getattr(X, "images"), np.ndarray):
        return X.images
    if isinstance(X, (str, os.PathLike)):
        p = Path(X)
        if p.is_dir():
            return load_images(list_images(p), size=size, channels=channels)
        if p.exists():
            return load_images([p], size=size, channels=channels)
        raise FileNotFoundError(f"input path {str(p)!r} does not exist")
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError("X is an empty list: expected images or image paths")
        if all(isinstance(x, (str, os.PathLike)) for x in X):
            return load_images(list(X), size=size, channels=channels)
        return np.asarray(X)
    try:
        import torch

        if isinstance(X, torch.Tensor):
            return X.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(
        f"X must be a uint8 array N x H x W x C, a folder, a list of image paths or an image set; "
        f"got {type(X).__name__}"
    )
