"""Reading a Search-UnifiedAuditLog answer for accounting, without decoding every AuditData string:
per row (ResultIndex, ResultCount, record id, CreationDate), plus the answer's
`@adminapi.warnings` and its `moreRecordsAvailable` flag (docs/emulator-fidelity.md UAL-2, UAL-3).

A 5,000-row answer is about 10 MB, nearly all of it escaped AuditData text; json.loads spends
~20 us a row on it, which is the whole CPU budget of a collection. The fast path finds the fields
by their exact `"Name":` byte sequences (inside a JSON string a quote is always escaped, so these
sequences cannot come from record text), checks that each row's fields appear before the next
row's, that each row has one CreationDate and it lies between the row before's ResultIndex and
its own (one laid out after its row's index would be taken for the next row's), and that the
envelope is complete. Any other layout falls back to json.loads.
The answer itself is stored byte for byte either way; this is only the collector's tally.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from evkit.collector.sources.base import ual_row_id
from evkit.times import format_iso, parse_iso_utc

Row = tuple[int, int, "str | None", "str | None"]  # ResultIndex, ResultCount, id, CreationDate (19 chars)
_INDEX, _COUNT, _IDENTITY = b'"ResultIndex":', b'"ResultCount":', b'"Identity":'
_CREATED = b'"CreationDate":"'
_WARNINGS = b'"@adminapi.warnings":'
_MORE_TRUE, _MORE_FALSE = b'"moreRecordsAvailable":true', b'"moreRecordsAvailable":false'
_MORE_KEY = b"moreRecordsAvailable"
_METADATA = b'"AuditSearchRequestMetadata":'  # unescaped: never inside AuditData text
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_UTC_TAIL = re.compile(r"(?:\.\d*)?(?:[Zz]|[+-]00:?00)?$")   # after the seconds: UTC or no zone
_ZONE = re.compile(r"(?:\.\d*)?([+-]\d{2}:?\d{2})$")


class UnreadablePage(ValueError):
    """The body is not a complete InvokeCommand envelope (cut short, HTML, garbage)."""


@dataclass(slots=True)
class Page:
    """One answer's tally: its rows, its warnings, and whether the service said more remain."""

    rows: list[Row]
    warnings: list[str] = field(default_factory=list)
    more: bool | None = None  # AuditSearchRequestMetadata.moreRecordsAvailable; None when absent


def scan_page(body: bytes) -> Page:
    """The tally of an answer; raises UnreadablePage (a ValueError: the client retries) when cut or garbled."""
    stripped = body.strip()
    if not stripped.startswith(b"{") or not stripped.endswith(b"}") or b'"value":' not in stripped:
        raise UnreadablePage("not a complete InvokeCommand envelope")
    rows = _fast(stripped)
    if rows is None:
        return _slow(stripped)
    warnings = _fast_warnings(stripped)
    if warnings is None:
        return _slow(stripped)
    more = True if _MORE_TRUE in stripped else False if _MORE_FALSE in stripped else None
    if more is None and _METADATA in stripped:
        return _slow(stripped)  # the flag in another form (text, a nested JSON string): read it properly
    return Page(rows, warnings, more)


def second(text: Any) -> str | None:
    """A CreationDate cut to whole seconds (`YYYY-MM-DDTHH:MM:SS`) in UTC, or None. The service
    sends UTC (with `Z`, or no zone); a date with another offset is converted, not cut, so that a
    row is never judged against its window in the wrong zone."""
    if not isinstance(text, str) or not _SECOND.match(text):
        return None
    if _UTC_TAIL.match(text, 19):
        return text[:19]
    zone = _ZONE.match(text, 19)
    if zone is None:
        return None
    try:
        return format_iso(parse_iso_utc(text[:19] + zone.group(1)))[:19]
    except ValueError:
        return None


_NUMBER = re.compile(rb"-?[0-9]+")


def _number(body: bytes, start: int) -> int | None:
    match = _NUMBER.match(body, start)
    return int(match.group()) if match else None


def _fast_warnings(body: bytes) -> list[str] | None:
    at = body.find(_WARNINGS)
    if at < 0:
        return []
    try:
        value, _ = json.JSONDecoder().raw_decode(body[at + len(_WARNINGS):at + len(_WARNINGS) + 65536]
                                                  .decode("utf-8", "replace"))
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    return [str(w) for w in value]


