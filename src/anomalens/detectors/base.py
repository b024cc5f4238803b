"""The detector contract, written once.

Every detector is a :class:`BaseDetector`:

* ``__init__`` takes keyword-only hyper-parameters and stores them verbatim (nothing else);
* ``fit(X) -> self`` runs, always in this order: check the parameters, check and convert the
  input, ``_fit``, score the training images into ``train_scores_`` (held-out or
  leave-one-out where the method allows), set ``threshold_`` from those scores only;
* ``score(X)`` returns one float per image, **higher = more anomalous**;
* ``predict(X)`` returns ``score(X) > threshold_`` as 0/1;
* ``calibrate(X, fpr=)`` re-sets ``threshold_`` from held-out normal images with a
  conformal false-positive guarantee, and ``p_values(X)`` scores against them;
* ``save(dir)`` writes ``config.json`` + ``weights.safetensors`` atomically;
  ``anomalens.load(dir)`` restores the detector without pickle.

``X`` may be a uint8 ``N x H x W x C`` array (or float in [0, 1]), a folder, a list of
image paths, or an :class:`~anomalens.data.ImageSet`. Image *files* are resized to
``image_size`` when the detector has one, else (at score time) to the fitted size.

Note: ``score`` returns per-image anomaly scores; it is not scikit-learn's ``score``
(a goodness of fit).
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .. import __version__
from .._io import atomic_dir, save_safetensors
from ..data.images import as_image_array
from ..data.validation import check_images
from ..exceptions import ChecksumError, ModelFileError, NotFittedError

__all__ = ["BaseDetector", "Interval", "OneOf", "load_detector", "model_info", "FORMAT_VERSION"]

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


@dataclass(frozen=True)
class Interval:
    """Constraint: a number of ``kind`` (int or float) in [lo, hi] (``None`` = unbounded)."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def check(self, name: str, value: Any) -> None:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if self.kind is float:
            ok = ok or (isinstance(value, (float, np.floating)) and math.isfinite(value))
        if ok and self.lo is not None:
            ok = value > self.lo if self.lo_open else value >= self.lo
        if ok and self.hi is not None:
            ok = value < self.hi if self.hi_open else value <= self.hi
        if not ok:
            lo = "-inf" if self.lo is None else self.lo
            hi = "inf" if self.hi is None else self.hi
            rng = f"{'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
            raise ValueError(f"parameter {name!r} must be {self.kind.__name__} in {rng}, got {value!r}")


@dataclass(frozen=True)
class OneOf:
    """Constraint: one of the listed values."""

    options: tuple

    def check(self, name: str, value: Any) -> None:
        if value not in self.options:
            raise ValueError(f"parameter {name!r} must be one of {list(self.options)}, got {value!r}")


class NoneOr:
    """Constraint wrapper: ``None`` or the inner constraint."""

    def __init__(self, inner):
        self.inner = inner

    def check(self, name: str, value: Any) -> None:
        if value is not None:
            self.inner.check(name, value)


def localises(detector: Any) -> bool:
    """Whether a detector (or detector class) gives per-pixel anomaly maps: has a callable
    ``anomaly_map``. The one test behind ``score --maps``, ``serve``'s ``POST /map``, the
    benchmark's pixel metrics, ``describe()`` and :func:`anomalens.registry.localising_detectors`."""
    return callable(getattr(detector, "anomaly_map", None))


