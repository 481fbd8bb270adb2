"""The bundle inventory: what is inside each bundle that a reader reads: pages, imports, config
pages, the ledger.

Pure file discovery and small-JSON reading, no analysis: the report's engine decides how to
load each file. Anything unreadable becomes a named `problem` rather than an exception, because a report
on partly damaged evidence must still say what it could and could not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evkit.evidence.errors import EvidenceError
from evkit.evidence.kinds import ITEMS_BATCH, RECORD_KINDS, is_config_kind, is_entra_kind
from evkit.evidence.layout import COLLECTION, DATA, IMPORTS_DIR, RAW_DIR
from evkit.evidence.sidecars import (SIDECAR_SUFFIX, imported_body, is_success, page_status, read_json_file,
                                    read_page_sidecar)


@dataclass(frozen=True, slots=True)
class Page:
    """One stored API response body with its sidecar."""

    sidecar: Path
    body: Path
    kind: str
    status: int
    context: dict[str, Any]
    size: int = 0  # body bytes as received (uncompressed), from the sidecar; 0 when unknown


@dataclass(frozen=True, slots=True)
class ImportFile:
    """A client-provided export under data/imports/ with its sidecar."""

    sidecar: Path
    body: Path
    format: str
    meta: dict[str, Any]


@dataclass(slots=True)
class Inventory:
    """Everything the report reads from one bundle."""

    root: Path
    name: str
    collection: dict[str, Any]
    record_pages: list[Page] = field(default_factory=list)
    config_pages: list[Page] = field(default_factory=list)
    entra_pages: list[Page] = field(default_factory=list)  # sign-ins and applications (kinds.is_entra_kind)
    imports: list[ImportFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    item_pages: list[Page] = field(default_factory=list)  # item metadata (evkit.evidence.itemmeta)

    @property
    def ledger(self) -> list[dict[str, Any]]:
        entries = self.collection.get("ledger")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def scan_bundles(roots: Iterable[Path]) -> list[Inventory]:
    """scan_bundle for every root, ordered by folder name then path, each under a name no other
    bundle of the run has. The name prefixes every `src` in the engine's tables, so two bundles
    whose folders share a name (a copy, or two collections kept under different parents) would
    read as one source; the later ones are called `NAME (2)`, `NAME (3)`..."""
    inventories = [scan_bundle(root) for root in sorted(roots, key=lambda p: (p.name, str(p)))]
    taken = {inv.name for inv in inventories}
    seen: set[str] = set()
    for inv in inventories:
        if inv.name in seen:
            n = 2
            while f"{inv.name} ({n})" in taken:
                n += 1
            inv.name = f"{inv.name} ({n})"
            taken.add(inv.name)
        seen.add(inv.name)
    return inventories


def scan_bundle(root: Path) -> Inventory:
    """Discover the evidence files of one bundle (sealed or not); never loads record bodies."""
    data = root / DATA
    if not data.is_dir():
        raise EvidenceError(f"{root}: not an evidence bundle (no {DATA}/ directory)")
    inv = Inventory(root=root, name=root.name, collection={})
    coll_path = data / COLLECTION
    if coll_path.is_file():
        try:
            coll = read_json_file(coll_path)
            inv.collection = coll if isinstance(coll, dict) else {}
        except ValueError as exc:
            inv.problems.append(f"{root.name}/{DATA}/{COLLECTION}: {exc}")
    else:
        inv.problems.append(f"{root.name}/{DATA}/{COLLECTION}: missing; completeness unknown")
    raw = data / RAW_DIR
    if raw.is_dir():
        for sidecar in sorted(raw.rglob("*" + SIDECAR_SUFFIX)):
            _add_page(inv, sidecar)
    imports = data / IMPORTS_DIR
    if imports.is_dir():
        for sidecar in sorted(imports.glob("*" + SIDECAR_SUFFIX)):
            _add_import(inv, sidecar)
    return inv


def source_name(inv: Inventory, path: Path) -> str:
    """A file's `src` in the report tables and problems: the bundle's name, then the file's
    path inside the bundle (the report engine's bulk read builds the same text in SQL)."""
    try:
        return f"{inv.name}/{path.relative_to(inv.root).as_posix()}"
    except ValueError:
        return str(path)


def _add_page(inv: Inventory, sidecar: Path) -> None:
    try:
        meta, body = read_page_sidecar(sidecar)
    except ValueError as exc:
        inv.problems.append(f"{source_name(inv, sidecar)}: {exc}; its body was not read")
        return
    kind = str(meta.get("kind", ""))
    status = page_status(meta)
    context = stated if isinstance(stated := meta.get("context"), dict) else {}
    size = meta.get("body_size")
    size = size if isinstance(size, int) and size > 0 else 0
    page = Page(sidecar=sidecar, body=body, kind=kind, status=status, context=context, size=size)
    if not is_success(meta):
        return  # kept in the bundle as the record of what happened; carries no evidence records
    if not body.is_file():
        inv.problems.append(f"{source_name(inv, body)}: body named by its sidecar is missing")
        return
    if kind in RECORD_KINDS:
        inv.record_pages.append(page)
    elif is_config_kind(kind):
        inv.config_pages.append(page)
    elif kind == ITEMS_BATCH:
        inv.item_pages.append(page)
    elif is_entra_kind(kind):
        inv.entra_pages.append(page)


def _add_import(inv: Inventory, sidecar: Path) -> None:
    try:
        meta = read_json_file(sidecar)
    except ValueError as exc:
        inv.problems.append(f"{source_name(inv, sidecar)}: import sidecar {exc}; the import was not read")
        return
    if not isinstance(meta, dict):
        inv.problems.append(f"{source_name(inv, sidecar)}: import sidecar is not a JSON object; not read")
        return
    body = imported_body(sidecar)
    if not body.is_file():
        inv.problems.append(f"{source_name(inv, body)}: imported file named by its sidecar is missing")
        return
    fmt = str(meta.get("format") or "unknown")
    inv.imports.append(ImportFile(sidecar=sidecar, body=body, format=fmt, meta=meta))
    errors = meta.get("errors")
    if isinstance(errors, list) and errors:
        inv.problems.append(
            f"{source_name(inv, body)}: {_count(meta, 'error_count', errors)} row(s) could not be "
            f"parsed at import time (first: row {_first(errors, 'row')}: {_first(errors, 'reason')})")
    lossy = meta.get("lossy")
    if isinstance(lossy, list) and lossy:
        inv.problems.append(
            f"{source_name(inv, body)}: {_count(meta, 'lossy_count', lossy)} cell(s) were mangled "
            f"before export (first: row {_first(lossy, 'row')} {_first(lossy, 'column')}: "
            f"{_first(lossy, 'reason')})")


def _count(meta: dict[str, Any], key: str, listed: list[Any]) -> int:
    """How many there were: the sidecar's count (it lists only the first ones), else the list."""
    total = meta.get(key)
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= len(listed) \
        else len(listed)


def _first(items: list[Any], key: str) -> str:
    first = items[0] if items and isinstance(items[0], dict) else {}
    return str(first.get(key, "?"))[:200]
