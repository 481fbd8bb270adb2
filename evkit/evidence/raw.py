"""Records inside raw API responses kept by the collector, by sidecar `kind`, in Python.

Bodies are single pages (bounded by the APIs' page sizes), so plain `json.loads` is used.
A body stored gzip-compressed (`stored_encoding: gzip`) may be passed as stored. Where each
kind keeps its records is `evkit.evidence.kinds.RECORD_LAYOUTS`; the report's engine reads the
same pages in bulk by the same layouts.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from evkit.evidence.errors import RawPageError
from evkit.evidence.formats.depth import loads
from evkit.evidence.formats.graph import graph_to_classic
from evkit.evidence.formats.jsonformats import mgmt_element, ual_row
from evkit.evidence.formats.rows import ParsedRow, check_record
from evkit.evidence.kinds import GRAPH_RECORDS, MGMT_BLOB, RECORD_KINDS, RECORD_LAYOUTS, UAL_PAGE
from evkit.evidence.sidecars import is_success

# sidecar kind -> the converter of one element of its record list (the same ones the importer
# uses for the exported forms of these answers)
_CONVERTERS: dict[str, Callable[[object], object]] = {
    UAL_PAGE: ual_row, GRAPH_RECORDS: graph_to_classic, MGMT_BLOB: mgmt_element}


# what a damaged gzip stream raises: a bad header (OSError), a cut stream (EOFError) or bad
# deflate data (zlib.error, which is neither)
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


# The most one stored page may inflate to. API pages are a few MB; a body inflating past this
# (a gzip bomb, or damage) is named as a problem instead of exhausting memory.
MAX_PAGE_BYTES = 256 << 20


def read_page_body(sidecar: dict[str, Any], path: Path) -> bytes:
    """A stored page's body as received: expanded when stored gzip-compressed (the sidecar's
    `stored_encoding`, or a `.gz` name). OSError when the file cannot be read; ValueError with
    the reason when the compressed data is damaged or the body would exceed MAX_PAGE_BYTES."""
    if sidecar.get("stored_encoding") != "gzip" and not path.name.endswith(".gz"):
        if path.stat().st_size > MAX_PAGE_BYTES:
            raise ValueError(f"body is larger than {MAX_PAGE_BYTES >> 20} MiB; not read")
        return path.read_bytes()
    with path.open("rb") as handle:
        _check_stated_size(handle)
        return _inflate(handle)


def _check_stated_size(handle: BinaryIO) -> None:
    """Refuse, before inflating anything, a gzip file whose trailer states more than
    MAX_PAGE_BYTES. A trailer that understates is still caught by the streaming cap in
    _inflate, which then holds at most MAX_PAGE_BYTES."""
    stated = _stated_size(handle)
    if stated is not None and stated > MAX_PAGE_BYTES:
        raise ValueError(f"body inflates beyond {MAX_PAGE_BYTES >> 20} MiB (its gzip trailer says "
                         f"{stated >> 20} MiB); not read (damaged or hostile)")


def _stated_size(handle: BinaryIO) -> int | None:
    """The inflated size a gzip file's trailer states (ISIZE: modulo 4 GiB, so only a hint),
    or None for a file too short to have one; leaves the handle at the start."""
    size = handle.seek(0, io.SEEK_END)
    stated = None
    if size >= 18:                       # the smallest gzip member: 10-byte header + 8-byte trailer
        handle.seek(size - 4)
        stated = int.from_bytes(handle.read(4), "little")
    handle.seek(0)
    return stated


def gzip_stated_size(path: Path) -> int | None:
    """What a stored `.gz` body's trailer says it inflates to (None when it cannot say); lets a
    reader send a page that claims to be huge to the capped reader without inflating it."""
    with path.open("rb") as handle:
        return _stated_size(handle)


def _inflate(compressed: BinaryIO) -> bytes:
    """Decompress a gzip stream in chunks, never past MAX_PAGE_BYTES (ValueError beyond it, or
    with the decompressor's reason when the data is damaged)."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=compressed, mode="rb") as stream:
            while chunk := stream.read(1 << 20):
                if out.tell() + len(chunk) > MAX_PAGE_BYTES:
                    raise ValueError(f"body inflates beyond {MAX_PAGE_BYTES >> 20} MiB; not read "
                                     "(damaged or hostile)")
                out.write(chunk)
    except _GZIP_ERRORS as exc:
        raise ValueError(str(exc)) from None
    return out.getvalue()


def read_raw_rows(sidecar: dict[str, Any], body: bytes) -> Iterator[ParsedRow]:
    """Every record slot of one raw page as a ParsedRow (row = element number from 1).

    Kinds without audit records and non-2xx answers yield nothing. A body that is not the
    expected JSON document yields one row 0 error rather than looking like an empty page.
    """
    kind = sidecar.get("kind")
    if kind not in RECORD_KINDS or not is_success(sidecar):
        return
    try:
        if body[:2] == b"\x1f\x8b":
            body = _inflate(io.BytesIO(body))
        doc = loads(body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        yield ParsedRow(0, None, f"{kind} body is not valid JSON: {exc}", [])
        return
    list_field = RECORD_LAYOUTS[kind].list_field
    if list_field is None:
        items = doc
    else:
        items = doc.get(list_field) if isinstance(doc, dict) else None
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


def read_raw_records(sidecar: dict[str, Any], body: bytes) -> Iterator[dict[str, Any]]:
    """Classic records in one raw page; raises RawPageError naming the page and element on a bad
    one, so a damaged page is never mistaken for a shorter one (use read_raw_rows to go on past it)."""
    where = sidecar.get("body_file") or sidecar.get("url") or sidecar.get("kind")
    for parsed in read_raw_rows(sidecar, body):
        if parsed.record is None:     # check_record gives a record or the reason there is none
            raise RawPageError(f"{where}: element {parsed.row}: {parsed.error}")
        yield parsed.record
