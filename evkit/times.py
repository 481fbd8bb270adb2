"""The one parser and formatter of evidence and case-file times.

Evidence keeps the original string; readers that need ordering or windows call
`parse_creation_time`. It accepts every shape the supported exports carry: classic
`2023-06-01T12:00:00` (zone-less means UTC), `Z` and `+hh:mm` suffixes, up to 7 fractional
digits (.NET ticks), a space instead of `T`, the Purview CSV's US style `6/1/2023 12:00:00 PM`,
the Log Analytics portal's `6/1/2023, 12:00:00.000 PM`, and PowerShell 5's `/Date(ms)/`.

Times evkit writes itself (case files, collection configs, sidecars, manifests, report
outputs) are ISO 8601 in UTC with a trailing `Z`: `parse_iso` and `parse_iso_utc` read them,
the `format_*` functions write them and the forms people read in the PDF. A naive datetime is
always taken as UTC, never as the machine's local time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

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
    return format_iso(dt)


# ---- times evkit writes: ISO 8601 UTC --------------------------------------------------------

def parse_iso(value: str) -> datetime:
    """ISO 8601 text as a datetime, a trailing `Z` (or `z`) meaning UTC; naive when the text
    names no zone (callers decide whether that is allowed). ValueError when not ISO 8601."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def parse_iso_utc(value: str) -> datetime:
    """`parse_iso` as an aware UTC datetime, a zone-less time being UTC."""
    return as_utc(parse_iso(value))


def parse_iso_or_none(value: object) -> datetime | None:
    """`parse_iso_utc`, or None when the value is missing, not text or not ISO 8601 (display)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso_utc(value)
    except ValueError:
        return None


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date header (`Date`, `Retry-After`) as an aware UTC datetime, None when absent
    or unreadable."""
    if not value:
        return None
    try:
        return as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_utc(moment: datetime) -> str:
    """The house time format: UTC, seconds precision, trailing Z (`2023-06-01T12:00:00Z`)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_utc_precise(moment: datetime) -> str:
    """UTC with microseconds always written: `2023-06-01T12:00:00.000000Z`."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_utc_zoneless(moment: datetime) -> str:
    """UTC, seconds precision, no zone suffix (the Management Activity API's query times)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


def format_iso(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, whole seconds unless the value has microseconds
    (`2023-06-01T12:00:00Z`, `2023-06-01T12:00:00.250000Z`)."""
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def format_compact(moment: datetime) -> str:
    """UTC without separators, for file and folder names: `20230601T120000Z`."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%SZ")


# ---- times people read (PDF, findings) --------------------------------------------------------

def format_date(moment: datetime) -> str:
    """The UTC date: `2023-06-01`."""
    return as_utc(moment).strftime("%Y-%m-%d")


def format_minutes(moment: datetime) -> str:
    """UTC to the minute, for tables and running text: `2023-06-01 12:00`."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M")


def format_tick(moment: datetime) -> str:
    """A time-axis label: the date at midnight, else month, day and time (`06-01 12:00`)."""
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%d" if moment.hour == 0 else "%m-%d %H:%M")


def format_plain(moment: datetime) -> str:
    """A time an executive reads without decoding ISO 8601: `8 June 2023, 09:05 UTC`."""
    utc = as_utc(moment)
    return f"{utc.day} {utc.strftime('%B %Y, %H:%M')} UTC"
