"""Detectors: one module per method family, each class a :class:`BaseDetector`."""

from .base import BaseDetector, load_detector

__all__ = ["BaseDetector", "load_detector"]
