"""``synthetic_parts``: a procedural stand-in for MVTec AD, written in its folder layout.

No real industrial defect dataset can be fetched on the machines this project runs on, so
for numbers everyone can reproduce the package *draws* one. It is a stand-in, not real
data: results on it say how methods compare on these five made-up tasks, nothing about
MVTec AD. Users who have MVTec AD point the ``folder`` dataset at it instead.

Each category imitates what one of seed 001's MVTec categories asks of a method:

============  ==================  ==========================================================
category      like MVTec's        normal variation / defects
============  ==================  ==========================================================
``weave``     leather (texture)   weave period, angle, phase, grain, colour / cut, hole,
                                  stain, loose thread
``bottle``    bottle (top view)   centre, radius, highlights / contamination, broken rim
``screw``     screw               anywhere in the frame, any rotation / scratched head,
                                  bent tip, damaged thread (small defects on a moving part)
``board``     transistor          small shifts, board traces / missing, misplaced (shifted or
                                  turned) component, bent lead
``brush``     toothbrush          head position, bristle texture / bent tuft, missing tuft,
                                  discoloured tuft
============  ==================  ==========================================================

Every image also varies in lighting (gain and a linear gradient) and sensor noise, applied
after the defect, so defects go through the same camera. Defects range from obvious to
subtle: each draws a ``severity`` in [0, 1] that scales its size and contrast. A defect's
pixel mask is where the clean defective render differs from the clean normal render of
the same part (a change above 2 grey levels, closed by one pixel), so masks are exact by
construction.

Difficulty was calibrated with ``raw_nnqed`` only (nearest neighbour on raw pixels),
aiming at an average image AUROC of roughly 0.65-0.85, as simple baselines get on MVTec AD;
never with the methods under study.

Everything is drawn from ``numpy.random.default_rng(seed)`` streams derived from
``(seed, category, split, index)``, so an image does not depend on how many others are
generated, and the same arguments give the same files on every machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

__all__ = ["CATEGORIES", "DEFECTS", "GENERATOR_VERSION", "render", "write_synthetic_parts", "ensure_synthetic_parts"]

#: bump when the drawings change: the cache folder is keyed by it
GENERATOR_VERSION = 1  # (unreleased until committed)

DEFECTS: dict[str, tuple[str, ...]] = {
    "weave": ("cut", "hole", "stain", "thread"),
    "bottle": ("contamination", "broken_rim"),
    "screw": ("scratch_head", "bent_tip", "thread_damage"),
    "board": ("missing", "misplaced", "bent_lead"),
    "brush": ("bent", "missing_tuft", "discoloured"),
}
CATEGORIES: tuple[str, ...] = tuple(DEFECTS)

Canvas = np.ndarray  # H x W x 3 float32 in [0, 1]


# -- drawing primitives (signed distances in pixels, anti-aliased coverage) -----------------
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy + 0.5, xx + 0.5


def _cover(sd: np.ndarray, soft: float = 1.0) -> np.ndarray:
    """Signed distance (negative inside) -> coverage in [0, 1] with a ``soft``-pixel edge."""
    return np.clip(0.5 - sd / soft, 0.0, 1.0)


def _sd_disc(yy, xx, cy, cx, r):
    return np.hypot(yy - cy, xx - cx) - r


def _local(yy, xx, cy, cx, angle):
    """Coordinates in a frame centred at (cy, cx) and turned by ``angle`` (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    return dx * s + dy * c, dx * c - dy * s  # (along the frame's y axis, along its x axis)


def _sd_box(yy, xx, cy, cx, half_h, half_w, angle=0.0, radius=0.0):
    ly, lx = _local(yy, xx, cy, cx, angle)
    qy, qx = np.abs(ly) - (half_h - radius), np.abs(lx) - (half_w - radius)
    outside = np.hypot(np.maximum(qy, 0), np.maximum(qx, 0))
    return outside + np.minimum(np.maximum(qy, qx), 0) - radius


def _sd_segment(yy, xx, p, q, width):
    py, px = p
    vy, vx = q[0] - py, q[1] - px
    t = np.clip(((yy - py) * vy + (xx - px) * vx) / max(vy * vy + vx * vx, 1e-9), 0, 1)
    return np.hypot(yy - py - t * vy, xx - px - t * vx) - width / 2


def _sd_polyline(yy, xx, points, width):
    return np.min([_sd_segment(yy, xx, a, b, width) for a, b in zip(points[:-1], points[1:])], axis=0)


def _paint(img: Canvas, alpha: np.ndarray, color) -> None:
    a = alpha[..., None].astype(np.float32)
    img *= 1 - a
    img += a * np.asarray(color, np.float32)


def _noise_field(rng, size: int, sigma: float) -> np.ndarray:
    """Smooth zero-mean, unit-std noise."""
    f = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), sigma, mode="wrap")
    return f / (f.std() + 1e-8)


