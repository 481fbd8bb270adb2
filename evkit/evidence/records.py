"""Records of one inventory item read in Python, never raising: imported exports, and raw pages
the report's engine could not read in bulk.

A file that cannot be read at all gives one row 0 naming why, so nothing is silently dropped:
the caller turns every row without a record into a named problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from evkit.evidence.errors import EvidenceError
from evkit.evidence.formats import FORMATS, ParsedRow, read_records
from evkit.evidence.inventory import ImportFile, Page
from evkit.evidence.raw import read_page_body, read_raw_rows


def import_rows(item: ImportFile) -> Iterator[ParsedRow]:
    """Records of one imported file, in file order (its format as the import sidecar names it)."""
    fmt = item.format if item.format in FORMATS else None
    try:
        yield from read_records(item.body, fmt)
    except (EvidenceError, ValueError, UnicodeError) as exc:
        yield ParsedRow(0, None, f"import unreadable: {exc}"[:300], [])


def page_rows(page: Page) -> Iterator[ParsedRow]:
    """Records of one raw API page by its sidecar's kind (row = element number from 1)."""
    try:
        sidecar = json.loads(page.sidecar.read_bytes())
        body = read_page_body(sidecar, page.body)
        yield from read_raw_rows(sidecar, body)
    except (ValueError, OSError, EOFError, KeyError, TypeError) as exc:
        yield ParsedRow(0, None, f"page unreadable: {exc}"[:300], [])
