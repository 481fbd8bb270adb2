"""`ual` against a fake Search-UnifiedAuditLog (current and legacy service): no record lost at the
cap, windows shrunk and refetched on full answers, warnings acted on, rows checked against their
window, completeness stated per window, resume after a kill at any point."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from collector_fakes import ledger, truth, T0, FakeUal, MemoryBundle, collected_ids, make_ctx, spread

from evkit.collector.client import RawReply
from evkit.collector.run import _run_source
from evkit.collector.sources import ual
from evkit.collector.sources.ualpage import Page
from evkit.collector.windows import TimeWindow
from evkit.report.rules.visibility import ledger_gaps

SERVICES = ("current", "legacy")


@pytest.fixture(autouse=True)
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ual, "PAGE_SIZE", 10)
    monkeypatch.setattr(ual, "SESSION_CAP", 50, raising=False)  # the session reader this replaced


@pytest.mark.parametrize("service", SERVICES)
def test_calls_stay_near_the_minimum(service: str) -> None:
    records = spread(600, step=timedelta(seconds=280))  # even density over two days
    fake = FakeUal(records, service=service)
    ctx, bundle = make_ctx(fake)
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)
    # the probe sizes the windows; a few are refetched; empty windows are asked twice
    assert fake.calls <= 2.0 * (600 / 10) + 4


@pytest.mark.parametrize("service", SERVICES)
def test_a_settled_window_is_saved_with_the_next_cut_not_on_its_own(service: str) -> None:
    """Two resume-state saves per call (its page committed, the next window cut), not three: a
    settled window rides on the next cut's save (a kill before it: see the resume test below)."""
    records = spread(600, step=timedelta(seconds=280))
    fake = FakeUal(records, service=service)
    bundle, saves = MemoryBundle(), []
    real = bundle.write_state
    bundle.write_state = lambda state: (saves.append(1), real(state))  # type: ignore[method-assign]
    ctx, _ = make_ctx(fake, bundle=bundle)
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)
    assert all(e["status"] == "complete" for e in ledger(bundle)) and not bundle.state["sources"]["ual"]["pending"]
    assert len(saves) <= 2 * fake.calls + 4, (len(saves), fake.calls)


def test_a_window_full_at_the_smallest_split_is_capped_not_truncated_silently() -> None:
    records = spread(80, start=T0 + timedelta(hours=3), step=timedelta(milliseconds=500))  # 80 in 40 s
    ctx, bundle = make_ctx(FakeUal(records))
    ual.collect(ctx)
    capped = [e for e in ledger(bundle) if e["status"] == "capped"]
    assert len(capped) == 1 and capped[0]["received"] == 10
    assert "smallest split" in capped[0]["reason"] and "more exist" in capped[0]["reason"]


def test_empty_first_answers_with_a_warning_are_asked_again() -> None:
    records = spread(30)
    fake = FakeUal(records, empty_first=2)
    ctx, bundle = make_ctx(fake, concurrency_one=True)
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)
    assert all(e["status"] == "complete" for e in ledger(bundle))
    again = [f for event, f in bundle.events if event == "ual.again"]
    assert any("canceled" in f["reason"] for f in again)
    assert any(event == "ual.warnings" for event, _ in bundle.events)


def test_a_warning_that_never_clears_fails_the_window_and_keeps_it_pending() -> None:
    ctx, bundle = make_ctx(FakeUal(spread(30), empty_first=10**6), concurrency_one=True)
    ual.collect(ctx)
    failed = [e for e in ledger(bundle) if e["status"] == "failed"]
    assert failed and all("gave up after" in e["reason"] and e["warnings"] for e in failed)
    pending = {w["start"] for w in bundle.state["sources"]["ual"]["pending"]}
    assert {e["window"]["start"] for e in failed} <= pending


