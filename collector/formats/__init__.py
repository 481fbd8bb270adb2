"""The one reader of evidence files: client exports (imports) and raw API pages.

Imports: `detect_format(path)` names the export, `read_records(path)` streams it as
classic-schema records (one ParsedRow per data row, with the reason when a row has no
record and the cells that PowerShell mangled), `summarise_file(path)` is what the importer
writes into the sidecar. Raw pages: `read_raw_records(sidecar, body)` by sidecar `kind`.
Records are returned as found (the original `CreationTime` string included); use
`parse_creation_time` for a UTC datetime in derived views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from evkit.collector.errors import ImportInputError
from evkit.collector.formats.csvformats import read_auditdata_csv, read_sentinel_csv
from evkit.collector.formats.detect import FORMATS, detect_format
from evkit.collector.formats.encoding import file_encoding
from evkit.collector.formats.jsonformats import (graph_to_classic, mgmt_element, read_json_records,
                                           sentinel_element, ual_row)
from evkit.collector.formats.raw import RECORD_KINDS, read_raw_records, read_raw_rows
from evkit.collector.formats.rows import LossyCell, ParsedRow
from evkit.collector.formats.timeparse import iso_utc, parse_creation_time, utc_or_none

_JSON_CONVERTERS = {"ual-json": ual_row, "mgmt-blob": mgmt_element,
                    "graph-records": graph_to_classic, "sentinel-json": sentinel_element}

_SENTINEL_LABELS = {"id_label": "OfficeId", "time_label": "TimeGenerated"}


def read_records(path: Path, fmt: str | None = None) -> Iterator[ParsedRow]:
    """Stream the rows of an import file as ParsedRow; `fmt` defaults to `detect_format(path)`.

    An "unknown" file yields nothing. Raises ImportInputError when the file cannot be read.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ImportInputError(f"{path}: unknown format id {fmt!r} (expected one of {', '.join(FORMATS)})")
    try:
        fmt = fmt or detect_format(path)
        if fmt in ("purview-csv", "purview-csv-classic", "ual-csv"):
            yield from read_auditdata_csv(path)
        elif fmt == "sentinel-csv":
            yield from read_sentinel_csv(path)
        elif fmt in _JSON_CONVERTERS:
            labels = _SENTINEL_LABELS if fmt == "sentinel-json" else None
            yield from read_json_records(path, _JSON_CONVERTERS[fmt], labels=labels,
                                         prefix="AuditData." if fmt == "ual-json" else "")
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def summarise_file(path: Path) -> dict:
    """Format, encoding, record count, unparseable rows and lossy cells of one import file."""
    path = Path(path)
    try:
        encoding = file_encoding(path)
        fmt = detect_format(path)
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    count = 0
    errors: list[dict] = []
    lossy: list[dict] = []
    for parsed in read_records(path, fmt):
        if parsed.record is not None:
            count += 1
        if parsed.error is not None:
            errors.append({"row": parsed.row, "reason": parsed.error})
        for cell in parsed.lossy:
            lossy.append({"row": parsed.row, "column": cell.column, "reason": cell.reason})
    return {"format": fmt, "encoding": encoding, "record_count": count,
            "errors": errors, "lossy": lossy}


__all__ = ["FORMATS", "RECORD_KINDS", "LossyCell", "ParsedRow", "detect_format", "iso_utc",
           "parse_creation_time", "utc_or_none", "read_raw_records", "read_raw_rows", "read_records",
           "summarise_file"]