def _blob(yy, xx, rng, cy, cx, r, wobble=0.35):
    """Signed distance of an irregular blob: a disc whose radius varies with the angle."""
    ang = np.arctan2(yy - cy, xx - cx)
    rad = np.full_like(ang, r)
    for k in (2, 3, 5):
        rad += r * wobble / k * np.sin(k * ang + rng.uniform(0, 2 * np.pi))
    return np.hypot(yy - cy, xx - cx) - rad


# -- the five categories: each a normal drawing plus its defects ----------------------------
def _weave(rng, s, defect, sev):
    yy, xx = _grid(s)
    period = rng.uniform(0.055, 0.07) * s
    ang = rng.uniform(-0.15, 0.15)
    ly, lx = _local(yy, xx, s / 2, s / 2, ang)
    ph = rng.uniform(0, 2 * np.pi, 2)
    warp = np.sin(2 * np.pi * lx / period + ph[0])
    weft = np.sin(2 * np.pi * ly / period + ph[1])
    over = (np.sin(np.pi * lx / period + ph[0] / 2) * np.sin(np.pi * ly / period + ph[1] / 2) > 0)
    pattern = np.where(over, warp, weft) * 0.5 + 0.5
    grain = _noise_field(rng, s, 1.2)
    base = np.array([0.55, 0.38, 0.25]) * rng.uniform(0.9, 1.1, 3)
    shade = 0.78 + 0.22 * pattern + 0.05 * grain
    img = (shade[..., None] * base).astype(np.float32)
    clean = img.copy()
    if defect is None:
        return clean, clean
    cy, cx = rng.uniform(0.2 * s, 0.8 * s, 2)
    if defect == "cut":
        length = (0.08 + 0.25 * sev) * s
        a = rng.uniform(0, np.pi)
        p, q = (cy - np.sin(a) * length / 2, cx - np.cos(a) * length / 2), (cy + np.sin(a) * length / 2, cx + np.cos(a) * length / 2)
        _paint(img, _cover(_sd_segment(yy, xx, p, q, 1.0 + 2.0 * sev)), base * (0.5 - 0.25 * sev))
    elif defect == "hole":
        r = (0.015 + 0.04 * sev) * s
        _paint(img, _cover(_sd_disc(yy, xx, cy, cx, r + 1.5)), base * 1.15)
        _paint(img, _cover(_sd_disc(yy, xx, cy, cx, r)), (0.06, 0.05, 0.05))
    elif defect == "stain":
        r = (0.05 + 0.08 * sev) * s
        alpha = _cover(_blob(yy, xx, rng, cy, cx, r), soft=3.0) * (0.15 + 0.35 * sev)
        _paint(img, alpha, rng.choice([(0.25, 0.16, 0.08), (0.75, 0.65, 0.45), (0.3, 0.3, 0.35)]))
    else:  # loose thread: a curved bright fibre
        n = 6
        a = rng.uniform(0, 2 * np.pi)
        length = (0.12 + 0.3 * sev) * s
        pts = [(cy, cx)]
        for _ in range(n):
            a += rng.uniform(-0.6, 0.6)
            pts.append((pts[-1][0] + np.sin(a) * length / n, pts[-1][1] + np.cos(a) * length / n))
        _paint(img, _cover(_sd_polyline(yy, xx, pts, 1.2 + sev)), base * (1.35 + 0.2 * sev))
    return np.clip(img, 0, 1), clean


