"""The safe-name policy for payload paths (docs/bundle.md), and sanitising untrusted names.

Safe paths survive every verifier unchanged: coreutils `sha256sum -c`, macOS `shasum`,
PowerShell, `cut -c67-` in VERIFY.md, and case-insensitive file systems. A path is a
`/`-separated list of components, each ASCII `[A-Za-z0-9._-]`, not starting with `-`,
not `.` or `..`; two paths may not differ only by letter case.
"""

from __future__ import annotations

import re

from evkit.manifests.errors import UnsafeNameError

_COMPONENT = re.compile(r"^[A-Za-z0-9._-]+$")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")
MAX_COMPONENT = 200
MAX_PATH = 1000


def check_safe_path(relpath: str) -> str:
    """Return relpath unchanged if it follows the policy, else raise UnsafeNameError saying why."""
    if not isinstance(relpath, str) or not relpath:
        raise UnsafeNameError("empty payload path")
    if len(relpath) > MAX_PATH:
        raise UnsafeNameError(f"payload path is longer than {MAX_PATH} characters: {relpath[:60]!r}...")
    for part in relpath.split("/"):
        if part in ("", ".", ".."):
            raise UnsafeNameError(f"payload path {relpath!r} has an empty, '.' or '..' component")
        if not _COMPONENT.match(part):
            raise UnsafeNameError(f"payload path {relpath!r} has characters outside [A-Za-z0-9._-]")
        if part.startswith("-"):
            raise UnsafeNameError(f"payload path {relpath!r} has a component starting with '-'")
        if len(part) > MAX_COMPONENT:
            raise UnsafeNameError(f"payload path {relpath!r} has a component over {MAX_COMPONENT} characters")
    return relpath


def sanitise_component(name: str) -> str:
    """Make one untrusted name (a file name from a client) safe, or raise if nothing is left.

    Every character outside [A-Za-z0-9._-] becomes `_` (so does a leading `-`); the caller
    records the original. Names made only of dots or empty cannot be made meaningful.
    """
    safe = _UNSAFE_CHAR.sub("_", name)
    if safe.startswith("-"):
        safe = "_" + safe[1:]
    if not safe.strip("."):
        raise UnsafeNameError(f"file name {name!r} cannot be made safe (empty or only dots)")
    if len(safe) > MAX_COMPONENT:
        stem, dot, ext = safe.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        safe = safe[:MAX_COMPONENT - len(keep) - 1] + ("." + keep if keep else "")
    return safe


class NameRegistry:
    """Tracks the paths (and their directories) in use, to refuse case-only collisions."""

    def __init__(self) -> None:
        self._by_folded: dict[str, str] = {}
        self._files: set[str] = set()

    def _prefixes(self, relpath: str) -> list[str]:
        parts = relpath.split("/")
        return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]

    def conflict(self, relpath: str) -> str | None:
        """The existing path that clashes with relpath by case only (or file/dir), if any."""
        for prefix in self._prefixes(relpath):
            existing = self._by_folded.get(prefix.lower())
            if existing is not None and existing != prefix:
                return existing
        return None

    def __contains__(self, relpath: str) -> bool:
        return self._by_folded.get(relpath.lower()) == relpath

    def add(self, relpath: str) -> None:
        clash = self.conflict(relpath)
        if clash is not None:
            raise UnsafeNameError(f"payload path {relpath!r} differs only by letter case from {clash!r}")
        for prefix in self._prefixes(relpath):
            self._by_folded.setdefault(prefix.lower(), prefix)
        self._files.add(relpath)

    def discard(self, relpath: str) -> None:
        """Forget a path (a write that failed); directories still used by others stay."""
        self._files.discard(relpath)
        self._by_folded = {}
        for kept in self._files:
            for prefix in self._prefixes(kept):
                self._by_folded.setdefault(prefix.lower(), prefix)
