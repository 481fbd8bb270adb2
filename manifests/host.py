"""Where and with what a bundle was made: host facts and a fingerprint of evkit's own code.

Shared by the collector and the importer for the `host` block of data/collection.json.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
from pathlib import Path

from evkit import __version__

_PACKAGES = ("evkit", "manifests", "collector", "report")


def tool_sha256() -> str:
    """SHA-256 over the sorted (relative path, file SHA-256) list of evkit's Python sources."""
    root = Path(__file__).resolve().parents[1]
    lines = []
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    return hashlib.sha256("".join(sorted(lines, key=lambda l: l[66:])).encode()).hexdigest()


def host_info() -> dict:
    """The `host` block of collection.json."""
    return {"hostname": socket.gethostname(), "os": platform.platform(),
            "python": sys.version.split()[0], "tool_version": __version__,
            "tool_sha256": tool_sha256()}
