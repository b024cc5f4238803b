"""anomalens: one-class image anomaly detection.

>>> import anomalens
>>> det = anomalens.create("raw_nnqed", preset="paper")      # doctest: +SKIP
>>> det.fit(train_images).score(test_images)                 # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .registry import create, list_detectors, list_presets

__all__ = ["__version__", "create", "list_detectors", "list_presets", "load"]


def load(path):
    """Load a detector saved with ``detector.save(path)`` (safetensors + JSON, no pickle)."""
    from .detectors.base import load_detector

    return load_detector(path)
