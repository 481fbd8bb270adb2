"""The import formats: client exports of audit records, and how to tell them apart.

`detect_format(path)` names the export, `read_records(path)` streams it as classic-schema
records (one ParsedRow per data row, with the reason when a row has no record and the cells
that PowerShell mangled), `summarise_file(path)` is what the importer writes into the sidecar.
Records are returned as found (the original `CreationTime` string included); use
`evkit.times.parse_creation_time` for a UTC datetime in derived views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from evkit.evidence.errors import ImportInputError
from evkit.evidence.formats.compressed import CompressedInputError, gzip_damage, is_gzip
from evkit.evidence.formats.csvformats import read_auditdata_csv, read_sentinel_csv
from evkit.evidence.formats.detect import FORMATS, detect_format
from evkit.evidence.formats.encoding import file_encoding
from evkit.evidence.formats.jsonformats import (graph_to_classic, mgmt_element, read_json_records,
                                          sentinel_element, ual_row)
from evkit.evidence.formats.rows import LossyCell, ParsedRow

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
    except CompressedInputError as exc:     # rows before the damage or the cap were read
        yield ParsedRow(0, None, f"{exc}; nothing from there on could be read", [])
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


# Rows and cells listed by name in a sidecar; beyond these only the counts grow, so a file of
# millions of bad lines gives a small sidecar and bounded memory.
MAX_LISTED = 100


def summarise_file(path: Path) -> dict[str, Any]:
    """Format, encoding, record count, unparseable rows and lossy cells of one import file,
    and `compression` ("gzip") for a compressed one (read inflated, formats.compressed).

    `errors` and `lossy` list the first MAX_LISTED of each; `error_count` and `lossy_count`
    count them all.
    """
    path = Path(path)
    count = error_count = lossy_count = 0
    errors: list[dict[str, object]] = []
    lossy: list[dict[str, object]] = []
    try:
        compression = "gzip" if is_gzip(path) else None
        fmt = detect_format(path)
        damage = gzip_damage(path) if compression and fmt == "unknown" else None
        encoding = file_encoding(path) if damage is None else None
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if damage is not None:      # why a compressed file gave no format: one row 0 error
        error_count = 1
        errors.append({"row": 0, "reason": damage})
    for parsed in read_records(path, fmt):
        if parsed.record is not None:
            count += 1
        if parsed.error is not None:
            error_count += 1
            if len(errors) < MAX_LISTED:
                errors.append({"row": parsed.row, "reason": parsed.error})
        lossy_count += len(parsed.lossy)
        for cell in parsed.lossy[:MAX_LISTED - len(lossy)]:
            lossy.append({"row": parsed.row, "column": cell.column, "reason": cell.reason})
    summary = {"format": fmt, "encoding": encoding, "record_count": count,
               "error_count": error_count, "errors": errors, "lossy_count": lossy_count, "lossy": lossy}
    if compression:             # only compressed files say so (sidecars of plain files are unchanged)
        summary["compression"] = compression
    return summary


__all__ = ["FORMATS", "MAX_LISTED", "LossyCell", "ParsedRow", "detect_format", "read_records", "summarise_file"]
