"""Search-UnifiedAuditLog over InvokeCommand (docs/microsoft-365.md §3.1, §6.5): ResultSize
default 100 / max 5,000, SessionId + ReturnLargeSet paging of an unsorted set capped at 50,000
with ResultIndex / ResultCount, AuditData as a compact JSON string."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from emulator_fakes import USERS, expected

UTC = dt.timezone.utc
S, E = "2026-06-25T00:00:00Z", "2026-06-25T03:00:00Z"
START, END = dt.datetime(2026, 6, 25, tzinfo=UTC), dt.datetime(2026, 6, 25, 3, tzinfo=UTC)


def _rows(r):
    assert r.status_code == 200, r.content[:400]
    return r.json()["value"]


def _search(api, **params):
    return api.invoke("Search-UnifiedAuditLog", **params)


def test_default_result_size_is_100_newest_first(api):
    rows = _rows(_search(api, StartDate=S, EndDate=E))
    want = expected(START, END)
    assert len(rows) == 100
    assert [r["Identity"] for r in rows] == [w["Id"] for w in reversed(want[-100:])]
    assert {r["ResultCount"] for r in rows} == {len(want)}
    assert [r["ResultIndex"] for r in rows] == list(range(1, 101))


def test_row_shape_and_audit_data_string(api):
    row = _rows(_search(api, StartDate=S, EndDate=E, ResultSize=1))[0]
    assert {"RecordType", "CreationDate", "UserIds", "Operations", "AuditData", "ResultIndex", "ResultCount",
            "Identity"} <= set(row)
    assert isinstance(row["AuditData"], str) and ", " not in row["AuditData"] and '": ' not in row["AuditData"]
    data = json.loads(row["AuditData"])
    assert data["Id"] == row["Identity"] and data["Operation"] == row["Operations"]
    assert data["UserId"] == row["UserIds"] and row["CreationDate"].startswith(data["CreationTime"])
    assert not data["CreationTime"].endswith("Z")  # zone-less, as in the classic schema


@pytest.mark.parametrize("params,fragment", [
    ({"StartDate": S, "EndDate": E, "ResultSize": 5001}, "5000"),
    ({"StartDate": S, "EndDate": E, "ResultSize": 0}, "ResultSize"),
    ({"EndDate": E}, "StartDate"),
    ({"StartDate": "yesterday-ish", "EndDate": E}, "StartDate"),
    ({"StartDate": S, "EndDate": E, "RecordType": "NotAType"}, "RecordType"),
    ({"StartDate": S, "EndDate": E, "SessionId": "x", "SessionCommand": "ReturnEverything"}, "SessionCommand"),
])
def test_parameter_errors_are_400_with_internal_exception(api, params, fragment):
    r = _search(api, **params)
    assert r.status_code == 400
    assert fragment in r.json()["error"]["innererror"]["internalexception"]["message"]


def _session(api, session_id, size, **params):
    rows, pages = [], 0
    while True:
        page = _rows(_search(api, SessionId=session_id, SessionCommand="ReturnLargeSet", ResultSize=size, **params))
        if not page:
            return rows, pages
        rows += page
        pages += 1


def test_return_large_set_pages_unsorted_with_contiguous_result_index(api):
    rows, pages = _session(api, "contract-1", 200, StartDate=S, EndDate=E)
    want = expected(START, END)
    assert pages == -(-len(want) // 200)
    assert [r["ResultIndex"] for r in rows] == list(range(1, len(want) + 1))
    assert {r["ResultCount"] for r in rows} == {len(want)}
    assert sorted(r["Identity"] for r in rows) == sorted(w["Id"] for w in want)
    times = [r["CreationDate"] for r in rows]
    assert times != sorted(times)  # unsorted within the session (3.1)


def test_return_large_set_stops_at_50000(api):
    """A 6-day window holds 51,840 records: ResultCount says so, but only 50,000 rows come back."""
    params = {"StartDate": "2026-06-21T00:00:00Z", "EndDate": "2026-06-27T00:00:00Z"}
    rows, pages = _session(api, "contract-cap", 5000, **params)
    assert pages == 10 and len(rows) == 50_000 == len({r["Identity"] for r in rows})
    assert {r["ResultCount"] for r in rows} == {51_840}


def test_filters_operations_users_record_type(api):
    rows = _rows(_search(api, StartDate=S, EndDate=E, Operations="MailItemsAccessed,Send", ResultSize=5000))
    assert {r["Operations"] for r in rows} == {"MailItemsAccessed", "Send"}
    assert len(rows) == len(expected(START, END, lambda r: r["Operation"] in ("MailItemsAccessed", "Send")))
    rows = _rows(_search(api, StartDate=S, EndDate=E, UserIds=[USERS[0].upper()], ResultSize=5000))
    assert {r["UserIds"] for r in rows} == {USERS[0]}
    by_name = _rows(_search(api, StartDate=S, EndDate=E, RecordType="ExchangeItemAggregated", ResultSize=5000))
    by_num = _rows(_search(api, StartDate=S, EndDate=E, RecordType=50, ResultSize=5000))
    assert by_name == [{**r, "RunspaceId": by_name[0]["RunspaceId"]} for r in by_num]
    assert {r["RecordType"] for r in by_name} == {"ExchangeItemAggregated"}


def test_us_dates_and_empty_windows(api):
    rows = _rows(_search(api, StartDate="6/25/2026 12:00 AM", EndDate="6/25/2026 3:00 AM", ResultSize=1))
    assert rows[0]["ResultCount"] == len(expected(START, END))
    assert _rows(_search(api, StartDate="6/25/2026", EndDate="6/25/2026")) == []  # same date, no time
    assert _rows(_search(api, StartDate="2031-01-01", EndDate="2031-01-02")) == []


def test_return_next_preview_page_is_sorted(api):
    rows, _ = [], 0
    while True:
        page = _rows(_search(api, StartDate=S, EndDate=E, SessionId="preview-1",
                             SessionCommand="ReturnNextPreviewPage", ResultSize=500))
        if not page:
            break
        rows += page
    assert [r["Identity"] for r in rows] == [w["Id"] for w in expected(START, END)]


def test_same_session_id_with_new_parameters_starts_a_new_session(api):
    first = _rows(_search(api, StartDate=S, EndDate=E, SessionId="reuse", SessionCommand="ReturnLargeSet",
                          ResultSize=10))
    other = _rows(_search(api, StartDate=S, EndDate=E, SessionId="reuse", SessionCommand="ReturnLargeSet",
                          ResultSize=10, Operations="Send"))
    assert first[0]["ResultIndex"] == other[0]["ResultIndex"] == 1
    assert {r["Operations"] for r in other} == {"Send"}


def test_mixing_session_commands_caps_at_10000(api):
    """3.1: using ReturnLargeSet and ReturnNextPreviewPage on one SessionId caps output at 10,000."""
    params = {"StartDate": "2026-06-22T00:00:00Z", "EndDate": "2026-06-24T00:00:00Z", "SessionId": "mixed"}
    rows = _rows(_search(api, SessionCommand="ReturnLargeSet", ResultSize=5000, **params))
    command = "ReturnNextPreviewPage"
    while True:
        page = _rows(_search(api, SessionCommand=command, ResultSize=5000, **params))
        if not page:
            break
        rows += page
        command = "ReturnLargeSet" if command == "ReturnNextPreviewPage" else "ReturnNextPreviewPage"
    assert len(rows) == 10_000 == len({r["Identity"] for r in rows})
    assert {r["ResultCount"] for r in rows} == {17_280}
