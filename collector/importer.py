"""`evkit import`: seal files a client handed over into a new evidence bundle, byte for byte.

Each file lands at data/imports/<safe name> with data/imports/<safe name>.meta.json (original
name, size, SHA-256, who provided it, when it was received, and what evkit.evidence.formats made of
it). The bundle is built and sealed in a hidden sibling folder and renamed to its final name as
the very last step, so `--out` holds a sealed bundle or nothing at all, whatever stops the run
(an error removes the hidden folder; one a crash left behind is removed by the next import to
the same name).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from evkit.collector.errors import BundleError
from evkit.evidence.errors import ImportInputError
from evkit.evidence.formats import summarise_file
from evkit.evidence.layout import DATA, IMPORTS_DIR
from evkit.evidence.sidecars import SIDECAR_SUFFIX
from evkit.manifests.bundle import BundleWriter
from evkit.manifests.errors import BundleExistsError, ManifestsError
from evkit.manifests.host import host_info
from evkit.manifests.jsonio import canonical
from evkit.manifests.keys import SigningKey
from evkit.manifests.layout import utc_now
from evkit.manifests.sealstate import fsync_dir
from evkit.manifests.names import sanitise_component
from evkit.times import format_utc

CHUNK = 1 << 20
STAGING_MARK = ".evkit-import-"   # hidden sibling `.<name>.evkit-import-<hex>` the bundle is built in


def check_inputs(files: Sequence[Path]) -> None:
    """Every input must be a readable regular file; raise ImportInputError naming the first bad one."""
    if not files:
        raise ImportInputError("no input files given")
    for path in files:
        path = Path(path)
        if not path.exists():
            raise ImportInputError(f"{path}: no such file")
        if not path.is_file():
            raise ImportInputError(f"{path}: not a regular file (directories are not imported; "
                                   "list the files)")
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise ImportInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def _with_suffix(name: str, n: int) -> str:
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return f"{stem}-{n}.{ext}"
    return f"{name}-{n}"


def plan_names(files: Sequence[Path]) -> list[str]:
    """One safe, distinct name per input (case-insensitively, sidecars included), in order.

    Unsafe characters become `_`; clashes get `-2`, `-3`... before the extension. Raises
    UnsafeNameError for a name that cannot be made safe at all.
    """
    used: set[str] = set()
    planned = []
    for path in files:
        base = sanitise_component(Path(path).name)
        candidate, n = base, 1
        while (candidate.lower() in used or (candidate + SIDECAR_SUFFIX).lower() in used
               or candidate.lower().endswith(SIDECAR_SUFFIX)):
            n += 1
            candidate = _with_suffix(base if not base.lower().endswith(SIDECAR_SUFFIX)
                                     else base + "_", n)
        used.update({candidate.lower(), (candidate + SIDECAR_SUFFIX).lower()})
        planned.append(candidate)
    return planned


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes; ImportInputError when it changes while it is read (it grows, shrinks,
    is truncated, rewritten or replaced): what was read is then not the file as handed over."""
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            read = 0
            while chunk := handle.read(CHUNK):
                read += len(chunk)
                yield chunk
            after = os.fstat(handle.fileno())
            named = os.stat(path)
    except OSError as exc:
        raise ImportInputError(f"{path}: read failed while copying: {exc.strerror or exc}") from None
    change = _change(before, after, named, read)
    if change:
        raise ImportInputError(f"{path}: the file changed while it was read ({change}); import it "
                               "again once whatever writes it has finished")


def _change(before: os.stat_result, after: os.stat_result, named: os.stat_result, read: int) -> str:
    """Why the file read is not one stable file ("" when it is)."""
    if (named.st_dev, named.st_ino) != (before.st_dev, before.st_ino):
        return "another file now has its name"
    for label, stat in (("", after), (" (by name)", named)):
        if stat.st_size != before.st_size:
            return f"its size went from {before.st_size} to {stat.st_size} bytes{label}"
        if stat.st_mtime_ns != before.st_mtime_ns:
            return f"it was written to{label}"
    if read != before.st_size:
        return f"{read} bytes were read from a file of {before.st_size}"
    return ""


def _describe_format(path: Path) -> dict:
    """What evkit.evidence.formats makes of the sealed copy: format, encoding, records, errors, lossy."""
    return summarise_file(path)


