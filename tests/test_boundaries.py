"""Module boundaries from DESIGN section 2: each third-party library stays in the module that
wraps it, manifests imports no collector/report code, and the emulator imports no product code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("evkit", "manifests", "collector", "report", "emulator")

# library -> modules (path prefixes, relative to the repo) allowed to import it
CONFINED = {
    "requests": ("collector/client.py",),
    "msal": ("collector/auth.py",),
    "reportlab": ("report/pdf.py", "report/pdf_"),
    "duckdb": ("report/engine.py", "report/engine_"),
    "docopt": ("evkit/clitools.py",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), _imports(path)


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_library_confined_to_its_wrapper(library):
    allowed = CONFINED[library]
    offenders = [rel for rel, names in _modules() if library in names and not rel.startswith(allowed)]
    assert offenders == [], f"{library} imported outside {allowed}: {offenders}"


def test_manifests_imports_no_collector_or_report():
    offenders = [rel for rel, names in _modules()
                 if rel.startswith("manifests/") and names & {"collector", "report"}]
    assert offenders == []


def test_emulator_imports_no_product_code():
    offenders = [rel for rel, names in _modules()
                 if rel.startswith("emulator/") and names & {"evkit", "manifests", "collector", "report"}]
    assert offenders == []
