"""Records from imported exports and from pages the engine could not bulk-load.

The one reader of evidence formats is `evkit.collector.formats` (docs/internals.md). When it is not
installed (the report built on its own), a small local reader covers the common formats so the
report still runs; anything it cannot read is reported as a problem, never dropped silently.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evkit.report.inventory import ImportFile, Page


@dataclass(frozen=True, slots=True)
class Row:
    """One record (or one failure to read one) with its 1-based position in the file."""

    row: int
    record: dict[str, Any] | None
    error: str | None


def _collector_formats():
    try:
        from evkit.collector import formats  # noqa: PLC0415 - optional seam, see module docstring
    except ImportError:
        return None
    if not hasattr(formats, "read_records") or not hasattr(formats, "read_raw_rows"):
        return None
    return formats


def iso_utc(value: str) -> str | None:
    """A record time as `2023-06-01T12:00:00Z` (microseconds when present), None if unreadable.

    The one parser of evidence times is `evkit.collector.formats.iso_utc`; without it (the report
    built on its own) only ISO 8601 is read, and other forms stay unreadable (reported).
    """
    formats = _collector_formats()
    if formats is not None and hasattr(formats, "iso_utc"):
        return formats.iso_utc(value)
    return _local_iso_utc(value)


def _local_iso_utc(value: str) -> str | None:
    try:
        dt = datetime.fromisoformat(value.strip())
    except (ValueError, TypeError, AttributeError):
        return None
    dt = (dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{dt.microsecond:06d}Z" if dt.microsecond else "Z")


def import_rows(item: ImportFile) -> Iterator[Row]:
    """Records of one imported file, in file order."""
    formats = _collector_formats()
    if formats is not None:
        from evkit.collector.errors import CollectorError  # noqa: PLC0415 - same optional seam
        fmt = item.format if item.format in getattr(formats, "FORMATS", ()) else None
        try:
            for parsed in formats.read_records(item.body, fmt):
                yield Row(parsed.row, parsed.record, parsed.error)
        except (CollectorError, ValueError, UnicodeError) as exc:
            yield Row(0, None, f"import unreadable: {exc}"[:300])
        return
    yield from _local_import_rows(item.body, item.format)


def page_rows(page: Page) -> Iterator[Row]:
    """Records of one raw API page (fallback path for pages DuckDB could not read in bulk)."""
    formats = _collector_formats()
    if formats is not None:
        try:
            sidecar = json.loads(page.sidecar.read_bytes())
            body = _read_body(page.body)
            for parsed in formats.read_raw_rows(sidecar, body):
                yield Row(parsed.row, parsed.record, parsed.error)
        except (ValueError, OSError, EOFError, KeyError, TypeError) as exc:
            yield Row(0, None, f"page unreadable: {exc}"[:300])
        return
    try:
        doc = json.loads(_read_body(page.body).decode("utf-8-sig"))
    except (ValueError, OSError, EOFError) as exc:
        yield Row(0, None, f"page is not valid JSON: {exc}"[:300])
        return
    if page.kind == "mgmt.blob":
        items = doc if isinstance(doc, list) else None
        key = None
    else:
        items = doc.get("value") if isinstance(doc, dict) else None
        key = "AuditData" if page.kind == "ual.page" else "auditData"
    if not isinstance(items, list):
        yield Row(0, None, "page has no record list")
        return
    for n, element in enumerate(items, 1):
        yield _from_container(n, element, key)


# The most one stored page may inflate to. API pages are a few MB; a body inflating past this
# (a gzip bomb, or damage) is named as a problem instead of exhausting memory.
MAX_PAGE_BYTES = 256 << 20


def _read_body(path: Path, limit: int | None = None) -> bytes:
    """A page's body, decompressed in chunks; ValueError when it would exceed `limit` bytes
    (MAX_PAGE_BYTES unless given)."""
    limit = MAX_PAGE_BYTES if limit is None else limit
    if not path.name.endswith(".gz"):
        if path.stat().st_size > limit:
            raise ValueError(f"body is larger than {limit >> 20} MiB; not read")
        return path.read_bytes()
    out = io.BytesIO()
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if out.tell() + len(chunk) > limit:
                raise ValueError(f"body inflates beyond {limit >> 20} MiB; not read (damaged or hostile)")
            out.write(chunk)
    return out.getvalue()


def _from_container(n: int, element: Any, key: str | None) -> Row:
    value = element.get(key) if (key and isinstance(element, dict)) else element
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            return Row(n, None, f"{key or 'record'} is not valid JSON: {exc}"[:300])
    if not isinstance(value, dict):
        return Row(n, None, f"{key or 'record'} is missing or not a JSON object")
    return Row(n, value, None)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _local_import_rows(path: Path, fmt: str) -> Iterator[Row]:
    try:
        text = _decode(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        yield Row(0, None, f"cannot decode: {exc}"[:300])
        return
    if fmt in ("purview-csv", "purview-csv-classic", "ual-csv"):
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or "AuditData" not in reader.fieldnames:
            yield Row(0, None, "CSV has no AuditData column")
            return
        for n, row in enumerate(reader, 1):
            yield _from_container(n, row, "AuditData")
        return
    if fmt in ("mgmt-blob", "ual-json", "graph-records"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            yield Row(0, None, f"not valid JSON: {exc}"[:300])
            return
        items = doc.get("value") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            yield Row(0, None, "no record list in the file")
            return
        key = {"mgmt-blob": None, "ual-json": "AuditData", "graph-records": "auditData"}[fmt]
        for n, element in enumerate(items, 1):
            yield _from_container(n, element, key)
        return
    yield Row(0, None, f"format {fmt!r} is not readable without collector.formats")
