"""Evaluation: metrics, the benchmark runner, the papers' reference tables and the report."""

from .metrics import evaluate

__all__ = ["evaluate"]
