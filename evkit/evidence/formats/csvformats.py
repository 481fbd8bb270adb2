"""CSV exports: Purview audit search (current and classic), Search-UnifiedAuditLog | Export-Csv,
and Sentinel OfficeActivity from the Log Analytics portal. Streamed row by row."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Iterator, TextIO

from evkit.evidence.formats.depth import TOO_DEEP, loads
from evkit.evidence.formats.encoding import open_text
from evkit.evidence.formats.mangled import SUSPECT, mangled_reason
from evkit.evidence.formats.rows import LossyCell, ParsedRow, check_record
from evkit.evidence.formats.sentinel import MARKERS, RowMapper, column_name

# One physical line, and one cell, may hold this many characters (AuditData cells of large
# records exceed csv's 128 KiB default; no audit record comes near this). A longer line is
# skipped unread and counted as a rejected row, so one hostile line cannot take the memory.
MAX_LINE = 16 << 20
csv.field_size_limit(MAX_LINE)
HEAD_CHARS = 1 << 16
DELIMITERS = (",", "\t", ";")
EXCEL_CELL_LIMIT = 32767         # Excel cuts longer cells when it re-saves a CSV
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UAL_EXTRA = {"ResultIndex", "ResultCount", "Identity", "RunspaceId"}


def _suspect(text: str) -> bool:
    return any(m in text for m in SUSPECT)


def read_header(rows: Iterator[list[str]]) -> list[str] | None:
    """The header row, skipping PowerShell 5's `#TYPE ...` line; None for an empty file."""
    for row in rows:
        if not row:
            continue
        if len(row) == 1 and row[0].startswith("#TYPE"):
            continue
        return row
    return None


def classify_header(header: list[str]) -> str:
    """Format id for a CSV whose header row is `header` ("unknown" when it is none of ours)."""
    if any(_CONTROL.search(h) for h in header):
        return "unknown"          # binary data (an archive, say) that happens to hold a header
    names = {column_name(h)[0] for h in header}
    if names & MARKERS:
        return "sentinel-csv"
    if "AuditData" not in names:
        return "unknown"
    if names & _UAL_EXTRA:
        return "ual-csv"
    if "RecordId" in names or {"Operation", "UserId"} <= names:
        return "purview-csv"
    if names & {"UserIds", "Operations", "CreationDate"}:
        return "purview-csv-classic"
    return "unknown"


def sniff_csv(head: str) -> tuple[str, str]:
    """(format id, delimiter) from the start of a file; Excel re-saves use tabs or semicolons."""
    for delimiter in DELIMITERS:
        try:
            header = read_header(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter, strict=False))
        except csv.Error:
            continue
        if header:
            fmt = classify_header(header)
            if fmt != "unknown":
                return fmt, delimiter
    return "unknown", ","


class _Lines:
    """The physical lines of a text stream for csv.reader, none longer than MAX_LINE: the rest
    of a longer line is read past in chunks, never held, and the line counted in `overlong`."""

    def __init__(self, text: TextIO) -> None:
        self.text = text
        self.overlong = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        if len(line) <= MAX_LINE:
            return line
        self.overlong += 1
        while not line.endswith(("\n", "\r")):
            line = self.text.readline(1 << 20)
            if not line:
                break
        return "\n"


def _data_rows(path: Path) -> Iterator[tuple[list[str], int, list[str] | str]]:
    """(header, row number, cells or a CSV syntax error) for every non-blank data row."""
    with open_text(path, errors="replace") as text:
        _, delimiter = sniff_csv(text.read(HEAD_CHARS))
    with open_text(path, errors="replace") as text:
        lines = _Lines(text)
        rows = csv.reader(lines, delimiter=delimiter, strict=False)
        header = read_header(rows)
        if header is None:
            return
        number = 0
        while True:
            overlong = lines.overlong
            try:
                cells = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield header, number, f"CSV syntax error: {exc}"
                continue
            if lines.overlong != overlong:
                number += 1
                yield header, number, f"a line longer than {MAX_LINE >> 20} Mi characters; not read"
                continue
            if not cells or cells == [""]:
                continue
            number += 1
            yield header, number, cells


