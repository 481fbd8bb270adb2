"""Which export a file is, from its encoding and first header row or JSON element."""

from __future__ import annotations

from pathlib import Path

from evkit.evidence.formats.compressed import CompressedInputError, read_head
from evkit.evidence.formats.encoding import open_text
from evkit.evidence.formats.csvformats import classify_header, sniff_csv
from evkit.evidence.formats.jsonformats import HEAD_CHARS, classify_element, iter_json_file
from evkit.evidence.formats.jsonstream import JsonStreamError

FORMATS = ("purview-csv", "purview-csv-classic", "ual-json", "ual-csv", "mgmt-blob",
           "graph-records", "sentinel-csv", "sentinel-json", "unknown")
CSV_FORMATS = frozenset({"purview-csv", "purview-csv-classic", "ual-csv", "sentinel-csv"})
PROBE_ELEMENTS = 50
# archives are in no format: their members are what a client exported (zip, 7z, xz; gzip is
# read inflated, so this is a gzip inside a gzip)
BINARY_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"\xfd7zX")


def _classify_json(path: Path) -> str:
    """The first of the leading elements that says what it is (a damaged first row is allowed)."""
    for number, element, _ in iter_json_file(path):
        if number > PROBE_ELEMENTS:
            break
        if isinstance(element, JsonStreamError):
            continue            # a damaged element; a syntax error also ends the stream itself
        fmt = classify_element(element)
        if fmt != "unknown":
            return fmt
    return "unknown"


def detect_format(path: Path) -> str:
    """One of FORMATS; "unknown" for anything not recognised (empty, binary, other CSV/JSON).
    A gzip-compressed file is what it holds (formats.compressed); damaged, it is "unknown"."""
    path = Path(path)
    try:
        if read_head(path, 4).startswith(BINARY_MAGIC):
            return "unknown"
        with open_text(path, errors="replace") as text:
            head = text.read(HEAD_CHARS)
        stripped = head.lstrip()
        if not stripped:
            return "unknown"
        if stripped[0] in "[{":
            return _classify_json(path)
        return sniff_csv(head)[0]
    except (UnicodeError, CompressedInputError):
        return "unknown"


__all__ = ["FORMATS", "CSV_FORMATS", "classify_header", "detect_format"]
