"""Error types raised by anomalens. Every message names the argument or file at fault."""

from __future__ import annotations

__all__ = [
    "AnomalensError",
    "NotFittedError",
    "ChecksumError",
    "DatasetNotAvailableError",
    "ModelFileError",
    "ImageReadError",
]


class AnomalensError(Exception):
    """Base class of the errors specific to anomalens."""


class NotFittedError(AnomalensError, ValueError, AttributeError):
    """A method that needs a fitted detector was called before ``fit``."""


class ChecksumError(AnomalensError, ValueError):
    """A file's sha256 differs from the pinned value (corrupt cache or altered model)."""


class DatasetNotAvailableError(AnomalensError, FileNotFoundError):
    """A dataset could not be fetched or was not found where the user said it is."""


class ModelFileError(AnomalensError, ValueError):
    """A saved detector directory is missing a file or a file was altered."""


class ImageReadError(AnomalensError, ValueError):
    """An image file could not be decoded (corrupt, truncated or not an image)."""
