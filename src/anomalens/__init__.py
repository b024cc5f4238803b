"""anomalens: one-class image anomaly detection.

>>> import anomalens
>>> det = anomalens.create("raw_nnqed", preset="paper")      # doctest: +SKIP
>>> det.fit(train_images).score(test_images)                 # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .registry import create, list_detectors, list_presets

__all__ = ["__version__", "create", "list_detectors", "list_presets", "load", "model_info"]


def load(path):
    """Load a detector saved with ``detector.save(path)`` (safetensors + JSON, no pickle)."""
    from .detectors.base import load_detector

    return load_detector(path)


def model_info(path) -> dict:
    """What a saved model is (method, input, threshold and its source, calibration, file facts),
    as JSON-ready values; the model is loaded, so its checksum is verified."""
    from .detectors.base import model_info as _model_info

    return _model_info(path)