def _mtime_utc(path: Path) -> str:
    return format_utc(datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc))


def import_files(out: Path, *, case_id: str, key: SigningKey, files: Sequence[Path],
                 provided_by: str | None = None, collection_id: str | None = None,
                 on_file: Callable[[Path, dict], None] | None = None) -> Path:
    """Create the bundle `out` (must not exist) holding `files`, sealed with `key`; return out.

    `on_file(source, sidecar)` is called as each file is stored (the CLI prints a line per file).
    """
    out = Path(out)
    files = [Path(f) for f in files]
    check_inputs(files)
    names = plan_names(files)
    if os.path.lexists(out):
        raise BundleError(f"{out} already exists; give a new --out directory")
    if not out.parent.is_dir():
        raise BundleError(f"{out.parent} does not exist; create it first")
    started = utc_now()
    collection_id = collection_id or "IMPORT-" + started.replace("-", "").replace(":", "")
    _remove_stale_staging(out)
    staging = out.parent / f".{out.name}{STAGING_MARK}{uuid.uuid4().hex}"
    try:
        writer = BundleWriter.create(staging, case_id=case_id, collection_id=collection_id)
    except BundleExistsError as exc:
        raise BundleError(str(exc)) from None
    except ManifestsError as exc:
        raise BundleError(str(exc)) from None
    try:
        ledger = []
        for source, name in zip(files, names):
            received = utc_now(precise=True)
            record = writer.write(f"{IMPORTS_DIR}/{name}", _chunks(source))
            stored = staging / DATA / IMPORTS_DIR / name
            summary = _describe_format(stored)
            sidecar = {
                "kind": "import", "original_name": source.name, "stored_name": name,
                "size": record.size, "sha256": record.sha256, "provided_by": provided_by,
                "received_utc": received, "source_mtime_utc": _mtime_utc(source),
                "format": summary.get("format", "unknown"), "encoding": summary.get("encoding"),
                "record_count": summary.get("record_count", 0),
                "error_count": summary.get("error_count", 0), "errors": summary.get("errors", []),
                "lossy_count": summary.get("lossy_count", 0), "lossy": summary.get("lossy", []),
            }
            if summary.get("compression"):      # stored as handed over; read inflated
                sidecar["compression"] = summary["compression"]
            writer.write(f"{IMPORTS_DIR}/{name}{SIDECAR_SUFFIX}", canonical(sidecar))
            if on_file is not None:
                on_file(source, sidecar)
            writer.log_event("imported", file=f"{IMPORTS_DIR}/{name}", original_name=source.name,
                             size=record.size, sha256=record.sha256, format=sidecar["format"])
            ledger.append({"source": "import", "unit": name, "window": None, "expected": 1,
                           "received": 1, "unique_ids": sidecar["record_count"], "retries": 0,
                           "status": "complete", "reason": ""})
        collection = {
            "schema": "evkit.collection/1", "kind": "import", "case_id": case_id,
            "collection_id": collection_id, "examiner": key.signer,
            "signer_fingerprint": key.fingerprint, "provided_by": provided_by,
            "tenant": None, "window": None, "sources": ["import"], "operations": [], "users": [],
            "started_utc": started, "finished_utc": utc_now(), "clock": None,
            "host": host_info(), "ledger": ledger,
        }
        description = f"Files handed over by {provided_by}" if provided_by else "Files handed over by the client"
        writer.seal(key, bag_info={"External-Description": f"{description}, sealed with evkit import",
                                   "Evkit-Kind": "import"}, collection=collection)
        if os.path.lexists(out):
            raise BundleError(f"{out} appeared while importing; give a new --out directory")
        os.rename(staging, out)   # the sealed bundle appears under its name in one step
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)   # only ever the hidden folder this run created
        raise
    fsync_dir(out.parent)
    return out


def _remove_stale_staging(out: Path) -> None:
    """Remove hidden folders of earlier imports to `out` that a crash stopped before their rename."""
    prefixes = (f".{out.name}{STAGING_MARK}", f"..{out.name}{STAGING_MARK}")   # and the writer's own
    for entry in os.scandir(out.parent):
        if entry.name.startswith(prefixes) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
