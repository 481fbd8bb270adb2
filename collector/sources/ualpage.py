"""Reading a Search-UnifiedAuditLog page for accounting: (ResultIndex, ResultCount, record id)
per row, without decoding every AuditData string.

A 5,000-row page is about 10 MB, nearly all of it escaped AuditData text; json.loads spends
~20 us a row on it, which is the whole CPU budget of a collection. The fast path finds the three
fields by their exact `"Name":` byte sequences (inside a JSON string a quote is always escaped,
so these sequences cannot come from record text), checks that each row's fields appear before
the next row's, and that the envelope is complete. Any other layout falls back to json.loads.
The page itself is stored byte for byte either way; this is only the collector's tally.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evkit.collector.sources.base import ual_row_id

Row = tuple[int, int, "str | None"]
_INDEX, _COUNT, _IDENTITY = b'"ResultIndex":', b'"ResultCount":', b'"Identity":'


class UnreadablePage(ValueError):
    """The body is not a complete InvokeCommand envelope (cut short, HTML, garbage)."""


def scan_page(body: bytes) -> list[Row]:
    """Rows of a page; raises UnreadablePage (a ValueError: the client retries) when cut or garbled."""
    stripped = body.strip()
    if not stripped.startswith(b"{") or not stripped.endswith(b"}") or b'"value":' not in stripped:
        raise UnreadablePage("not a complete InvokeCommand envelope")
    fast = _fast(stripped)
    return fast if fast is not None else _slow(stripped)


_NUMBER = re.compile(rb"-?[0-9]+")


def _number(body: bytes, start: int) -> int | None:
    match = _NUMBER.match(body, start)
    return int(match.group()) if match else None


def _fast(body: bytes) -> list[Row] | None:
    if not body.endswith(b"]}"):
        return None
    rows: list[Row] = []
    find = body.find
    i = find(_INDEX)
    while i >= 0:
        following = find(_INDEX, i + 1)
        limit = following if following >= 0 else len(body)
        index = _number(body, i + len(_INDEX))
        c = find(_COUNT, i, limit)
        k = find(_IDENTITY, i, limit)
        if index is None or c < 0 or k < 0 or body[k + len(_IDENTITY):k + len(_IDENTITY) + 1] != b'"':
            return None
        count = _number(body, c + len(_COUNT))
        value_start = k + len(_IDENTITY) + 1
        value_end = find(b'"', value_start, limit)
        if count is None or value_end < 0 or b"\\" in body[value_start:value_end]:
            return None
        rows.append((index, count, body[value_start:value_end].decode("utf-8") or None))
        i = following
    if not rows and b'"value":[]' not in body:
        return None
    return rows


def _slow(body: bytes) -> list[Row]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePage(f"not valid JSON ({exc})") from None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise UnreadablePage("no `value` array")
    rows: list[Row] = []
    for row in value:
        if not isinstance(row, dict):
            raise UnreadablePage("a row is not an object")
        try:
            rows.append((int(row.get("ResultIndex")), int(row.get("ResultCount")), ual_row_id(row)))
        except (TypeError, ValueError):
            raise UnreadablePage("a row lacks a numeric ResultIndex/ResultCount") from None
    return rows
