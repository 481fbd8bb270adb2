"""Audit time strings to aware UTC datetimes, for derived views only.

Evidence keeps the original string; readers that need ordering or windows call
`parse_creation_time`. It accepts every shape the supported exports carry: classic
`2023-06-01T12:00:00` (zone-less means UTC), `Z` and `+hh:mm` suffixes, up to 7 fractional
digits (.NET ticks), a space instead of `T`, the Purview CSV's US style `6/1/2023 12:00:00 PM`,
the Log Analytics portal's `6/1/2023, 12:00:00.000 PM`, and PowerShell 5's `/Date(ms)/`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?$")
_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(AM|PM|am|pm)?\s*(Z|UTC)?$")
_MSJSON = re.compile(r"^\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/$")


def _micro(frac: str | None) -> int:
    return int((frac or "0")[:6].ljust(6, "0"))


def _offset(text: str | None) -> timezone:
    if not text or text in ("Z", "z", "UTC"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_creation_time(value: str) -> datetime:
    """Parse an audit time string to an aware UTC datetime; ValueError naming the value if not."""
    if not isinstance(value, str):
        raise ValueError(f"time value is not a string: {value!r}")
    text = value.strip()
    try:
        m = _ISO.match(text)
        if m:
            y, mo, d, h, mi, s, frac, zone = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), _micro(frac),
                          tzinfo=_offset(zone))
            return dt.astimezone(timezone.utc)
        m = _US.match(text)
        if m:
            mo, d, y, h, mi, s, frac, ampm, _zone = m.groups()
            hour = int(h)
            if ampm:
                if not 1 <= hour <= 12:
                    raise ValueError("hour out of range for AM/PM")
                hour = hour % 12 + (12 if ampm.upper() == "PM" else 0)
            return datetime(int(y), int(mo), int(d), hour, int(mi), int(s or 0), _micro(frac),
                            tzinfo=timezone.utc)
        m = _MSJSON.match(text)
        if m:
            return datetime.fromtimestamp(int(m.group(1)) / 1000, tz=timezone.utc)
    except ValueError as exc:
        raise ValueError(f"not a valid time: {value!r} ({exc})") from None
    raise ValueError(f"not a recognised time format: {value!r}")


def utc_or_none(value: object) -> datetime | None:
    """`parse_creation_time`, or None when the value is missing or unreadable (derived views)."""
    try:
        return parse_creation_time(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def iso_utc(value: object) -> str | None:
    """`parse_creation_time` as ISO 8601 UTC text (`2023-06-01T12:00:00Z`, microseconds kept
    when present), or None when unreadable: for derived columns (e.g. a SQL timestamp) that
    must not depend on each export's own time style."""
    try:
        dt = parse_creation_time(value)  # type: ignore[arg-type]
    except ValueError:
        return None
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{dt.microsecond:06d}Z" if dt.microsecond else "Z")
