"""evkit.times: the one parser and formatter of evidence and case-file times. The formats are
the ones evkit wrote before they were gathered here (case files, sidecars, manifests, PDFs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from evkit.times import (format_compact, format_date, format_iso, format_minutes, format_plain, format_tick,
                         format_utc, format_utc_precise, format_utc_zoneless, iso_utc, parse_http_date,
                         parse_creation_time, parse_iso, parse_iso_or_none, parse_iso_utc)

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("raw", "expected"), [
    ("2023-06-01T12:34:56Z", datetime(2023, 6, 1, 12, 34, 56, tzinfo=UTC)),
    ("2023-06-01T12:34:56.123+02:00", datetime(2023, 6, 1, 10, 34, 56, 123000, tzinfo=UTC)),
    ("2023-06-01T12:34:56", datetime(2023, 6, 1, 12, 34, 56, tzinfo=UTC)),
    ("not a time", None), ("", None), (None, None), (17, None),
])
def test_parse_iso_or_none(raw, expected):
    assert parse_iso_or_none(raw) == expected


def test_parse_iso_keeps_a_missing_zone_visible_and_reads_z():
    assert parse_iso("2023-05-15T00:00:00").tzinfo is None
    assert parse_iso(" 2023-05-15T00:00:00z ") == datetime(2023, 5, 15, tzinfo=UTC)
    assert parse_iso_utc("2023-05-15T02:00:00+02:00") == datetime(2023, 5, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_iso("15/05/2023")


def test_parse_http_date():
    assert parse_http_date("Thu, 01 Jun 2023 12:00:10 GMT") == datetime(2023, 6, 1, 12, 0, 10, tzinfo=UTC)
    assert parse_http_date("soon") is None and parse_http_date(None) is None and parse_http_date("") is None


def test_formats_are_the_house_formats():
    moment = datetime(2023, 6, 1, 14, 5, 9, 250000, tzinfo=PLUS_TWO)
    assert format_utc(moment) == "2023-06-01T12:05:09Z"
    assert format_utc_precise(moment) == "2023-06-01T12:05:09.250000Z"
    assert format_utc_zoneless(moment) == "2023-06-01T12:05:09"
    assert format_iso(moment) == "2023-06-01T12:05:09.250000Z"
    assert format_iso(moment.replace(microsecond=0)) == "2023-06-01T12:05:09Z"
    assert format_compact(moment) == "20230601T120509Z"
    assert format_date(moment) == "2023-06-01"
    assert format_minutes(moment) == "2023-06-01 12:05"
    assert format_plain(moment) == "1 June 2023, 12:05 UTC"
    assert format_tick(moment) == "06-01 12:05"
    assert format_tick(datetime(2023, 6, 1)) == "2023-06-01"


def test_a_naive_time_is_utc_never_local_time():
    naive = datetime(2023, 6, 1, 12, 0)
    assert format_utc(naive) == "2023-06-01T12:00:00Z"
    assert format_minutes(naive) == "2023-06-01 12:00"


def test_iso_utc_and_format_iso_agree():
    assert iso_utc("6/1/2023 12:00:00 PM") == format_iso(datetime(2023, 6, 1, 12, tzinfo=UTC)) == "2023-06-01T12:00:00Z"
    assert iso_utc("2023-06-01T12:00:00.1234567") == "2023-06-01T12:00:00.123456Z"


@pytest.mark.parametrize("text,expected", [
    ("2023-06-01T12:00:00", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("2023-06-01T12:00:00Z", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("2023-06-01T12:00:00.0000000Z", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("2023-06-01T12:00:00.1234567", datetime(2023, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2023-06-01T14:30:00+02:30", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("2023-06-01T07:00:00-05:00", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("2023-06-01 12:00:00", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("6/1/2023 12:00:00 PM", datetime(2023, 6, 1, 12, tzinfo=timezone.utc)),
    ("6/1/2023 12:30:00 AM", datetime(2023, 6, 1, 0, 30, tzinfo=timezone.utc)),
    ("12/31/2023 11:59:59 PM", datetime(2023, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),
    ("6/1/2023, 12:00:00.250 PM", datetime(2023, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)),
    ("6/1/2023 13:00:00", datetime(2023, 6, 1, 13, tzinfo=timezone.utc)),
])
def test_parse_creation_time(text, expected):
    got = parse_creation_time(text)
    assert got == expected and got.tzinfo == timezone.utc


@pytest.mark.parametrize("text", ["", "yesterday", "2023-02-30T00:00:00", "13/1/2023 1:00:00 PM",
                                  "6/1/2023 13:00:00 PM", "2023-06-01T25:00:00", None, 1685620800])
def test_parse_creation_time_rejects(text):
    with pytest.raises(ValueError):
        parse_creation_time(text)


@pytest.mark.parametrize("text,expected", [
    ("3/12/2024, 2:02:11.000 PM", "2024-03-12T14:02:11Z"),
    ("2024-03-12T16:02:11.5+02:00", "2024-03-12T14:02:11.500000Z"),
    ("/Date(1695182703000)/", "2023-09-20T04:05:03Z"),
    ("nonsense", None), (None, None),
])
def test_iso_utc_for_derived_columns(text, expected):
    assert iso_utc(text) == expected