def test_a_row_dated_outside_its_window_is_counted_and_kept() -> None:
    records = spread(5)
    ctx, bundle = make_ctx(FakeUal(records, foreign=1), concurrency_one=True)
    ual.collect(ctx)
    flagged = [e for e in ledger(bundle) if e["outside_window"]]
    assert len(flagged) == 1 and "outside the window in an earlier answer, asked again" in flagged[0]["reason"]
    assert flagged[0]["status"] == "complete" and flagged[0]["calls"] >= 2  # a later answer was the window's
    assert "foreign-row" in collected_ids(bundle)  # stored as received, not dropped
    assert any(event == "ual.outside_window" for event, _ in bundle.events)


def test_repeated_ids_are_counted_and_do_not_decide_completeness() -> None:
    records = spread(30)
    ctx, bundle = make_ctx(FakeUal(records, repeat=True))
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)
    entries = [e for e in ledger(bundle) if e["received"]]
    assert entries and all(e["duplicates"] == 1 and e["unique_ids"] == e["received"] - 1 for e in entries)


def test_result_count_is_never_read_as_a_total() -> None:
    window = TimeWindow(T0, T0 + timedelta(hours=1))
    rows = [(i + 1, 10, f"id-{i}", "2023-06-01T00:00:0" + str(i)) for i in range(3)]
    assert ual.judge(Page(rows), window, 0, page_size=10).kind == "complete"
    assert ual.judge(Page([(1, 1, "a", "2023-06-01T00:00:00")], more=True), window, 0, 10).kind == "full"
    assert ual.judge(Page([(1, 1, "a", "2023-06-01T00:00:00")], ["There are more results available"]),
                     window, 0, 10).kind == "full"
    assert ual.judge(Page([]), window, 0, 10).kind == "again"
    assert ual.judge(Page([]), window, 1, 10).kind == "complete"
    assert ual.judge(Page([(-1, 0, "a", "2023-06-01T00:00:00")]), window, 0, 10).kind == "again"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("die_after", [1, 3, 8, 20, 30])  # a whole run takes about 38 calls
def test_resume_after_a_kill_keeps_every_record_and_refetches_no_finished_window(service: str,
                                                                                  die_after: int) -> None:
    records = spread(300, step=timedelta(seconds=500))
    fake = FakeUal(records, service=service)
    bundle = MemoryBundle()
    ctx, _ = make_ctx(fake, bundle=bundle)

    class Killed(BaseException):
        pass
    real = ctx.client._transport
    budget = {"n": die_after}

    def dying(*args):
        budget["n"] -= 1
        if budget["n"] < 0:
            raise Killed()
        return real(*args)
    ctx.client._transport = dying
    with pytest.raises(Killed):
        ual.collect(ctx)
    finished_before = set(bundle.state["ledger"])
    files_before = dict(bundle.files)
    ctx2, _ = make_ctx(fake, bundle=bundle)
    ual.collect(ctx2)
    entries = ledger(bundle)
    assert collected_ids(bundle) == truth(records)
    assert all(e["status"] == "complete" for e in entries)
    assert finished_before <= set(bundle.state["ledger"])
    assert all(bundle.files[k] == v for k, v in files_before.items())  # nothing rewritten


def test_a_result_count_above_the_rows_says_more_exist_unless_it_echoes_the_result_size() -> None:
    window = TimeWindow(T0, T0 + timedelta(hours=1))
    row = (1, 60_000, "a", "2023-06-01T00:00:00")
    assert ual.judge(Page([row]), window, 0, page_size=10).kind == "full"  # legacy: a true total
    echoed = (1, 10, "a", "2023-06-01T00:00:00")
    assert ual.judge(Page([echoed]), window, 0, page_size=10).kind == "complete"  # current: the ResultSize


