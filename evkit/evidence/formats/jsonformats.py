"""JSON exports: Search-UnifiedAuditLog | ConvertTo-Json, Management API blobs, Graph audit
records and Sentinel OfficeActivity; as arrays, `{"value": [...]}` envelopes or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

from evkit.evidence.formats.depth import loads
from evkit.evidence.formats.encoding import open_text
from evkit.evidence.formats.graph import graph_to_classic
from evkit.evidence.formats.jsonstream import (JsonStreamError, iter_lines, iter_marked,
                                          looks_like_json_lines, looks_like_tables)
from evkit.evidence.formats.mangled import SUSPECT, mangled_reason
from evkit.evidence.formats.rows import LossyCell, ParsedRow, check_record
from evkit.evidence.formats.sentinel import column_name, to_classic

HEAD_CHARS = 1 << 16


def iter_json_file(path: Path) -> Iterator[tuple[int, object | JsonStreamError, bool]]:
    """(element number, element or syntax error, whether its text looks worth a lossy scan)
    for an array / envelope / Log Analytics answer / JSON lines file."""
    with open_text(path, errors="replace") as text:
        head = text.read(HEAD_CHARS)
    with open_text(path, errors="replace") as text:
        if looks_like_json_lines(head):
            yield from iter_lines(text, SUSPECT)
            return
        number = 0
        try:
            for number, (element, marked) in enumerate(
                    iter_marked(text, SUSPECT, tables=looks_like_tables(head)), start=1):
                yield number, element, marked
        except JsonStreamError as exc:
            yield number + 1, JsonStreamError(
                f"JSON syntax error: {exc}; nothing from this element on could be read"), False


def ual_row(element: object) -> object:
    """A Search-UnifiedAuditLog output object: its `AuditData` (JSON text, or already an object)."""
    if not isinstance(element, dict):
        return f"element is a JSON {type(element).__name__}, not an object"
    data = element.get("AuditData")
    if isinstance(data, dict):
        return data
    if not isinstance(data, str) or not data.strip():
        return "row has no AuditData"
    try:
        return loads(data)
    except json.JSONDecodeError as exc:
        reason = mangled_reason(data)
        extra = f" ({reason})" if reason else ""
        return f"AuditData is not valid JSON: {exc.msg} at character {exc.pos}{extra}"


def mgmt_element(element: object) -> object:
    """A Management API blob element is the classic record itself."""
    return element


def sentinel_element(element: object) -> object:
    """An OfficeActivity row exported as JSON: column names as keys."""
    if not isinstance(element, dict):
        return f"element is a JSON {type(element).__name__}, not an object"
    return to_classic({column_name(k)[0]: v for k, v in element.items()})


def read_json_records(path: Path, convert: Callable[[object], object], *,
                      prefix: str = "", labels: dict[str, str] | None = None) -> Iterator[ParsedRow]:
    """Convert each element to a classic record (a str return is the reason it cannot be);
    lossy paths are prefixed with `prefix` (`AuditData.` where the record sits in that field)."""
    for number, element, marked in iter_json_file(path):
        if isinstance(element, JsonStreamError):
            yield ParsedRow(number, None, str(element), [])
            continue
        record = convert(element)
        if isinstance(record, str):
            yield ParsedRow(number, None, record, [])
            continue
        parsed = check_record(number, record, [], scan_values=marked, **(labels or {}))
        if prefix and parsed.lossy:
            parsed = parsed._replace(lossy=[LossyCell(prefix + c.column, c.reason) for c in parsed.lossy])
        yield parsed


def classify_element(element: object) -> str:
    """Format id for a JSON file whose first element is `element`."""
    if not isinstance(element, dict):
        return "unknown"
    keys = set(element)
    if "auditData" in keys or "auditLogRecordType" in keys:
        return "graph-records"
    if {"OfficeId", "OfficeWorkload"} & {column_name(k)[0] for k in keys} \
            or element.get("Type") == "OfficeActivity":
        return "sentinel-json"
    if "AuditData" in keys:
        return "ual-json"
    if "Id" in keys and "CreationTime" in keys and ("RecordType" in keys or "Operation" in keys):
        return "mgmt-blob"
    return "unknown"


__all__ = ["classify_element", "read_json_records", "iter_json_file",
           "ual_row", "mgmt_element", "sentinel_element", "graph_to_classic"]
