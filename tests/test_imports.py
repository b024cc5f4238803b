"""DESIGN.md's import rules, checked on the source: imports follow the data flow, never back."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "anomalens"

# part of the package -> the parts it may import (besides itself); None = anything
ALLOWED: dict[str, set[str] | None] = {
    "nn": set(),                                  # network modules only
    "scoring": {"exceptions", "_io"},             # arrays in, scores out
    "data": {"exceptions", "_io"},                # knows no method or metric
    "train": {"exceptions", "_io", "nn"},
    "detectors": {"exceptions", "_io", "__init__", "data", "nn", "scoring", "train", "registry", "select"},
    "eval": {"exceptions", "_io", "__init__", "data", "nn", "scoring", "train", "registry", "detectors", "augment"},
    "serve": {"exceptions", "_io", "data", "detectors", "eval"},   # an outer layer, like cli
    "cli": None,
}


def _imported_parts(path: Path) -> set[str]:
    """Top-level parts of anomalens that ``path`` imports (relative or absolute, lazy ones too)."""
    here = list(path.relative_to(PACKAGE).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here[: len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif (node.module or "").split(".")[0] == "anomalens":
                parts = node.module.split(".")[1:]
            else:
                continue
            found |= {parts[0]} if parts else {"__init__" if a.name.startswith("__") else a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("anomalens.")}
    return found


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else path.stem


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_follow_the_design(part):
    files = [p for p in PACKAGE.rglob("*.py") if _part(p) == part]
    assert files, f"no module for {part!r}: update ALLOWED"
    allowed = ALLOWED[part]
    if allowed is None:
        return
    bad = {f"{p.relative_to(PACKAGE)} imports {dep}" for p in files for dep in _imported_parts(p) - allowed - {part}}
    assert not bad, sorted(bad)


def test_the_checker_sees_relative_and_lazy_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "anomalens"
    (pkg / "nn").mkdir(parents=True)
    (pkg / "nn" / "x.py").write_text("def f():\n    from ..eval import report\n    from . import y\n")
    (pkg / "serve.py").write_text("import anomalens.cli\nfrom anomalens.detectors.base import load_detector\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert _imported_parts(pkg / "nn" / "x.py") == {"eval", "nn"}
    assert _imported_parts(pkg / "serve.py") == {"cli", "detectors"}
