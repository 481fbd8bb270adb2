"""The fast Search-UnifiedAuditLog page tally agrees with json.loads and refuses cut bodies."""

from __future__ import annotations

import json

import pytest

from evkit.collector.sources.ual import judge
from evkit.collector.sources.ualpage import Page, UnreadablePage, _slow, scan_page
from evkit.collector.windows import TimeWindow
from evkit.times import parse_iso_utc

WHEN = "2023-06-01T00:00:01"


def page(rows: list[dict], separators=(",", ":"), warnings: list[str] | None = None) -> bytes:
    return json.dumps({"@odata.context": "x", "@adminapi.warnings": warnings or [], "value": rows},
                      separators=separators).encode()


def row(i: int, total: int, rid: str, audit: dict | None = None, more: bool | None = None) -> dict:
    audit = audit or {"Id": rid, "Operation": "Send", "Note": 'tricky "ResultIndex":99,"Identity":"x",'
                                                             '"CreationDate":"1999-01-01T00:00:00",'
                                                             '"moreRecordsAvailable":true'}
    out = {"RecordType": "ExchangeItem", "CreationDate": WHEN + ".0000000Z", "AuditData": json.dumps(audit),
           "ResultIndex@data.type": "System.Int32", "ResultIndex": i, "ResultCount": total, "Identity": rid}
    if more is not None:
        out["AuditSearchRequestMetadata"] = {"moreRecordsAvailable": more}
    return out


def test_fast_path_matches_json_and_ignores_lookalikes_inside_auditdata() -> None:
    body = page([row(i, 3, f"id-{i}") for i in (1, 2, 3)])
    want = Page([(1, 3, "id-1", WHEN), (2, 3, "id-2", WHEN), (3, 3, "id-3", WHEN)], [], None)
    assert scan_page(body) == _slow(body) == want
    assert scan_page(page([])) == Page([], [], None)


def test_rows_in_the_services_layout_and_in_other_orders_agree_with_json() -> None:
    """The one-step match of the services' layout (ResultCount typed, as the emulator sends it) and
    the field-by-field reading of any other order give json.loads' rows, mixed in one page."""
    typed = dict(row(1, 3, "id-1"), **{"ResultCount@data.type": "System.Int32"})
    typed = {k: typed[k] for k in ("RecordType", "CreationDate", "AuditData", "ResultIndex@data.type",
                                   "ResultIndex", "ResultCount@data.type", "ResultCount", "Identity")}
    reordered = {k: row(2, 3, "id-2")[k] for k in ("CreationDate", "AuditData", "ResultIndex", "Identity",
                                                    "ResultCount")}
    escaped = row(3, 3, 'id-"3"')
    body = page([typed, reordered, row(3, 3, "id-3")])
    assert b'"ResultCount@data.type":"System.Int32","ResultCount":3,"Identity":"id-1"' in body
    assert scan_page(body) == _slow(body)
    assert [r[2] for r in scan_page(body).rows] == ["id-1", "id-2", "id-3"]
    assert scan_page(page([typed, escaped])) == _slow(page([typed, escaped]))


def test_warnings_and_more_records_flag_are_read_on_both_paths() -> None:
    body = page([row(1, 5000, "a", more=True)], warnings=["There are more results available"])
    spaced = page([row(1, 5000, "a", more=True)], separators=(", ", ": "), warnings=["x ] y"])
    assert scan_page(body) == _slow(body) == Page([(1, 5000, "a", WHEN)], ["There are more results available"], True)
    assert scan_page(spaced) == Page([(1, 5000, "a", WHEN)], ["x ] y"], True)
    assert scan_page(page([row(1, 1, "a", more=False)])).more is False


def test_other_layouts_fall_back_to_json() -> None:
    spaced = page([row(1, 1, "a")], separators=(", ", ": "))
    assert scan_page(spaced).rows == [(1, 1, "a", WHEN)]
    no_identity = page([{"ResultIndex": 1, "ResultCount": 1, "AuditData": json.dumps({"Id": "from-audit"})}])
    assert scan_page(no_identity).rows == [(1, 1, "from-audit", None)]


@pytest.mark.parametrize("body", [
    b"<html>proxy error</html>",
    b'{"value":[{"ResultIndex":1,"ResultCount":2,"Identity":"a"},{"ResultIndex":2,"Resu',
    b"",
])
def test_cut_or_foreign_bodies_are_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePage):
        scan_page(body)