class BaseDetector:
    """Base class of all anomalens detectors (see the module docstring for the contract)."""

    #: registry name, set by each subclass
    name: ClassVar[str] = ""
    #: preset name -> hyper-parameters; "paper" is the seed paper's setting, "quick" a CPU-sized one
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    #: parameter name -> constraint, checked when fit is called
    _param_constraints: ClassVar[dict[str, Any]] = {
        "threshold_quantile": Interval(float, 0.0, 1.0),
        "seed": Interval(int, 0, None),
    }

    # -- parameters (scikit-learn rules) ------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseDetector:
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"unknown parameter {key!r} for {type(self).__name__}; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def _validate_params(self) -> None:
        for name, constraint in self._param_constraints.items():
            if name in self._param_names():
                constraint.check(name, getattr(self, name))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state -----------------------------------------------------------------------
    def _is_fitted(self) -> bool:
        return hasattr(self, "threshold_")

    def _check_is_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(X) with normal training images first"
            )

    # -- input ---------------------------------------------------------------------------------
    def score_format(self) -> tuple[int | tuple[int, int], int]:
        """``(size, channels)`` that image files are read at for scoring: the ``image_size``
        hyper-parameter when the detector has one, else the fitted height and width."""
        self._check_is_fitted()
        h, w, c = self.input_shape_
        size = getattr(self, "image_size", None)
        return (size if size is not None else (h, w)), c

    def _check_input(self, X: Any, *, fit: bool) -> np.ndarray:
        """Anything accepted -> validated ``N x H x W x C`` array (uint8 or float in [0, 1])."""
        size, channels = (getattr(self, "image_size", None), None) if fit else self.score_format()
        arr = as_image_array(X, size=size, channels=channels)
        arr = check_images(
            arr,
            name="X",
            min_samples=self._min_train_samples() if fit else 1,
            expected_shape=None if fit else tuple(self.input_shape_),
        )
        if fit:
            self.input_shape_ = tuple(int(s) for s in arr.shape[1:])
        return arr

    def _min_train_samples(self) -> int:
        return 2

    # -- the template --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, n_real: int | None = None) -> BaseDetector:
        """Learn normality from ``X`` (normal images only). ``y`` is ignored.

        ``n_real``: when generated images (augmentation, seed 001) follow the real ones in
        ``X``, the number of real images in front; the held-out images (early stopping,
        threshold) are drawn from these only and the threshold is set on real images only,
        while every image is trained on. ``None`` = all images are real.
        """
        arr = self._begin_fit(X, n_real)
        self._fit(arr)
        self._end_fit(arr)
        return self

    def fit_seeds(self, X: Any, seeds: Sequence[int]) -> list[BaseDetector]:
        """Fit one copy of this detector per seed on the same images; returns the fitted copies.

        The result equals ``[clone(self).set_params(seed=s).fit(X) for s in seeds]``.
        """
        return self.fit_many([X] * len(seeds), seeds)

    def fit_many(self, Xs: Sequence[Any], seeds: Sequence[int], *,
                 n_real: Sequence[int | None] | None = None) -> list[BaseDetector]:
        """Fit one copy of this detector per ``(X, seed)`` pair; returns the fitted copies.

        The result equals ``[clone(self).set_params(seed=s).fit(X, n_real=r) for X, s, r in
        zip(Xs, seeds, n_real)]`` (``n_real`` as in :meth:`fit`, one per set, default all real);
        detectors that can train the copies together (one batched network, see
        :mod:`anomalens.train`) do so, which is much faster on a GPU. Passing the same object
        several times (several seeds of one class) converts it once.
        """
        if len(Xs) == 0 or len(Xs) != len(seeds):
            raise ValueError(f"need one seed per training set, got {len(Xs)} sets and {len(seeds)} seeds")
        reals = [None] * len(Xs) if n_real is None else list(n_real)
        if len(reals) != len(Xs):
            raise ValueError(f"n_real: need one count per training set, got {len(reals)} for {len(Xs)} sets")
        dets = [type(self)(**{**self.get_params(), "seed": int(s)}) for s in seeds]
        converted: dict[int, np.ndarray] = {}
        arrs = []
        for d, X, r in zip(dets, Xs, reals):
            arr = d._begin_fit(converted.get(id(X), X), r)
            converted.setdefault(id(X), arr)
            arrs.append(converted[id(X)])
        type(self)._fit_group(dets, arrs)
        for d, arr in zip(dets, arrs):
            d._end_fit(arr)
        return dets

    @classmethod
    def _fit_group(cls, dets: list[BaseDetector], Xs: list[np.ndarray]) -> None:
        """``_fit`` for several copies that differ only in ``seed`` and data; override to batch them."""
        for d, X in zip(dets, Xs):
            d._fit(X)

    def _begin_fit(self, X: Any, n_real: int | None = None) -> np.ndarray:
        self._validate_params()
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)
        arr = self._check_input(X, fit=True)
        self._set_n_real(n_real, len(arr))
        return arr

    def _set_n_real(self, n_real: int | None, n: int) -> None:
        if n_real is not None and (isinstance(n_real, bool) or not isinstance(n_real, (int, np.integer))
                                   or not 2 <= n_real <= n):
            raise ValueError(f"n_real must be an int between 2 and the {n} training images, got {n_real!r}")
        self._n_real = None if n_real is None else int(n_real)

    def _real_count(self, n: int) -> int:
        """How many of the ``n`` training images are real, in front (see :meth:`fit`'s ``n_real``)."""
        r = getattr(self, "_n_real", None)
        return n if r is None else min(int(r), n)

    def _holdout_split(self, n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices (training, held out) of ``n`` training images; ``share`` of the real ones
        (all, or the first ``n_real`` given to fit) held out, drawn from ``seed``; generated
        images are always trained on."""
        real = self._real_count(n)
        k = int(round(share * real)) if share > 0 else 0
        if k and n - k < 2:
            raise ValueError(f"holding out {share} of the {real} real training images leaves fewer than 2 to train on")
        perm = np.random.default_rng(self.seed).permutation(real)
        return np.sort(np.concatenate([perm[k:], np.arange(real, n)])), np.sort(perm[:k])

    def _end_fit(self, arr: np.ndarray) -> None:
        scores = np.asarray(self._training_scores(arr), dtype=np.float64)
        if scores.shape != (len(arr),) or not np.all(np.isfinite(scores)):
            raise RuntimeError(f"{type(self).__name__} produced invalid training scores")
        self.train_scores_ = scores
        self.threshold_ = self._threshold_from(scores)

    def _threshold_from(self, train_scores: np.ndarray) -> float:
        """The decision threshold: a quantile of the (held-out) training scores."""
        return float(np.quantile(train_scores[: self._real_count(len(train_scores))], self.threshold_quantile))

    def score(self, X: Any) -> np.ndarray:
        """Anomaly score per image, higher = more anomalous."""
        self._check_is_fitted()
        arr = self._check_input(X, fit=False)
        s = np.asarray(self._score(arr), dtype=np.float64)
        if s.shape != (len(arr),):
            raise RuntimeError(f"{type(self).__name__}._score returned shape {s.shape}, expected ({len(arr)},)")
        return s

    def predict(self, X: Any) -> np.ndarray:
        """0 (normal) / 1 (anomalous) per image, by ``score(X) > threshold_``."""
        return (self.score(X) > self.threshold_).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        """What a fitted detector is, as JSON-ready values: ``method``, ``input_shape``
        (H, W, C), ``score_size`` (what image files are resized to), ``threshold`` and where it
        came from (``threshold_source``: ``"fit"``, the ``threshold_quantile`` quantile of the
        training scores, or ``"calibration"``, with ``calibration`` = ``{"images", "fpr"}``),
        ``anomaly_map`` (whether :meth:`anomaly_map` exists) and ``params``."""
        self._check_is_fitted()
        size, _ = self.score_format()
        calibration = getattr(self, "calibration_", None)
        return {
            "method": self.name,
            "input_shape": [int(v) for v in self.input_shape_],
            "score_size": [int(size), int(size)] if isinstance(size, int) else [int(v) for v in size],
            "threshold": float(self.threshold_),
            "threshold_source": "fit" if calibration is None else "calibration",
            "threshold_quantile": getattr(self, "threshold_quantile", None),  # None: a fixed rule (supervised_cnn's 0.5)
            "calibration": None if calibration is None else dict(calibration),
            "anomaly_map": localises(self),
            "params": _jsonable(self.get_params()),
        }

    # -- calibration on held-out normal images ------------------------------------------------
    def calibrate(self, X: Any, *, fpr: float = 0.01) -> BaseDetector:
        """Re-set ``threshold_`` from normal images the detector was not fitted on, so that
        :meth:`predict` flags at most ``fpr`` of normal images (split-conformal guarantee).

        With the ``n`` calibration scores sorted, the threshold is the ``k``-th smallest,
        ``k = ceil((n + 1)(1 - fpr))``: for a new normal image exchangeable with them,
        ``P(score > threshold_) <= (n + 1 - k) / (n + 1) <= fpr``, whatever the detector and
        however optimistic its training scores are (an autoencoder's reconstruction error on
        its own training images, say). ``n`` must therefore be at least ``ceil(1 / fpr) - 1``
        (99 images for the default 1 %). The scores are kept as ``calibration_scores_`` for
        :meth:`p_values`; :meth:`fit` discards them. Returns ``self``.
        """
        self._check_is_fitted()
        return self.calibrate_from_scores(self.score(X), fpr=fpr)

    def calibrate_from_scores(self, scores: Any, *, fpr: float = 0.01) -> BaseDetector:
        """:meth:`calibrate` from the :meth:`score` of the held-out normal images (for callers
        that score in chunks)."""
        self._check_is_fitted()
        if isinstance(fpr, bool) or not isinstance(fpr, (int, float, np.floating)) or not 0.0 < fpr < 1.0:
            raise ValueError(f"fpr must be a float in (0, 1), got {fpr!r}")
        scores = np.sort(np.asarray(scores, dtype=np.float64))
        if scores.ndim != 1 or not len(scores) or not np.all(np.isfinite(scores)):
            raise ValueError(f"calibration scores must be a non-empty 1-d array of finite numbers, got shape "
                             f"{scores.shape}")
        n = len(scores)
        k = math.ceil((n + 1) * (1.0 - float(fpr)) - 1e-9)  # tolerance: (n + 1)(1 - fpr) is often an integer
        if k > n:
            need = math.ceil(1.0 / float(fpr) - 1.0 - 1e-9)
            raise ValueError(f"calibrating at fpr={fpr} needs at least {need} normal images, got {n}")
        self.threshold_ = float(scores[max(k, 1) - 1])
        self.calibration_scores_ = scores
        self.calibration_ = {"images": n, "fpr": float(fpr)}
        return self

    def p_values(self, X: Any) -> np.ndarray:
        """Conformal p-value per image against the calibration images of :meth:`calibrate`:
        ``(1 + #{calibration scores >= score}) / (n + 1)``. Small = unlike the normal images;
        for a normal image ``P(p <= a) <= a`` at every level ``a``."""
        self._check_is_calibrated()
        return self.p_values_from_scores(self.score(X))

    def p_values_from_scores(self, scores: Any) -> np.ndarray:
        """:meth:`p_values` of images already scored with :meth:`score` (no second pass); NaN
        for a NaN score."""
        self._check_is_calibrated()
        cal, s = self.calibration_scores_, np.asarray(scores, dtype=np.float64)
        above = len(cal) - np.searchsorted(cal, s, side="left")
        return np.where(np.isnan(s), np.nan, (1.0 + above) / (len(cal) + 1.0))

    def _check_is_calibrated(self) -> None:
        if not hasattr(self, "calibration_scores_"):
            raise NotFittedError(f"this {type(self).__name__} has no calibration scores: call calibrate(X) with "
                                 "held-out normal images first (anomalens calibrate MODEL IMAGES)")

    # -- subclass hooks -----------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of the training images for the threshold; override to hold points out."""
        return self._score(X)

    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (besides ``train_scores_``)."""
        return {}

    def _fitted_scalars(self) -> dict[str, Any]:
        """JSON-serialisable fitted values to save (besides ``threshold_`` and ``input_shape_``)."""
        return {}

    def _set_state(self, tensors: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        """Restore what ``_get_state`` and ``_fitted_scalars`` saved."""

    @property
    def device_name(self) -> str:
        """Where the detector computes ("cpu" or the CUDA device name)."""
        return "cpu"

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into directory ``path``, atomically."""
        self._check_is_fitted()
        tensors = {k: np.ascontiguousarray(v) for k, v in self._get_state().items()}
        tensors["train_scores_"] = np.ascontiguousarray(self.train_scores_)
        calibrated = hasattr(self, "calibration_scores_")
        if calibrated:
            tensors["calibration_scores_"] = np.ascontiguousarray(self.calibration_scores_)
        with atomic_dir(path, what="model") as tmp:
            save_safetensors(tensors, tmp / WEIGHTS_FILE)
            from ..data.fetch import sha256_file

            config = {
                "format_version": FORMAT_VERSION,
                "anomalens_version": __version__,
                "detector": self.name,
                "params": _jsonable(self.get_params()),
                "fitted": _jsonable(
                    {"threshold_": self.threshold_, "input_shape_": list(self.input_shape_),
                     **({"calibration_": self.calibration_} if calibrated else {}), **self._fitted_scalars()}
                ),
                "weights_sha256": sha256_file(tmp / WEIGHTS_FILE),
            }
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return Path(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save value of type {type(obj).__name__} in config.json: {obj!r}")


def load_detector(path: str | Path) -> BaseDetector:
    """Rebuild a detector saved with :meth:`BaseDetector.save` (no pickle, checksum verified)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from ..data.fetch import verify_file
    from ..registry import create

    d = Path(path)
    if not d.is_dir():
        raise ModelFileError(f"model directory {str(d)!r} does not exist")
    cfg_path, w_path = d / CONFIG_FILE, d / WEIGHTS_FILE
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise ModelFileError(f"model file {str(p)!r} is missing; was the model saved with detector.save()?")
    try:
        cfg = json.loads(cfg_path.read_text())
        name, params, fitted = cfg["detector"], cfg["params"], cfg["fitted"]
        version, expected_sha = cfg["format_version"], cfg["weights_sha256"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"model file {str(cfg_path)!r} is not a valid anomalens config: {e}") from e
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{str(cfg_path)!r} has format_version {version}; this anomalens reads {FORMAT_VERSION}")
    try:
        verify_file(w_path, expected_sha)
    except ChecksumError as e:
        raise ModelFileError(f"model file {str(w_path)!r} was altered or corrupted (sha256 differs from config.json)") from e
    try:
        det = create(name)
        defaults = det.get_params()
        # set_params: a saved None (e.g. pad_to=None) must stay None; JSON has no tuples
        det.set_params(**{k: _as_tuples(v) if isinstance(defaults.get(k), tuple) else v for k, v in params.items()})
        det._validate_params()
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{str(cfg_path)!r}: {e}") from e
    try:
        tensors = load_file(str(w_path))
    except (SafetensorError, OSError, ValueError) as e:  # pragma: no cover - checksum catches most
        raise ModelFileError(f"model file {str(w_path)!r} cannot be read: {e}") from e
    det.train_scores_ = tensors.pop("train_scores_")
    det.input_shape_ = tuple(fitted.pop("input_shape_"))
    threshold = float(fitted.pop("threshold_"))
    calibration, cal_scores = fitted.pop("calibration_", None), tensors.pop("calibration_scores_", None)
    if (calibration is None) != (cal_scores is None):
        raise ModelFileError(f"{str(d)!r}: calibration is saved only in part (config.json and weights disagree)")
    try:
        det._set_state(tensors, fitted)
    except (RuntimeError, KeyError) as e:  # torch's load_state_dict: missing / unexpected / mis-shaped weights
        raise ModelFileError(f"model file {str(w_path)!r} does not fit this anomalens's {name!r} network (saved by "
                             f"anomalens {cfg.get('anomalens_version')}, whose network may differ): {e}") from e
    det.threshold_ = threshold
    if calibration is not None:
        det.calibration_, det.calibration_scores_ = calibration, np.asarray(cal_scores, dtype=np.float64)
    return det


def model_info(path: str | Path) -> dict[str, Any]:
    """What a saved model is, without scoring anything: :meth:`BaseDetector.describe` of the
    loaded detector (so the checksum is verified and the file is known to load) plus the
    files' facts: ``path``, ``anomalens_version`` and ``format_version`` that wrote it,
    ``weights_bytes``, ``weights_sha256``, ``tensors`` and ``values`` (learned numbers,
    the saved scores excluded)."""
    from safetensors import safe_open

    d = Path(path)
    det = load_detector(d)  # raises ModelFileError naming the file for anything wrong
    cfg = json.loads((d / CONFIG_FILE).read_text())
    with safe_open(str(d / WEIGHTS_FILE), framework="numpy") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys() if k not in ("train_scores_", "calibration_scores_")}
    return {
        "path": str(d),
        **det.describe(),
        "anomalens_version": cfg.get("anomalens_version"),
        "format_version": cfg["format_version"],
        "weights_bytes": (d / WEIGHTS_FILE).stat().st_size,
        "weights_sha256": cfg["weights_sha256"],
        "tensors": len(shapes),
        "values": int(sum(math.prod(s) for s in shapes.values())),
    }


def _as_tuples(value: Any) -> Any:
    """JSON lists (nested) back to the tuples a parameter held when it was saved."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value
