"""Static check: no undefined names, unused imports or redefinitions in the package and tests.

A code path the CPU suite cannot run (the CUDA-graph step) once called a helper that had
been deleted; pyflakes finds that class of error without running the code."""

import io
from pathlib import Path

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_is_clean():
    files = [f for d in ("src", "tests", "benchmarks") for f in sorted((ROOT / d).rglob("*.py"))]
    out = io.StringIO()
    reporter = Reporter(out, out)
    n = sum(checkPath(str(f), reporter) for f in files)
    assert n == 0, out.getvalue()


def test_markdown_code_fences_close():
    """A closing fence followed by text does not close a block in CommonMark: the README once
    rendered everything after its command-line block as code because of "``` Errors print ..."."""
    docs = [ROOT / "README.md", *sorted((ROOT / "benchmarks").glob("*.md"))]
    bad = []
    for doc in docs:
        inside = False
        for i, line in enumerate(doc.read_text().splitlines(), 1):
            if not line.lstrip().startswith("```"):
                continue
            if not inside:
                inside = True
            elif line.strip() == "```":
                inside = False
            else:
                bad.append(f"{doc.name}:{i}: a fence inside a code block must be a bare ``` line")
        if inside:
            bad.append(f"{doc.name}: a code block is never closed")
    assert not bad, "\n".join(bad)
