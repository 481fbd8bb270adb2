"""The normalised-table cache: a bundle's parsed records kept as Parquet outside the bundle, so a
later report over the same bundle reads them instead of parsing every page again
(docs/report-cache.md).

The cache is not evidence. It is used only for a bundle that verified valid against a key the
analyst trusts in this very run (every byte hashed, the signature and trust checked as always),
and only when everything in its entry matches: the bundle's tag-manifest SHA-256 (which fixes
every payload byte through the manifests), the evkit version, a fingerprint of the code that
parses records, the bundle's name and path in this report, and the SHA-256 and size of each file
the entry's meta.json lists. Anything else (an edited or truncated file, another version, another
bundle's entry, a symbolic link or any file evkit did not write) and the bundle is parsed again,
saying why. An entry is one folder per bundle, `<cache dir>/<tag-manifest SHA-256>/`, written in
a temporary folder beside it and renamed into place.

What it holds, per bundle: the rows of `events_all` (every record read, before de-duplication,
which depends on the other bundles of the report) and the problems the parse recorded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from evkit import __version__
from evkit.evidence.inventory import Inventory
from evkit.report.engine.parquet import parquet_columns, table_columns, write_parquet

SCHEMA = "evkit.table-cache/1"
META = "meta.json"
FILES = {"events.parquet": "events_all", "problems.parquet": "problems"}
_META_CAP = 1 << 20
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
# Columns that exist only while a load runs (engine/loader.py), never in an entry.
_TRANSIENT = ("json_text",)


class CacheMismatch(Exception):
    """An entry that must not be used; the message says why, in words for the console."""


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/evkit/tables, or ~/.cache/evkit/tables."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evkit" / "tables"


@functools.lru_cache(maxsize=1)
def parser_fingerprint() -> str:
    """SHA-256 of what decides the parsed tables: evkit's and DuckDB's versions and the source of
    the modules that read and normalise records, so an entry written by another build of evkit
    (even one still calling itself the same version) is never read."""
    from evkit import evidence, times  # noqa: PLC0415 - only for their source files

    here = Path(__file__).resolve().parent
    sources = sorted(Path(evidence.__file__).resolve().parent.rglob("*.py"))
    sources += [Path(times.__file__).resolve(), here / "loader.py", here / "sql.py", Path(__file__).resolve()]
    digest = hashlib.sha256(f"evkit {__version__}\0duckdb {duckdb.__version__}\0".encode())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class TableCache:
    """The cache folder and the bundles of this report it may serve: `keys` maps a bundle's name
    in the report to its tag-manifest SHA-256, only for bundles that verified valid against a
    trusted key. `notes` says, per bundle, whether it was read from the cache or parsed, and why."""

    def __init__(self, folder: Path, keys: Mapping[str, str]) -> None:
        self.folder = folder
        self.keys = dict(keys)
        self.notes: list[str] = []

    def _entry(self, inv: Inventory) -> Path | None:
        key = self.keys.get(inv.name)
        return self.folder / key if key else None

    def _meta(self, inv: Inventory) -> dict[str, Any]:
        return {"schema": SCHEMA, "tagmanifest_sha256": self.keys[inv.name], "evkit_version": __version__,
                "parser": parser_fingerprint(), "bundle": inv.name, "root": str(inv.root)}

    # ---- reading ---------------------------------------------------------------------------

    def read(self, con: duckdb.DuckDBPyConnection, inv: Inventory) -> bool:
        """Append the bundle's cached rows to events_all and problems; False (and a note saying
        why) when the bundle must be parsed instead."""
        entry = self._entry(inv)
        if entry is None:
            self.notes.append(f"{inv.name}: parsed; not cached, as only bundles verified valid against a "
                              "key you trust are")
            return False
        try:
            self._read_entry(con, inv, entry)
        except FileNotFoundError:
            return False
        except CacheMismatch as exc:
            self.notes.append(f"{inv.name}: re-parsed: the cache entry {entry} {exc}")
            return False
        self.notes.append(f"{inv.name}: read from the cache ({entry}), not parsed again")
        return True

    def _read_entry(self, con: duckdb.DuckDBPyConnection, inv: Inventory, entry: Path) -> None:
        try:
            mode = os.lstat(entry).st_mode
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise CacheMismatch(f"cannot be read ({exc.strerror})") from exc
        if stat.S_ISLNK(mode):
            raise CacheMismatch("is a symbolic link, which evkit never writes")
        if not stat.S_ISDIR(mode):
            raise CacheMismatch("is not a folder")
        fds: dict[str, int] = {}
        try:
            dir_fd = os.open(entry, _DIR_FLAGS)
            try:
                names = set(os.listdir(dir_fd))
                if names != {META, *FILES}:
                    odd = sorted(names - {META, *FILES}) or sorted({META, *FILES} - names)
                    raise CacheMismatch(f"holds other files than evkit writes ({', '.join(odd)})")
                for name in sorted(names):
                    fds[name] = _open_file(dir_fd, name)
            finally:
                os.close(dir_fd)
            meta = load_meta(fds[META])
            expected = self._meta(inv)
            for field, words in (("schema", "is in another format"),
                                 ("tagmanifest_sha256", "was made for another bundle"),
                                 ("evkit_version", f"was made by another evkit version than {__version__}"),
                                 ("parser", "was made by another build of evkit's parser or DuckDB"),
                                 ("bundle", "was made for a bundle of another name in the report"),
                                 ("root", "was made for the bundle at another path")):
                if meta.get(field) != expected[field]:
                    raise CacheMismatch(words)
            listed = meta.get("files")
            if not isinstance(listed, dict) or set(listed) != set(FILES):
                raise CacheMismatch("lists other files than evkit writes")
            for name in FILES:
                _check_file(fds[name], name, listed[name])
            self._insert(con, {name: _pinned(fds[name], entry / name) for name in FILES})
        except OSError as exc:
            raise CacheMismatch(f"cannot be read ({exc.strerror or exc})") from exc
        finally:
            for fd in fds.values():
                os.close(fd)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, paths: Mapping[str, str]) -> None:
        for name, table in FILES.items():
            wanted = [c for c in table_columns(con, table) if c[0] not in _TRANSIENT]
            try:
                found = parquet_columns(con, paths[name])
            except duckdb.Error as exc:
                raise CacheMismatch(f"has a {name} DuckDB cannot read ({_first_line(exc)})") from exc
            if found != wanted:
                raise CacheMismatch(f"has a {name} whose columns are not this evkit's")
        con.execute("BEGIN TRANSACTION")
        try:
            for name, table in FILES.items():
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [paths[name]])
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise CacheMismatch(f"could not be read ({_first_line(exc)})") from exc
        con.execute("COMMIT")

    # ---- writing ---------------------------------------------------------------------------

    def write(self, con: duckdb.DuckDBPyConnection, inv: Inventory) -> None:
        """Store the bundle's rows of events_all and problems (as parsed, before the problems of
        the whole report are added) as its entry, replacing any entry there. A cache that cannot
        be written never fails the report: the note says so."""
        entry = self._entry(inv)
        if entry is None:
            return
        tmp: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = Path(tempfile.mkdtemp(prefix=".write-", dir=self.folder))
            files = {}
            for name, table in FILES.items():
                columns = ", ".join(f'"{c}"' for c, _ in table_columns(con, table) if c not in _TRANSIENT)
                write_parquet(con, f"SELECT {columns} FROM {table} WHERE bundle = ?", tmp / name, [inv.name])
                files[name] = _digest(tmp / name)
            meta = {**self._meta(inv), "files": files}
            (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            _replace(tmp, entry)
            tmp = None
        except (OSError, duckdb.Error) as exc:
            self.notes.append(f"{inv.name}: its tables could not be cached ({_first_line(exc)})")
            return
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        self.notes.append(f"{inv.name}: parsed; its tables are now cached in {entry}")


class CacheWriter:
    """Stores bundles' tables in a background thread, from a snapshot of the tables taken when
    it starts: the engine goes on (de-duplication deletes rows, renames and drops columns) while
    DuckDB's transactions keep the writer's view as it was. Writing the entry costs about 3 s of
    CPU at 1M records (the parse about 8 s); in the background it added 1.8 s to the report, where
    written before de-duplication it added 2-3 s."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cache: TableCache, inventories: Sequence[Inventory]) -> None:
        self._cursor = con.cursor()
        self._cursor.execute("BEGIN TRANSACTION")
        self._cursor.execute("SELECT (SELECT count(*) FROM events_all), (SELECT count(*) FROM problems)").fetchall()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(cache, list(inventories)),
                                        name="evkit-table-cache", daemon=True)
        self._thread.start()

    def _run(self, cache: TableCache, inventories: list[Inventory]) -> None:
        try:
            for inv in inventories:
                cache.write(self._cursor, inv)
        except BaseException as exc:  # noqa: BLE001 - handed to join(), in the engine's thread
            self._failure = exc
        finally:
            try:
                self._cursor.execute("ROLLBACK")   # the snapshot only read: nothing to keep
            except duckdb.Error:
                pass
            self._cursor.close()

    def join(self) -> None:
        """Wait for the writer; an unexpected failure in it is raised here."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure


def _open_file(dir_fd: int, name: str) -> int:
    if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
        raise CacheMismatch(f"holds {name} as a symbolic link, which evkit never writes")
    fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CacheMismatch(f"holds {name}, which is not a regular file")
    return fd


def load_meta(fd: int) -> dict[str, Any]:
    data = os.pread(fd, _META_CAP + 1, 0)
    if len(data) > _META_CAP:
        raise CacheMismatch(f"has a {META} too large to be evkit's")
    try:
        meta = json.loads(data)
    except (ValueError, UnicodeError) as exc:
        raise CacheMismatch(f"has a {META} that is not JSON") from exc
    if not isinstance(meta, dict):
        raise CacheMismatch(f"has a {META} of the wrong shape")
    return meta


def _check_file(fd: int, name: str, listed: Any) -> None:
    """The file's size and SHA-256 are those meta.json lists (read through the open descriptor,
    the very file DuckDB then reads)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := os.pread(fd, 1 << 20, size):
        digest.update(chunk)
        size += len(chunk)
    if not isinstance(listed, dict) or listed.get("size") != size or listed.get("sha256") != digest.hexdigest():
        raise CacheMismatch(f"has a {name} that is not the file evkit wrote (edited or truncated)")


def _pinned(fd: int, path: Path) -> str:
    """A name DuckDB can open for the file behind `fd`: /proc/self/fd/N where the system has it
    (the very file checked, even if the name is swapped meanwhile), else its path."""
    proc = f"/proc/self/fd/{fd}"
    return proc if os.path.exists(proc) else path.as_posix()


def _digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _replace(new: Path, entry: Path) -> None:
    """Rename the folder `new` to `entry`, removing what is there (a link is removed, never followed)."""
    try:
        mode = os.lstat(entry).st_mode
    except FileNotFoundError:
        os.rename(new, entry)
        return
    if stat.S_ISDIR(mode):
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=entry.parent))
        os.rename(entry, old / "entry")
        os.rename(new, entry)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.unlink(entry)
        os.rename(new, entry)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
