"""Module boundaries (docs/design.md, "Dependency rules"): one import root, who may import whom,
each third-party library in the module that wraps it, and no import cycle between modules."""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# import name -> folder in the repository (setup.cfg maps each folder under the one root)
FOLDERS = {
    "evkit": "evkit",
    "evkit.collector": "collector",
    "evkit.manifests": "manifests",
    "evkit.report": "report",
    "evkit.emulator": "emulator",
}
OLD_ROOTS = {"collector", "report", "manifests", "emulator"}

# library -> modules (dotted prefixes) allowed to import it
CONFINED = {
    "requests": ("evkit.collector.client",),
    "msal": ("evkit.collector.auth",),
    "reportlab": ("evkit.report.pdf",),
    "duckdb": ("evkit.report.engine",),
    "docopt": ("evkit.clitools",),
}


def _module_name(path: Path) -> str:
    for name, folder in sorted(FOLDERS.items(), key=lambda kv: -len(kv[0])):
        try:
            rel = path.relative_to(REPO / folder)
        except ValueError:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join([name, *parts])
    raise AssertionError(f"{path} is in no package folder")


@cache
def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in FOLDERS.values():
        for path in sorted((REPO / folder).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _raw_imports(path: Path) -> set[str]:
    """Every dotted name a module imports, at any depth of its code; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@cache
def _graph() -> dict[str, set[str]]:
    """module -> the product modules it imports (a package's own __init__ is not an edge)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _raw_imports(path):
            if imported in modules and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def _external(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _raw_imports(path)}


def test_every_module_lives_under_the_one_root():
    offenders = {name: sorted(_external(path) & OLD_ROOTS) for name, path in _modules().items()
                 if _external(path) & OLD_ROOTS}
    tests = {str(p.relative_to(REPO)): sorted(_external_test(p) & OLD_ROOTS)
             for p in sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py"))
             if _external_test(p) & OLD_ROOTS}
    assert offenders == {} and tests == {}, f"imports outside the evkit root: {offenders} {tests}"


def _external_test(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_library_confined_to_its_wrapper(library):
    allowed = CONFINED[library]
    offenders = [name for name, path in _modules().items()
                 if library in _external(path)
                 and not any(name == a or name.startswith(a + ".") or name.startswith(a + "_")
                             for a in allowed)]
    assert offenders == [], f"{library} imported outside {allowed}: {offenders}"


def _importers(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{name} -> {target}" for name, targets in _graph().items()
                  if name.startswith(prefix) for target in targets
                  if target.startswith(forbidden))


def test_manifests_imports_no_collector_or_report():
    assert _importers("evkit.manifests", ("evkit.collector", "evkit.report", "evkit.emulator")) == []


def test_report_imports_no_collector():
    assert _importers("evkit.report", ("evkit.collector", "evkit.emulator")) == []


def test_evidence_imports_no_collector_or_report():
    assert _importers("evkit.evidence", ("evkit.collector", "evkit.report", "evkit.emulator")) == []


def test_manifests_imports_no_evidence():
    assert _importers("evkit.manifests", ("evkit.evidence",)) == []


def test_times_imports_no_product_code():
    """evkit.times is used by every package, the verifier included, so it depends on none."""
    assert _importers("evkit.times", ("evkit.",)) == []


def test_emulator_imports_no_product_code():
    product = ("evkit.manifests", "evkit.collector", "evkit.report", "evkit.cli", "evkit.demo")
    assert _importers("evkit.emulator", product) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


# -- errors: one root, one mapping ----------------------------------------------------------------

def _cli_modules() -> dict[str, Path]:
    """CLI code: every module evkit dispatches a command to, files named cli*.py, the report/cli/
    package, evkit.cli and evkit.clitools."""
    from evkit.cli import COMMANDS

    commands = set(COMMANDS.values())
    return {name: path for name, path in _modules().items()
            if name in commands or path.name.startswith("cli") or ".cli." in name + "."}


def _catch_alls(source: str) -> list[int]:
    """Lines of `except:`, `except Exception` and `except BaseException` (alone or in a tuple)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler):
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if node.type is None or any(isinstance(t, ast.Name) and t.id in ("Exception", "BaseException")
                                        for t in types):
                lines.append(node.lineno)
    return lines


def test_catch_all_finder_finds_one():
    assert _catch_alls("try:\n    pass\nexcept (OSError, Exception):\n    pass\n") == [3]
    assert _catch_alls("try:\n    pass\nexcept:\n    pass\n") == [3]
    assert _catch_alls("try:\n    pass\nexcept OSError:\n    pass\n") == []


def test_cli_code_has_no_catch_all():
    """Errors become exit codes in evkit.clitools.run_cli, which names the ones it maps; a bug
    is not dressed up as an ordinary failure."""
    modules = _cli_modules()
    assert {"evkit.cli", "evkit.clitools", "evkit.report.cli.report", "evkit.collector.cli_collect",
            "evkit.demo"} <= set(modules)
    offenders = {name: lines for name, path in modules.items()
                 if (lines := _catch_alls(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def _error_classes() -> list[type]:
    """Every exception class defined in a product `errors` module (the emulator keeps its own),
    plus the errors CLI helpers define."""
    found: list[type] = []
    for name in sorted(_modules()):
        if name.rpartition(".")[2] != "errors" or name.startswith("evkit.emulator"):
            continue
        module = importlib.import_module(name)
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name]
    from evkit.clitools import UsageError
    from evkit.demo import DemoStepError
    return [*found, UsageError, DemoStepError]


def test_every_package_error_derives_from_evkit_error():
    from evkit.collector.errors import CollectorError
    from evkit.errors import EvkitError
    from evkit.manifests.errors import ManifestsError
    from evkit.report.errors import ReportError

    classes = _error_classes()
    assert {CollectorError, ManifestsError, ReportError} <= set(classes)
    assert [c.__qualname__ for c in classes if not issubclass(c, EvkitError)] == []


@pytest.mark.slow
def test_wheel_installs_one_top_level_name(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "demo-output", "out", "__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("evkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"evkit"}
    packaged = {name[: -len(".py")].replace("/", ".").removesuffix(".__init__")
                for name in names if name.endswith(".py")}
    assert packaged == set(_modules()), "setup.cfg's package list and the source folders differ"