def _bottle(rng, s, defect, sev):
    yy, xx = _grid(s)
    img = np.empty((s, s, 3), np.float32)
    img[:] = np.array([0.12, 0.13, 0.15]) + 0.02 * _noise_field(rng, s, 8.0)[..., None]
    cy, cx = s / 2 + rng.normal(0, 0.012 * s, 2)
    r = s * rng.uniform(0.36, 0.385)
    d = np.hypot(yy - cy, xx - cx)
    # shoulder: radial gradient glass
    glass = np.clip(1 - d / r, 0, 1)
    _paint(img, _cover(d - r), (0.2, 0.27, 0.22))
    img += (0.25 * glass ** 1.5)[..., None] * np.array([0.5, 0.65, 0.55], np.float32) * _cover(d - r)[..., None]
    # rim: a bright ring
    r_rim = r * 0.42
    ring = _cover(np.abs(d - r_rim) - 0.05 * r)
    _paint(img, ring, (0.62, 0.7, 0.64))
    # opening: dark
    _paint(img, _cover(d - (r_rim - 0.05 * r)), (0.05, 0.06, 0.06))
    # specular highlight, position varies with the light
    ha = rng.uniform(0, 2 * np.pi)
    hy, hx = cy + np.sin(ha) * r * 0.7, cx + np.cos(ha) * r * 0.7
    img += (0.12 * np.exp(-((yy - hy) ** 2 + (xx - hx) ** 2) / (2 * (0.06 * s) ** 2)))[..., None]
    img = np.clip(img, 0, 1)
    clean = img.copy()
    if defect == "contamination":
        for _ in range(1 + int(sev * 2.5)):
            rr = (0.012 + 0.035 * sev) * s
            rho, a = rng.uniform(0, r_rim * 0.8), rng.uniform(0, 2 * np.pi)
            by, bx = cy + np.sin(a) * rho, cx + np.cos(a) * rho
            color = rng.choice([(0.45, 0.35, 0.2), (0.3, 0.32, 0.3), (0.6, 0.55, 0.5)]) * rng.uniform(0.6, 1.0)
            _paint(img, _cover(_blob(yy, xx, rng, by, bx, rr, 0.5)) * (0.5 + 0.5 * sev), color)
    elif defect == "broken_rim":
        a0 = rng.uniform(0, 2 * np.pi)
        width = 0.15 + 0.45 * sev
        ang = np.angle(np.exp(1j * (np.arctan2(yy - cy, xx - cx) - a0)))
        jag = 0.03 * r * np.sin(ang * 40)
        chip = (np.abs(ang) < width / 2) & (d > r_rim - 0.06 * r + jag) & (d < r_rim + (0.06 + 0.15 * sev) * r + jag)
        alpha = ndimage.gaussian_filter(chip.astype(np.float32), 0.7)
        _paint(img, alpha, (0.1, 0.12, 0.11))
    return np.clip(img, 0, 1), clean


