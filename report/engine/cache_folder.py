"""The table cache's folder as a whole: what entries it holds, and removing them at the end of a
case (docs/report-cache.md). The entries hold rows derived from evidence (addresses, subjects),
so an examiner on a client's jump host must be able to see and remove them with evkit itself.

Only what evkit writes is touched: entry folders named by a tag-manifest SHA-256 and the
temporary folders an interrupted write leaves (`.write-*`, `.old-*`), each only when what it holds
is what evkit writes there (_is_evkit_folder). A symbolic link is never
followed: a link in the folder is reported and left, and a cache folder that is itself a link is
refused. Anything else found there is named and left in place.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from evkit.report.engine.cache import FILE_FLAGS, FILES, META, CacheMismatch, load_meta
from evkit.report.errors import CacheFolderError
from evkit.times import format_utc

_ENTRY = re.compile(r"[0-9a-f]{64}")
# tempfile.mkdtemp's names (engine/cache.py): the prefix, then eight of [a-z0-9_]
_WRITING = re.compile(r"\.write-[a-z0-9_]{8}")
_OLD = re.compile(r"\.old-[a-z0-9_]{8}")
_OLD_ENTRY = "entry"   # the one name in an `.old-*` folder: the entry being replaced


@dataclass(frozen=True, slots=True)
class Entry:
    name: str                 # the folder's name: the bundle's tag-manifest SHA-256, or a temporary folder
    bundle: str | None        # the bundle's name and path as meta.json states them (None: unreadable)
    root: str | None
    written_utc: str | None   # when meta.json was written
    size: int                 # bytes of the files in the entry


@dataclass(frozen=True, slots=True)
class Contents:
    entries: list[Entry]
    other: list[str]          # names evkit did not write (left alone), links included


def cache_contents(folder: Path) -> Contents:
    """What `folder` holds; an absent folder holds nothing. Refuses a folder that is a link."""
    _check_folder(folder)
    if not folder.exists():
        return Contents([], [])
    entries: list[Entry] = []
    other: list[str] = []
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if not _is_evkit_folder(path, name):
            other.append(name)
            continue
        entries.append(_describe(path, name))
    return Contents(entries, other)


def clear_cache(folder: Path) -> tuple[Contents, int]:
    """Remove every entry (and leftover temporary folder) evkit wrote in `folder`: (what was
    removed, bytes freed). Names evkit did not write are left and returned in `other`."""
    found = cache_contents(folder)
    removed = []
    for entry in found.entries:
        try:
            shutil.rmtree(folder / entry.name)   # rmtree removes links inside, never their targets
        except FileNotFoundError:
            continue    # gone since it was listed (another clear, a report replacing it): nothing to remove
        removed.append(entry)
    return Contents(removed, found.other), sum(e.size for e in removed)


def _check_folder(folder: Path) -> None:
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise CacheFolderError(f"the cache folder {folder} is a symbolic link; evkit never writes one, so it "
                          "touches nothing there (remove the link, or name the real folder with --cache-dir)")
    if not stat.S_ISDIR(mode):
        raise CacheFolderError(f"the cache folder {folder} is not a folder")


def _is_evkit_folder(path: Path, name: str) -> bool:
    """Whether `path` is a folder evkit wrote, by its name AND what it holds: a name alone is not
    enough (a cache folder named by mistake as $HOME, or a folder of other tools' 64-hex layers,
    must lose nothing). An entry holds only the files evkit writes there (meta.json and the
    Parquet files; fewer after a removal that was interrupted, so an interrupted clear or report
    is finished by the next clear); a `.write-*` folder only files; an `.old-*` folder nothing or
    one such entry called `entry`."""
    if _ENTRY.fullmatch(name):
        return _holds_only_files(path)
    if _WRITING.fullmatch(name):
        return _holds_only_files(path, allowed=None)
    if _OLD.fullmatch(name):
        names = _listing(path)
        return names == [] or (names == [_OLD_ENTRY] and _holds_only_files(path / _OLD_ENTRY))
    return False


def _listing(path: Path) -> list[str] | None:
    """The names in the folder `path` (never through a link); None when it is not a folder."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return None
        return sorted(os.listdir(path))
    except OSError:
        return None


def _holds_only_files(path: Path, *, allowed: frozenset[str] | None = frozenset({META, *FILES})) -> bool:
    names = _listing(path)
    if names is None:
        return False
    if allowed is not None and not set(names) <= allowed:
        return False
    try:
        return all(stat.S_ISREG(os.lstat(path / n).st_mode) for n in names)
    except OSError:
        return False


def _describe(path: Path, name: str) -> Entry:
    size = 0
    for dirpath, _dirs, files in os.walk(path):
        for file in files:
            size += os.lstat(Path(dirpath) / file).st_size
    bundle = root = written = None
    try:
        fd = os.open(path / META, FILE_FLAGS)   # never through a link
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                meta = load_meta(fd)
                bundle = meta.get("bundle") if isinstance(meta.get("bundle"), str) else None
                root = meta.get("root") if isinstance(meta.get("root"), str) else None
                written = format_utc(datetime.fromtimestamp(os.fstat(fd).st_mtime, tz=timezone.utc))
        finally:
            os.close(fd)
    except (OSError, CacheMismatch):
        pass
    return Entry(name, bundle, root, written, size)