def test_cut_exactly_between_rows_still_refused() -> None:
    body = page([row(i, 3, f"id-{i}") for i in (1, 2, 3)])
    cut = body[: body.index(b',{"RecordType"', 10)]  # ends after row 1's closing brace
    with pytest.raises(UnreadablePage):
        scan_page(cut)


@pytest.mark.parametrize("meta", [json.dumps({"moreRecordsAvailable": True}), {"moreRecordsAvailable": "True"},
                                  {"moreRecordsAvailable": "yes?"}, '{"moreRecordsAvailable":tr'])
def test_the_more_records_flag_in_another_form_is_still_read(meta) -> None:
    # compact rows (the fast path's layout) whose metadata is JSON text or whose flag is text: the
    # flag must not read as absent, or a truncated answer of fewer rows than the cap looks complete
    r = row(1, 5000, "a")
    r["AuditSearchRequestMetadata"] = meta
    assert scan_page(page([r])).more is True
    assert scan_page(page([dict(r, AuditSearchRequestMetadata={"moreRecordsAvailable": "False"})])).more is False


def test_a_creation_date_after_the_rows_index_is_never_taken_for_the_next_rows() -> None:
    """CreationDate after ResultIndex (a layout the services do not send today): the backward search
    would give each row the date of the row before and never read the last row's, so a row dated
    outside its window (the oldest, last) would go unseen; the tally falls back to json.loads."""
    def late(i: int, when: str) -> dict:
        r = row(i, 3, f"id-{i}")
        r["CreationDate"] = when + ".0000000Z"
        return {k: r[k] for k in ("RecordType", "AuditData", "ResultIndex", "ResultCount", "Identity",
                                  "CreationDate")}
    dates = ["2023-06-01T00:00:03", "2023-06-01T00:00:02", "2023-05-31T23:59:59"]
    body = page([late(i, d) for i, d in zip((1, 2, 3), dates)])
    assert [r[3] for r in scan_page(body).rows] == dates == [r[3] for r in _slow(body).rows]
    window = TimeWindow(parse_iso_utc("2023-06-01T00:00:00Z"), parse_iso_utc("2023-06-01T01:00:00Z"))
    assert judge(scan_page(body), window, 0).kind == "again"  # the oldest row is not this window's
    # mixed: one row laid out the usual way between two with the date after the index
    usual = row(2, 3, "id-2")
    mixed = page([late(1, dates[0]), usual, late(3, dates[2])])
    assert scan_page(mixed) == _slow(mixed)
    # a row without a CreationDate after one whose date follows its index
    bare = {k: v for k, v in row(2, 3, "id-2").items() if k != "CreationDate"}
    assert scan_page(page([late(1, dates[0]), bare])) == _slow(page([late(1, dates[0]), bare]))


def test_an_empty_identity_is_read_as_json_reads_it() -> None:
    blank = dict(row(1, 1, "x"), Identity="", RecordId="rec-1")
    assert scan_page(page([blank])) == _slow(page([blank]))


@pytest.mark.parametrize("stamp, want", [
    ("2023-06-01T05:30:00+05:00", "2023-06-01T00:30:00"),         # an explicit offset is converted
    ("2023-06-01T05:30:00.1234567+05:30", "2023-06-01T00:00:00"),
    ("2023-05-31T22:00:00-02:00", "2023-06-01T00:00:00"),
    ("2023-06-01T00:30:00.0000000Z", "2023-06-01T00:30:00"),      # as the service sends it
    ("2023-06-01T00:30:00", "2023-06-01T00:30:00"),               # no zone: UTC
    ("2023-06-01T00:30:00+00:00", "2023-06-01T00:30:00"),
    ("2023-06-01T00:30:00+99:00", None),                          # not a time: undated, counted
])
def test_a_creation_date_with_an_offset_is_read_in_utc_on_both_paths(stamp: str, want: str | None) -> None:
    """A row dated 05:30+05:00 is 00:30 UTC: read as 05:30 it would be judged inside a 05:00-06:00
    window it does not belong to (and outside the one it does)."""
    r = dict(row(1, 1, "a"), CreationDate=stamp)
    body = page([r, row(2, 2, "b")])
    assert scan_page(body) == _slow(body)
    assert scan_page(body).rows[0][3] == want
