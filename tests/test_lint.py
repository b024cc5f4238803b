"""Static check: no undefined names, unused imports or redefinitions in the package and tests.

A code path the CPU suite cannot run (the CUDA-graph step) once called a helper that had
been deleted; pyflakes finds that class of error without running the code."""

import io
from pathlib import Path

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter


def test_pyflakes_is_clean():
    root = Path(__file__).resolve().parents[1]
    files = [f for d in ("src", "tests", "benchmarks") for f in sorted((root / d).rglob("*.py"))]
    out = io.StringIO()
    reporter = Reporter(out, out)
    n = sum(checkPath(str(f), reporter) for f in files)
    assert n == 0, out.getvalue()