def _screw(rng, s, defect, sev):
    yy, xx = _grid(s)
    img = np.empty((s, s, 3), np.float32)
    img[:] = 0.78 + 0.015 * _noise_field(rng, s, 10.0)[..., None]
    a = rng.uniform(0, 2 * np.pi)
    length, half_w = s * 0.42, s * 0.038
    cy, cx = rng.uniform(0.32 * s, 0.68 * s, 2)
    ly, lx = _local(yy, xx, cy, cx, a)  # lx along the shank, from the head (-) to the tip (+)
    head_r = s * 0.075
    hx = -length / 2

    def draw(target, tip_bend=0.0, thread_gap=None):
        shank = _sd_box(yy, xx, cy, cx, half_w, length / 2, a)
        taper = np.clip((lx - length * 0.3) / (length * 0.2), 0, 1)  # the tip narrows
        shank = np.maximum(shank, np.abs(ly) - half_w * (1 - 0.8 * taper))
        if tip_bend:
            # the last 25 % of the shank bent sideways
            body = np.maximum(shank, lx - length * 0.25)
            ty = ly - np.clip(lx - length * 0.25, 0, None) * np.tan(tip_bend)
            tip = np.maximum(np.abs(ty) - half_w * (1 - 0.8 * taper), np.maximum(length * 0.25 - lx, lx - length / 2))
            shank = np.minimum(body, tip)
        thread = 0.5 + 0.5 * np.sin(2 * np.pi * lx / (s * 0.02))
        if thread_gap is not None:
            g0, g1 = thread_gap
            thread = np.where((lx > g0) & (lx < g1), 0.5, thread)
        metal = 0.35 + 0.25 * thread * (lx > hx + head_r * 0.6) - 0.15 * (ly / half_w) ** 2
        alpha = _cover(shank)
        _paint(target, alpha, np.zeros(3))
        target += (alpha * np.clip(metal, 0, 1))[..., None] * np.array([0.9, 0.88, 0.85], np.float32)
        head = _cover(np.hypot(ly, lx - hx) - head_r)
        _paint(target, head, (0.42, 0.41, 0.4))
        slot = _cover(_sd_box(yy, xx, cy - np.sin(a) * hx, cx + np.cos(a) * hx, head_r * 0.8, head_r * 0.12, a))
        _paint(target, slot, (0.15, 0.15, 0.15))

    backdrop = img.copy()
    draw(img)
    clean = np.clip(img, 0, 1)
    if defect is None:
        return clean, clean
    if defect == "scratch_head":
        img = clean.copy()
        ang = rng.uniform(0, np.pi)
        rr = head_r * (0.4 + 0.5 * sev)
        py, px = cy - np.sin(a) * hx, cx + np.cos(a) * hx
        p = (py - np.sin(ang) * rr, px - np.cos(ang) * rr)
        q = (py + np.sin(ang) * rr, px + np.cos(ang) * rr)
        _paint(img, _cover(_sd_segment(yy, xx, p, q, 1.0 + 1.5 * sev)), (0.75, 0.74, 0.72))
    else:
        img = backdrop.copy()
        if defect == "bent_tip":
            draw(img, tip_bend=(0.12 + 0.45 * sev) * rng.choice([-1, 1]))
        else:
            g0 = rng.uniform(-0.1, 0.2) * length
            draw(img, thread_gap=(g0, g0 + (0.05 + 0.15 * sev) * length))
    return np.clip(img, 0, 1), clean


def _board(rng, s, defect, sev):
    yy, xx = _grid(s)
    img = np.empty((s, s, 3), np.float32)
    img[:] = np.array([0.1, 0.3, 0.16]) + 0.02 * _noise_field(rng, s, 3.0)[..., None]
    off = rng.normal(0, 0.02 * s, 2)
    tilt = rng.normal(0, 0.03)  # the component sits a little askew on normal boards too
    # copper traces and pads (part of the board, fixed up to the shift)
    for i in range(3):
        x = s * (0.38 + 0.12 * i) + off[1]
        _paint(img, _cover(_sd_box(yy, xx, s * 0.82 + off[0], x, s * 0.1, s * 0.018)), (0.65, 0.5, 0.25))
    _paint(img, _cover(_sd_box(yy, xx, s * 0.15 + off[0], s * 0.5 + off[1], s * 0.02, s * 0.35)), (0.6, 0.48, 0.25))

    def component(target, dy=0.0, dx=0.0, turn=0.0, bend=None):
        turn += tilt
        cy, cx = s * 0.42 + off[0] + dy, s * 0.5 + off[1] + dx
        c, si = np.cos(turn), np.sin(turn)

        def at(ly, lx):  # the component's frame (y down its leads) -> image coordinates
            return cy + ly * c - lx * si, cx + ly * si + lx * c

        for i in range(3):
            lx0 = (i - 1) * s * 0.12
            b = bend if bend is not None and i == 2 else 0.0
            end = (s * 0.12 + np.cos(b) * s * 0.28, lx0 + np.sin(b) * s * 0.28)
            _paint(target, _cover(_sd_segment(yy, xx, at(s * 0.12, lx0), at(*end), s * 0.022)), (0.78, 0.78, 0.76))
        _paint(target, _cover(_sd_box(yy, xx, cy, cx, s * 0.14, s * 0.2, turn, radius=s * 0.01)), (0.08, 0.08, 0.09))
        _paint(target, _cover(_sd_box(yy, xx, *at(-s * 0.1, 0.0), s * 0.02, s * 0.17, turn)), (0.22, 0.22, 0.24))

    board = img.copy()
    component(img)
    clean = np.clip(img, 0, 1).copy()
    if defect is None:
        return clean, clean
    img = board.copy()
    if defect == "misplaced":
        if rng.random() < 0.5:
            dy, dx = rng.uniform(0.015, 0.015 + 0.1 * sev) * s * rng.choice([-1, 1], 2)
            component(img, dy=dy, dx=dx)
        else:
            component(img, turn=(0.08 + 0.45 * sev) * rng.choice([-1, 1]))
    elif defect == "bent_lead":
        component(img, bend=(0.15 + 0.75 * sev) * rng.choice([-1, 1]))
    # "missing": the bare board
    return np.clip(img, 0, 1), clean