def test_searches_wait_long_and_send_no_session_and_no_actor_filter() -> None:
    fake = FakeUal(spread(30))
    ctx, _ = make_ctx(fake, users=["alice@contoso.onmicrosoft.com"])
    ual.collect(ctx)
    assert min(fake.timeouts) >= 600  # searches favour completeness over speed (emulator-fidelity UAL-5)
    assert all("SessionId" not in p and "UserIds" not in p for p in fake.params)


@pytest.mark.parametrize("service", SERVICES)
def test_windows_not_yet_settled_are_pending_never_complete(service: str) -> None:
    # collected 10 h after the window's end: records of the last 14 h may not be in the audit log yet
    # (Microsoft: up to 24 hours), so an answer without them proves nothing about those hours
    records = spread(300, step=timedelta(seconds=500))
    ctx, bundle = make_ctx(FakeUal(records, service=service))
    ctx.now = lambda: datetime(2023, 6, 3, 10, tzinfo=timezone.utc)
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)  # read all the same
    settled = "2023-06-02T10:00:00Z"
    entries = ledger(bundle)
    pending = [e for e in entries if e["status"] == "pending"]
    assert pending and all(e["window"]["start"] >= settled for e in pending)
    assert all("may not be in the audit log yet" in e["reason"] and e["established"] for e in pending)
    assert all(e["status"] == "complete" for e in entries if e["window"]["end"] <= settled)
    assert any(e["window"]["end"] == settled for e in entries)  # no window straddles the moment


def test_a_pending_window_still_sizes_the_next_ones() -> None:
    # the density probe falls in the unsettled hours; its (whole) answer must size the windows as
    # a settled probe does, or the next window is cut at a full day and read again in pieces
    def calls(now: datetime | None) -> int:
        fake = FakeUal(spread(300, step=timedelta(seconds=500)))
        ctx, _ = make_ctx(fake, concurrency_one=True)
        if now is not None:
            ctx.now = lambda: now
        ual.collect(ctx)
        return fake.calls
    assert calls(datetime(2023, 6, 3, 1, tzinfo=timezone.utc)) <= calls(None) + 1


@pytest.mark.parametrize("service", SERVICES)
def test_a_run_left_by_the_older_collector_resumes_from_its_rest_and_pending_windows(service: str) -> None:
    records = spread(300, step=timedelta(seconds=500))  # within the window 2023-06-01 .. 06-03
    fake = FakeUal(records, service=service)
    bundle = MemoryBundle()
    bundle.state = {"sources": {"ual": {  # what the probe-and-rest collector kept: a cut window and the rest
        "pending": [{"start": "2023-06-02T23:00:00Z", "end": "2023-06-03T00:00:00Z"}],
        "rest": {"start": "2023-06-01T00:00:00Z", "end": "2023-06-02T23:00:00Z"}, "size": 3600.0}}}
    ctx, _ = make_ctx(fake, bundle=bundle)
    ual.collect(ctx)
    assert collected_ids(bundle) == truth(records)
    assert all(e["status"] == "complete" for e in ledger(bundle))
    assert bundle.state["sources"]["ual"]["pending"] == [] and bundle.state["sources"]["ual"]["lanes"] == []


def test_an_earlier_entry_of_a_window_read_again_never_stands_beside_the_new_ones() -> None:
    # an earlier run left a `complete` entry for a window still pending (read again by a resume,
    # here in parts, since the window is longer than a window may be): when the new reading fails,
    # the old entry must not stay to hide that failure
    whole = {"start": "2023-06-01T00:00:00Z", "end": "2023-06-03T00:00:00Z"}
    unit = TimeWindow.from_json(whole).unit
    bundle = MemoryBundle()
    bundle.state = {"sources": {"ual": {"lanes": [], "pending": [whole]}},
                    "ledger": {f"ual/{unit}": {"source": "ual", "unit": unit, "window": whole, "status": "complete",
                                               "reason": "", "received": 3}}}
    ctx, _ = make_ctx(FakeUal(spread(30), empty_first=10**6), bundle=bundle, concurrency_one=True)
    ual.collect(ctx)
    entries = ledger(bundle)
    assert unit not in {e["unit"] for e in entries}
    assert entries and all(e["status"] == "failed" for e in entries)
    said = [s for e in entries for s in e.get("supersedes", [])]
    assert said == [{"unit": unit, "status": "complete", "reason": ""}]
    assert any(event == "ual.superseded" for event, _ in bundle.events)


