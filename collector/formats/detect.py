"""Which export a file is, from its encoding and first header row or JSON element."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from collector.formats.encoding import open_text
from collector.formats.csvformats import read_header
from collector.formats.jsonformats import HEAD_CHARS, classify_element, iter_json_file
from collector.formats.jsonstream import JsonStreamError
from collector.formats.sentinel import MARKERS, column_name

FORMATS = ("purview-csv", "purview-csv-classic", "ual-json", "ual-csv", "mgmt-blob",
           "graph-records", "sentinel-csv", "sentinel-json", "unknown")
CSV_FORMATS = frozenset({"purview-csv", "purview-csv-classic", "ual-csv", "sentinel-csv"})
_PURVIEW = {"RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData"}
PROBE_ELEMENTS = 50
_UAL_EXTRA = {"ResultIndex", "ResultCount", "Identity", "RunspaceId"}


def classify_header(header: list[str]) -> str:
    """Format id for a CSV whose header row is `header`."""
    names = {column_name(h)[0] for h in header}
    if names & MARKERS:
        return "sentinel-csv"
    if "AuditData" not in names:
        return "unknown"
    if _PURVIEW <= names:
        return "purview-csv"
    if names & _UAL_EXTRA:
        return "ual-csv"
    if "CreationDate" in names and ("UserIds" in names or "Operations" in names):
        return "purview-csv-classic"
    return "unknown"


def _classify_json(path: Path) -> str:
    """The first of the leading elements that says what it is (a damaged first row is allowed)."""
    for number, element in iter_json_file(path):
        if isinstance(element, JsonStreamError) or number > PROBE_ELEMENTS:
            break
        fmt = classify_element(element)
        if fmt != "unknown":
            return fmt
    return "unknown"


def detect_format(path: Path) -> str:
    """One of FORMATS; "unknown" for anything not recognised (empty, binary, other CSV/JSON)."""
    path = Path(path)
    try:
        with open_text(path, errors="replace") as text:
            head = text.read(HEAD_CHARS)
    except UnicodeError:
        return "unknown"
    stripped = head.lstrip()
    if not stripped or "\x00" in head:
        return "unknown"
    if stripped[0] in "[{":
        return _classify_json(path)
    try:
        rows = csv.reader(io.StringIO(head), strict=False)
        header = read_header(rows)
    except csv.Error:
        return "unknown"
    return classify_header(header) if header else "unknown"


__all__ = ["FORMATS", "CSV_FORMATS", "classify_header", "detect_format"]