# The layout both services send, matched in one step from a row's ResultIndex; any other layout
# goes field by field (_fields).
_ROW_TAIL = re.compile(rb'"ResultIndex":(-?[0-9]+),(?:"ResultCount@data\.type":"System\.Int32",)?'
                       rb'"ResultCount":(-?[0-9]+),"Identity":"([^"\\]*)"')


def _fast(body: bytes) -> list[Row] | None:
    if not body.endswith(b"]}"):
        return None
    rows: list[Row] = []
    find, rfind, tail = body.find, body.rfind, _ROW_TAIL.match
    seconds: dict[bytes, str | None] = {}  # a window's thousands of rows share a few hundred seconds
    skip = len(_CREATED)
    previous = 0
    i = find(_INDEX)
    while i >= 0:
        following = find(_INDEX, i + 1)
        match = tail(body, i)
        if match is not None:
            index, count, identity = int(match.group(1)), int(match.group(2)), match.group(3)
        else:
            fields = _fields(body, i, following if following >= 0 else len(body))
            if fields is None:
                return None
            index, count, identity = fields
        # the row's CreationDate: the one between the row before's ResultIndex and its own, and only
        # one (a date laid out after its row's ResultIndex would otherwise be taken for the next row's)
        d = rfind(_CREATED, previous, i)
        if d < 0 or find(_CREATED, previous, d) >= 0 or not identity:
            return None  # a row without a date, a date after its index, an empty Identity: json.loads
        q = find(b'"', d + skip, d + skip + 48)
        if q < 0:
            return None
        stamp = body[d + skip:q]
        created = seconds.get(stamp, "")
        if created == "":
            created = seconds[stamp] = second(stamp.decode("ascii", "replace"))
        rows.append((index, count, identity.decode("utf-8"), created))
        previous = i
        i = following
    if not rows and b'"value":[]' not in body:
        return None
    if rows and find(_CREATED, previous) >= 0:
        return None  # the last row's date comes after its ResultIndex
    return rows


def _fields(body: bytes, i: int, limit: int) -> tuple[int, int, bytes] | None:
    """ResultIndex, ResultCount and Identity of the row whose ResultIndex is at `i` (the next
    row's at `limit`), each the first after `i`; None when one is missing or not plain."""
    index = _number(body, i + len(_INDEX))
    c = body.find(_COUNT, i, limit)
    k = body.find(_IDENTITY, i, limit)
    if index is None or c < 0 or k < 0 or body[k + len(_IDENTITY):k + len(_IDENTITY) + 1] != b'"':
        return None
    count = _number(body, c + len(_COUNT))
    value_start = k + len(_IDENTITY) + 1
    value_end = body.find(b'"', value_start, limit)
    if count is None or value_end < 0 or b"\\" in body[value_start:value_end]:
        return None
    return index, count, body[value_start:value_end]


def more_flag(meta: Any) -> bool | None:
    """`moreRecordsAvailable` of a row's AuditSearchRequestMetadata: an object, or that object as
    JSON text; the flag a boolean or its text. Present but unreadable counts as True (more may
    exist: the window is cut and read again rather than believed complete)."""
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return True if _MORE_KEY.decode() in meta else None
    if not isinstance(meta, dict) or "moreRecordsAvailable" not in meta:
        return None
    flag = meta["moreRecordsAvailable"]
    if isinstance(flag, bool):
        return flag
    return str(flag).strip().lower() != "false"


def _slow(body: bytes) -> Page:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadablePage(f"not valid JSON ({exc})") from None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise UnreadablePage("no `value` array")
    rows: list[Row] = []
    more: bool | None = None
    for row in value:
        if not isinstance(row, dict):
            raise UnreadablePage("a row is not an object")
        try:
            rows.append((int(row.get("ResultIndex")), int(row.get("ResultCount")), ual_row_id(row),
                         second(row.get("CreationDate"))))
        except (TypeError, ValueError):
            raise UnreadablePage("a row lacks a numeric ResultIndex/ResultCount") from None
        flag = more_flag(row.get("AuditSearchRequestMetadata"))
        if flag is not None:
            more = bool(more) or flag
    raw_warnings = data.get("@adminapi.warnings") or []
    warnings = [str(w) for w in raw_warnings] if isinstance(raw_warnings, list) else [str(raw_warnings)]
    return Page(rows, warnings, more)