def _brush(rng, s, defect, sev):
    yy, xx = _grid(s)
    img = np.empty((s, s, 3), np.float32)
    img[:] = 0.9 + 0.01 * _noise_field(rng, s, 12.0)[..., None]
    off = rng.normal(0, 0.01 * s, 2)
    cy, cx = s * 0.5 + off[0], s * 0.5 + off[1]
    head = _sd_box(yy, xx, cy, cx, s * 0.16, s * 0.4, 0.0, radius=s * 0.12)
    _paint(img, _cover(head), (0.35, 0.55, 0.85))
    texture = _noise_field(rng, s, 0.8)
    rows, cols = 3, 8
    tufts = [(cy + (i - 1) * s * 0.095, cx + (j - 3.5) * s * 0.085) for i in range(rows) for j in range(cols)]
    tuft_r = s * 0.034
    colors = [np.array([0.95, 0.95, 0.97]) if (j % 3) else np.array([0.35, 0.7, 0.95]) for i in range(rows) for j in range(cols)]
    special = rng.integers(len(tufts))

    def tufts_on(target, skip=None, moved=None, tint=None):
        for k, ((ty, tx), col) in enumerate(zip(tufts, colors)):
            if k == skip:
                _paint(target, _cover(_sd_disc(yy, xx, ty, tx, tuft_r * 0.55)), (0.2, 0.33, 0.55))
                continue
            if k == moved[0] if moved else False:
                (dy, dx) = moved[1]
                sd = _sd_segment(yy, xx, (ty, tx), (ty + dy, tx + dx), tuft_r * 2)
            else:
                sd = _sd_disc(yy, xx, ty, tx, tuft_r)
            c = col if tint is None or k != tint[0] else tint[1]
            alpha = _cover(sd)
            _paint(target, alpha, c * 0.92)
            target += (alpha * 0.06 * texture)[..., None]

    base = img.copy()
    tufts_on(img)
    clean = np.clip(img, 0, 1).copy()
    if defect is None:
        return clean, clean
    img = base
    if defect == "bent":
        a = rng.uniform(0, 2 * np.pi)
        dist = (0.03 + 0.09 * sev) * s
        tufts_on(img, moved=(special, (np.sin(a) * dist, np.cos(a) * dist)))
    elif defect == "missing_tuft":
        tufts_on(img, skip=special)
    else:
        tint = np.array([0.95, 0.95, 0.97]) * (1 - 0.45 * sev) + np.array([0.75, 0.6, 0.3]) * 0.45 * sev
        tint = np.clip(tint * rng.uniform(0.85, 1.0), 0, 1)
        tufts_on(img, tint=(special, tint))
    return np.clip(img, 0, 1), clean


_DRAW: dict[str, Callable] = {"weave": _weave, "bottle": _bottle, "screw": _screw, "board": _board, "brush": _brush}


def _camera(img: Canvas, rng) -> Canvas:
    """Lighting (gain, linear gradient) and sensor noise, the same for every image."""
    s = img.shape[0]
    yy, xx = _grid(s)
    a = rng.uniform(0, 2 * np.pi)
    grad = 1 + rng.uniform(0, 0.12) * ((np.cos(a) * xx + np.sin(a) * yy) / s - 0.5)
    out = img * rng.uniform(0.88, 1.1) * grad[..., None]
    out = out + rng.normal(0, rng.uniform(0.006, 0.016), out.shape)
    return np.clip(out, 0, 1)


def _rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    key = [seed, CATEGORIES.index(category), ("train", "test_good", "test_defect").index(split), index]
    return np.random.default_rng(key)


