"""CSV that a spreadsheet opens as text: the one writer of every CSV evkit produces.

Spreadsheet programs evaluate a cell that starts with `=`, `+`, `-` or `@` as a formula (and
some treat a leading tab or carriage return the same way), so an evidence string such as a
message id `=HYPERLINK("http://x","click")` or `+cmd|' /C calc'!A0` would run when the analyst
opens items.csv. Such a cell is written with a single quote in front (`'=HYPERLINK(...)`):
spreadsheets show it as text, and the original is the cell without its first character.
Cells that do not start with one of those characters are written unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet will show it, never evaluate it."""
    return QUOTE + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 CSV (LF line ends) with every cell neutralised."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(str(c)) for c in row] for row in rows)
    return buf.getvalue().encode("utf-8")
