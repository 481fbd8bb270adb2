"""Records inside raw API responses kept by the collector, by sidecar `kind`.

Bodies are single pages (bounded by the APIs' page sizes), so plain `json.loads` is used.
A body stored gzip-compressed (`stored_encoding: gzip`) may be passed as stored.
"""

from __future__ import annotations

import gzip
import json
from typing import Iterator

from evkit.collector.errors import ApiError
from evkit.collector.formats.graph import graph_to_classic
from evkit.collector.formats.jsonformats import mgmt_element, ual_row
from evkit.collector.formats.rows import ParsedRow, check_record

# sidecar kind -> the converter of one element of its record list (the same ones the importer
# uses for the exported forms of these answers)
_CONVERTERS = {"ual.page": ual_row, "graph.records": graph_to_classic, "mgmt.blob": mgmt_element}
RECORD_KINDS = frozenset(_CONVERTERS)


def _ok(sidecar: dict) -> bool:
    status = sidecar.get("status")
    return isinstance(status, int) and 200 <= status < 300


def read_raw_rows(sidecar: dict, body: bytes) -> Iterator[ParsedRow]:
    """Every record slot of one raw page as a ParsedRow (row = element number from 1).

    Kinds without audit records and non-2xx answers yield nothing. A body that is not the
    expected JSON document yields one row 0 error rather than looking like an empty page.
    """
    kind = sidecar.get("kind")
    if kind not in RECORD_KINDS or not _ok(sidecar):
        return
    try:
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        doc = json.loads(body.decode("utf-8-sig"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield ParsedRow(0, None, f"{kind} body is not valid JSON: {exc}", [])
        return
    items = doc if kind == "mgmt.blob" else (doc.get("value") if isinstance(doc, dict) else None)
    if not isinstance(items, list):
        yield ParsedRow(0, None, f"{kind} body has no list of records", [])
        return
    convert = _CONVERTERS[kind]
    for i, item in enumerate(items, start=1):
        record = convert(item)
        if isinstance(record, str):
            yield ParsedRow(i, None, record, [])
        else:
            yield check_record(i, record, [], scan_values=False)


def read_raw_records(sidecar: dict, body: bytes) -> Iterator[dict]:
    """Classic records in one raw page; raises ApiError naming the page and element on a bad one,
    so a damaged page is never mistaken for a shorter one (use read_raw_rows to go on past it)."""
    where = sidecar.get("body_file") or sidecar.get("url") or sidecar.get("kind")
    for parsed in read_raw_rows(sidecar, body):
        if parsed.error is not None:
            raise ApiError(f"{where}: element {parsed.row}: {parsed.error}")
        yield parsed.record