def render(category: str, defect: str | None = None, *, seed: int = 0, index: int = 0, size: int = 256,
           split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One image of ``category`` (uint8 ``size x size x 3``) and its mask (bool; all False if normal).

    ``defect=None`` draws a normal part. The image is a function of ``(seed, category,
    split, index)`` only (``split`` defaults to ``"train"`` for normal parts, ``"test_defect"``
    otherwise).
    """
    if category not in DEFECTS:
        raise ValueError(f"unknown synthetic_parts category {category!r}; available: {', '.join(CATEGORIES)}")
    if defect is not None and defect not in DEFECTS[category]:
        raise ValueError(f"unknown defect {defect!r} for {category!r}; available: {', '.join(DEFECTS[category])}")
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"size must be an int >= 32, got {size!r}")
    split = split or ("train" if defect is None else "test_defect")
    rng = _rng(seed, category, split, index)
    sev = float(rng.uniform(0, 1))
    img, clean = _DRAW[category](rng, size, defect, sev)
    mask = np.zeros((size, size), bool)
    if defect is not None:
        changed = np.abs(img - clean).max(axis=2) > 2.0 / 255
        mask = ndimage.binary_closing(changed, iterations=1) | changed
        if not mask.any():  # pragma: no cover - every drawing changes pixels
            raise RuntimeError(f"{category}/{defect} #{index} drew no visible defect")
    out = _camera(img, rng)
    return np.rint(out * 255).astype(np.uint8), mask


def write_synthetic_parts(
    root: str | os.PathLike,
    categories: Sequence[str] = CATEGORIES,
    *,
    n_train: int = 300,
    n_test_good: int = 75,
    n_test_defect: int = 75,
    size: int = 256,
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Write the dataset under ``root`` in MVTec AD's layout; returns ``root``.

    ``<root>/<category>/train/good/000.png``, ``test/good/``, ``test/<defect>/``,
    ``ground_truth/<defect>/<stem>_mask.png`` (0 / 255). Defective test images are spread
    evenly over the category's defect types. Each category is written to a temporary folder
    and renamed into place when complete, so an interrupted run leaves no half category.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from .._io import atomic_dir

    root = Path(root)
    for c in categories:
        if c not in DEFECTS:
            raise ValueError(f"unknown synthetic_parts category {c!r}; available: {', '.join(CATEGORIES)}")
    for n, what in ((n_train, "n_train"), (n_test_good, "n_test_good"), (n_test_defect, "n_test_defect")):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"{what} must be a non-negative int, got {n!r}")
    if n_train < 2:
        raise ValueError(f"n_train must be >= 2, got {n_train}")
    root.mkdir(parents=True, exist_ok=True)
    total = len(categories) * (n_train + n_test_good + n_test_defect)
    bar = tqdm(total=total, desc="synthetic_parts", unit="img", disable=not progress)
    for c in categories:
        if (root / c / "train" / "good").is_dir():
            bar.update(n_train + n_test_good + n_test_defect)
            continue
        with atomic_dir(root / c, what="synthetic_parts category") as tmp:
            jobs = [("train", "train/good", None, i, f"{i:03d}") for i in range(n_train)]
            jobs += [("test_good", "test/good", None, i, f"{i:03d}") for i in range(n_test_good)]
            counts: dict[str, int] = {}
            for i in range(n_test_defect):
                d = DEFECTS[c][i % len(DEFECTS[c])]
                counts[d] = counts.get(d, 0) + 1
                jobs.append(("test_defect", f"test/{d}", d, i, f"{counts[d] - 1:03d}"))
            for split, folder, defect, i, stem in jobs:
                img, mask = render(c, defect, seed=seed, index=i, size=size, split=split)
                (tmp / folder).mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(tmp / folder / f"{stem}.png", optimize=False, compress_level=1)
                if defect is not None:
                    gt = tmp / "ground_truth" / defect
                    gt.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(mask.astype(np.uint8) * 255).save(gt / f"{stem}_mask.png")
                bar.update(1)
    bar.close()
    return root


def ensure_synthetic_parts(root: str | os.PathLike | None = None, categories: Sequence[str] = CATEGORIES,
                           progress: bool = True) -> Path:
    """The default dataset (300 train, 75 + 75 test, 256 px, seed 0), generated into the
    cache on first use: ``<cache>/synthetic_parts/v<GENERATOR_VERSION>``."""
    from .fetch import cache_dir

    base = Path(root) if root is not None else cache_dir() / "synthetic_parts" / f"v{GENERATOR_VERSION}"
    return write_synthetic_parts(base, categories, progress=progress)