def test_an_answer_with_rows_outside_its_window_is_asked_again_then_fails_the_window() -> None:
    window = TimeWindow(T0, T0 + timedelta(hours=1))
    rows = [(1, 10, "a", "2023-06-01T00:10:00"), (2, 10, "b", "2023-05-31T23:59:59"), (3, 10, "c", "2023-06-01T01:00:00")]
    first = ual.judge(Page(rows), window, 0, page_size=10)
    assert first.kind == "again" and first.outside == 2
    assert first.outside_span == ("2023-05-31T23:59:59", "2023-06-01T01:00:00")
    again = ual.judge(Page(rows), window, 0, page_size=10, foreign_before=1)
    assert again.kind == "foreign" and "2 of 3 rows dated outside the window" in again.reason
    assert "2023-05-31T23:59:59Z .. 2023-06-01T01:00:00Z" in again.reason
    # not this window's answer: its fullness says nothing of the window either
    full = [(i + 1, 10, f"id-{i}", "2023-06-01T00:10:00") for i in range(9)] + [(10, 10, "x", "2023-05-01T00:00:00")]
    assert ual.judge(Page(full), window, 0, page_size=10).kind == "again"


def test_a_refusal_after_an_earlier_failed_window_was_read_in_part_leaves_no_silent_hole() -> None:
    """A resumed run reads part of a window an earlier run failed (so that window's `failed` entry is
    superseded), then the service refuses the role (the source stops with a `_source` entry): the
    rest of that window, never read, must still be a visibility gap in the report."""
    whole = {"start": "2023-06-01T00:00:00Z", "end": "2023-06-03T00:00:00Z"}
    unit = TimeWindow.from_json(whole).unit
    bundle = MemoryBundle()
    bundle.state = {"sources": {"ual": {"lanes": [], "pending": [whole]}},
                    "ledger": {f"ual/{unit}": {"source": "ual", "unit": unit, "window": whole, "status": "failed",
                                               "reason": "HTTP 503", "received": 0}}}
    fake = FakeUal(spread(30))
    calls = {"n": 0}

    def refusing(method, url, headers, data, timeout):
        calls["n"] += 1
        if calls["n"] > 2:  # the first window (a day at most) is read, then the role is gone
            return RawReply(403, {}, b'{"error":{"code":"Forbidden","message":"role missing"}}')
        return fake(method, url, headers, data, timeout)
    ctx, _ = make_ctx(refusing, bundle=bundle, concurrency_one=True)
    _run_source(ctx, "ual")
    entries = ledger(bundle)
    assert any(e["unit"] == "_source" and e["status"] == "failed" for e in entries)
    assert any(e["status"] == "complete" for e in entries) and unit not in {e["unit"] for e in entries}
    read = [TimeWindow.from_json(e["window"]) for e in entries if e["status"] == "complete"]
    rows = [{"bundle": "b", "source": e["source"], "unit": e["unit"], "status": e["status"], "reason": e["reason"],
             "window_start": (e.get("window") or {}).get("start"), "window_end": (e.get("window") or {}).get("end"),
             "bundle_start": whole["start"], "bundle_end": whole["end"]} for e in entries]
    gaps = ledger_gaps(rows, (T0, T0 + timedelta(days=2)))
    unread = TimeWindow(T0, min(w.start for w in read))
    assert unread.seconds > 0 and [(g.start, g.end) for g in gaps] == [(unread.start, unread.end)]
    assert "role" in gaps[0].reason or "Audit Logs" in gaps[0].reason
