"""CSV that a spreadsheet opens as text: the one writer of every CSV evkit produces.

Spreadsheet programs evaluate a cell that starts with `=`, `+`, `-` or `@` as a formula (and
some treat a leading tab or carriage return the same way), so an evidence string such as a
message id `=HYPERLINK("http://x","click")` or `+cmd|' /C calc'!A0` would run when the analyst
opens items.csv. Such a cell is written with a single quote in front (`'=HYPERLINK(...)`):
spreadsheets show it as text, and the original is the cell without its first character.
Cells that do not start with one of those characters are written unchanged.

A cell holding a comma, a double quote, a line feed or a carriage return is quoted (RFC 4180),
so no evidence string can end a row early: Python's csv writer leaves a bare carriage return
unquoted when rows end with a line feed, which spreadsheets read as a new row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NEEDS_QUOTES = (",", '"', "\n", "\r")


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet will show it, never evaluate it."""
    return QUOTE + cell if cell.startswith(FORMULA_STARTS) else cell


def quote(cell: str) -> str:
    """RFC 4180 quoting: only when needed, doubling any double quote."""
    if any(c in cell for c in _NEEDS_QUOTES):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_line(cells: Sequence[object]) -> str:
    return ",".join(quote(neutralise(str(c))) for c in cells) + "\n"


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV (LF line ends) with every cell neutralised and quoted where needed."""
    return "".join([csv_line(header), *(csv_line(row) for row in rows)]).encode("utf-8")


def neutralise_sql(expr: str) -> str:
    """SQL (DuckDB) giving what `neutralise` gives for the text `expr`: the same rule for CSV
    files the engine writes itself (`evkit export`), where a row per record is too many for Python."""
    starts = ", ".join(f"'{c}'" if c.isprintable() else f"chr({ord(c)})" for c in FORMULA_STARTS)
    return f"CASE WHEN left({expr}, 1) IN ({starts}) THEN '{QUOTE * 2}' || {expr} ELSE {expr} END"
