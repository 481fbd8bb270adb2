"""The Search-UnifiedAuditLog index path (emulator.ualindex) answers exactly as the json path
does on real scenarios: same keys per line, same rows (AuditData bytes included), same session
order, same counts; the contract tests pin the json path over FakeScenario."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evkit.emulator import mgmt, ual, ualindex
from evkit.emulator import records as rec
from evkit.emulator.testing import RunningEmulator, running_emulator
from evkit.emulator.wire import Request, dumps

SCENARIOS = ("bec-basic", "misconfigured", "throttled")


@pytest.fixture(scope="module", params=SCENARIOS)
def emu(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp(request.param), scenario=request.param, seed=3,
                          service="legacy") as running:
        yield running


def _all_lines(emu: RunningEmulator) -> list[str]:
    sc = emu.state.scenario
    return list(sc.record_lines(sc.start, sc.end))


def test_index_keys_agree_with_json(emu: RunningEmulator) -> None:
    index = ualindex.LineIndex(emu.state.scenario.store)
    seen = 0
    for h in index.hours(0, 2**40):
        hour = index.hour(h)
        texts = index.read(hour, list(range(len(hour.keys))))
        for i, line in enumerate(texts):
            r = json.loads(line)
            op, user, rt, op_l, user_l = index.key_values[hour.keys[i]]
            assert (op, user, rt) == (r.get("Operation"), r.get("UserId"), r.get("RecordType"))
            assert (op_l, user_l) == (str(r.get("Operation", "")).lower(), str(r.get("UserId", "")).lower())
            assert h + hour.secs[i] == int(ual.parse_date(r["CreationTime"]).timestamp())
            seen += 1
    assert seen == len(_all_lines(emu)) > 0


def test_encoded_line_equals_encoded_row_of_parsed_record(emu: RunningEmulator) -> None:
    index = ualindex.LineIndex(emu.state.scenario.store)
    rows = ual.LineRows(index, "6b1f0c3e-58a4-4a57-a0a8-0b0c2a8e4f11")
    for h in index.hours(0, 2**40):
        hour = index.hour(h)
        for i, line in enumerate(index.read(hour, list(range(len(hour.keys))))):
            want = dumps(ual.row(json.loads(line), 7, 12345, rows.runspace))
            assert rows.encode(line, hour.keys[i], 7, 12345) == want
    assert rows.encode(b'{"CreationTime":"2026-06-01T00:00:00","Id":"x","Operation":"Send","UserId":"\\u00e9"}',
                       0, 1, 1) == dumps(ual.row({"CreationTime": "2026-06-01T00:00:00", "Id": "x",
                                                  "Operation": "Send", "UserId": "\u00e9"}, 1, 1, rows.runspace))


def _search(emu: RunningEmulator, json_path: bool, monkeypatch: pytest.MonkeyPatch, **bound: Any) -> list[bytes]:
    with monkeypatch.context() as m:
        if json_path:
            m.setattr(ualindex, "line_index", lambda state: None)
        m.setattr(ual.uuid, "uuid4", lambda: uuid.UUID(int=7))  # one RunspaceId for both paths
        req = Request("POST", "exchange", "/", "", {}, b"", emu.url, claims={})
        answer = ual.search(emu.state, req, dict(bound))
    assert isinstance(answer, ual.Answer)
    rows = answer.rows
    return rows


def _queries(emu: RunningEmulator) -> list[dict[str, Any]]:
    sc = emu.state.scenario
    lines = _all_lines(emu)
    users = sorted({json.loads(x).get("UserId", "") for x in lines[:: max(1, len(lines) // 50)]})
    mid = json.loads(lines[len(lines) // 2])["CreationTime"]
    start, end = sc.start.isoformat(), sc.end.isoformat()
    return [
        {"StartDate": start, "EndDate": end, "ResultSize": 5000},
        {"StartDate": start, "EndDate": mid + "Z", "ResultSize": 37},
        {"StartDate": "6/1/2020", "EndDate": mid + ".5Z", "ResultSize": 5000,
         "Operations": ["mailitemsaccessed", "Send", "UserLoggedIn"]},
        {"StartDate": start, "EndDate": end, "ResultSize": 5000, "UserIds": ",".join(users[:3]).upper()},
        {"StartDate": start, "EndDate": end, "ResultSize": 5000, "RecordType": "ExchangeItem"},
        {"StartDate": mid, "EndDate": end, "ResultSize": 5000, "RecordType": "15", "Operations": "UserLoggedIn"},
    ]


def test_one_shot_same_rows(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for q in _queries(emu):
        fast = _search(emu, False, monkeypatch, **q)
        assert fast == _search(emu, True, monkeypatch, **q), q


@pytest.mark.parametrize("command", ["ReturnLargeSet", "ReturnNextPreviewPage"])
def test_session_pages_same_rows(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    for q in _queries(emu)[:4]:
        got = []
        for json_path in (False, True):
            emu.state.ual_sessions.clear()
            pages = []
            while True:
                page = _search(emu, json_path, monkeypatch, SessionId="s1", SessionCommand=command,
                               **dict(q, ResultSize=777))
                if not page:
                    break
                pages.append(page)
            got.append(pages)
        assert got[0] == got[1] and sum(map(len, got[0])) > 0, q


def test_mgmt_blobs_same_bytes(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    state, sc = emu.state, emu.state.scenario
    req = Request("GET", "manage", "/", "", {}, b"", emu.url, claims={})
    hours = [sc.start + dt.timedelta(hours=k) for k in range(int((sc.end - sc.start).total_seconds() // 3600))]
    ids = [mgmt._blob_id(ct, hour, part) for hour in hours[-60:] for ct in rec.CONTENT_TYPES for part in (0, 1)]
    ids.append(mgmt._blob_id("Audit.Exchange", hours[-5] + dt.timedelta(minutes=30), 0))  # off the hour grid
    got = []
    for json_path in (False, True):
        state.mgmt_index = None
        with monkeypatch.context() as m:
            if json_path:
                m.setattr(ualindex, "line_index", lambda state: None)
            got.append([(r.status, r.body) for r in (mgmt._blob(state, req, i) for i in ids)])
    state.mgmt_index = None
    assert got[0] == got[1]
    assert sum(status == 200 and len(body) > 2 for status, body in got[0]) > 10


def test_no_store_means_json_path(tmp_path: Path) -> None:
    class State:
        scenario = object()
    assert ualindex.line_index(State()) is None
