"""Which evkit made a bundle: the version, and a SHA-256 a recipient can match to a released artefact.

Run from the portable collector (`make dist`'s `.pyz`), the digest is the SHA-256 of that file, the
same line `dist/SHA256SUMS` holds for it. Run from an installed or source tree, it is the SHA-256 of
evkit's own code: the sorted `<file sha256>  <path>` lines of every `.py` file of the `evkit`
packages, so two trees with the same code give the same digest wherever they live.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from evkit import __version__

ARTEFACT_FILE = "artefact.json"  # written into the portable collector by release/build.py
_PACKAGES = ("evkit", "evkit.manifests", "evkit.collector", "evkit.report")


@dataclass(frozen=True)
class ToolIdentity:
    version: str
    artefact: str  # the artefact's file name, or "source" for an installed or source tree
    sha256: str

    def describe(self) -> str:
        if self.artefact == "source":
            return f"evkit {self.version} (code sha256 {self.sha256})"
        return f"evkit {self.version} ({self.artefact} sha256 {self.sha256})"


def portable_artefact() -> dict[str, str] | None:
    """The portable collector's label (name, Python it was built for), or None elsewhere."""
    marker = Path(__file__).with_name(ARTEFACT_FILE)
    if not marker.is_file():
        return None
    label = json.loads(marker.read_text(encoding="utf-8"))
    return label if isinstance(label, dict) else None


@cache
def tool_identity() -> ToolIdentity:
    label = portable_artefact()
    archive = Path(sys.argv[0]) if label else None
    if label and archive is not None and archive.is_file():
        return ToolIdentity(__version__, str(label.get("name", archive.name)), file_sha256(archive))
    return ToolIdentity(__version__, "source", code_sha256(_package_dirs()))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_sha256(package_dirs: dict[str, Path]) -> str:
    """SHA-256 over the sorted `<sha256>  <dotted/path.py>` lines of the packages' Python files."""
    lines = []
    for name, folder in sorted(package_dirs.items()):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).as_posix()
            parts = rel.split("/")[:-1]
            # in an installed tree evkit/manifests sits inside evkit/: count each file once
            if any(".".join([name, *parts[: i + 1]]) in package_dirs for i in range(len(parts))):
                continue
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name.replace('.', '/')}/{rel}\n")
    return hashlib.sha256("".join(sorted(lines, key=lambda line: line[66:])).encode()).hexdigest()


def _package_dirs() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            found[name] = Path(next(iter(spec.submodule_search_locations)))
    return found