def _lossy_cells(header: list[str], cells: list[str], skip: str | None = None) -> list[LossyCell]:
    out: list[LossyCell] = []
    for column, cell in zip(header, cells):
        if column != skip and cell and _suspect(cell):
            reason = mangled_reason(cell)
            if reason:
                out.append(LossyCell(column, reason))
    return out


def read_auditdata_csv(path: Path) -> Iterator[ParsedRow]:
    """Exports with an `AuditData` column holding the classic record as JSON text."""
    index: int | None = None
    for header, number, cells in _data_rows(path):
        if isinstance(cells, str):
            yield ParsedRow(number, None, cells, [])
            continue
        if index is None:
            names = [column_name(h)[0] for h in header]
            if "AuditData" not in names:
                yield ParsedRow(0, None, "the header has no AuditData column", [])
                return
            index = names.index("AuditData")
        if len(cells) != len(header):
            yield ParsedRow(number, None,
                            f"row has {len(cells)} cells, the header has {len(header)}", [])
            continue
        suspect = _suspect("\x1f".join(cells))        # one scan of the row in the common case
        lossy = _lossy_cells(header, cells, skip=header[index]) if suspect else []
        raw = cells[index]
        if not raw.strip():
            yield ParsedRow(number, None, "AuditData is empty", lossy)
            continue
        try:
            record = loads(raw)
        except json.JSONDecodeError as exc:
            if exc.msg == TOO_DEEP:
                yield ParsedRow(number, None, f"AuditData is {TOO_DEEP}", lossy)
                continue
            reason = mangled_reason(raw)
            if reason:
                lossy.append(LossyCell(header[index], reason))
            hint = (f" (the cell is exactly {EXCEL_CELL_LIMIT} characters: Excel cut it when the file "
                    "was re-saved; ask for the original download)") if len(raw) == EXCEL_CELL_LIMIT else ""
            yield ParsedRow(number, None,
                            f"AuditData is not valid JSON: {exc.msg} at character {exc.pos}{hint}", lossy)
            continue
        yield _checked(number, record, lossy, header[index], scan=suspect and _suspect(raw))


def _checked(number: int, record: object, lossy: list[LossyCell], column: str, *, scan: bool) -> ParsedRow:
    parsed = check_record(number, record, [], scan_values=scan)
    inner = [LossyCell(f"{column}.{c.column}", c.reason) for c in parsed.lossy]
    return parsed._replace(lossy=lossy + inner)


def read_sentinel_csv(path: Path) -> Iterator[ParsedRow]:
    """OfficeActivity rows exported from the Log Analytics portal."""
    names: list[str] = []
    mapper: RowMapper | None = None
    zone_note: LossyCell | None = None
    for header, number, cells in _data_rows(path):
        if not names:
            for h in header:
                name, suffix = column_name(h)
                names.append(name)
                if suffix and suffix.upper() != "UTC" and zone_note is None:
                    zone_note = LossyCell(h, f"times are in {suffix}, not UTC; they are read as written")
        if isinstance(cells, str):
            yield ParsedRow(number, None, cells, [])
            continue
        if len(cells) != len(header):
            yield ParsedRow(number, None,
                            f"row has {len(cells)} cells, the header has {len(header)}", [])
            continue
        lossy = _lossy_cells(header, cells) if _suspect("\x1f".join(cells)) else []
        if zone_note is not None:                   # said once, on the first readable row
            lossy.insert(0, zone_note)
            zone_note = None
        if mapper is None:
            mapper = RowMapper(names)
        record = mapper.convert(cells)
        yield check_record(number, record, lossy, scan_values=False, id_label="OfficeId",
                           time_label="TimeGenerated")
