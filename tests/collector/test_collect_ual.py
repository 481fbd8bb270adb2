"""`ual` window logic against a fake Search-UnifiedAuditLog: splitting, capping, restarts, resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from collector_fakes import T0, FakeUal, MemoryBundle, make_ctx, spread

from evkit.collector.sources import ual


@pytest.fixture(autouse=True)
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ual, "PAGE_SIZE", 10)
    monkeypatch.setattr(ual, "SESSION_CAP", 50)


def ledger(bundle: MemoryBundle) -> list[dict]:
    return sorted(bundle.state["ledger"].values(), key=lambda e: e["unit"])


def test_windows_over_the_cap_are_split_until_every_record_is_read() -> None:
    records = spread(400, step=timedelta(seconds=100))  # 400 records over ~11 hours, cap 50
    ctx, bundle = make_ctx(FakeUal(records, cap=50))
    ual.collect(ctx)
    entries = ledger(bundle)
    assert all(e["status"] == "complete" for e in entries)
    assert sum(e["unique_ids"] for e in entries) == 400
    assert all(e["expected"] <= 50 for e in entries)
    windows = sorted((e["window"]["start"], e["window"]["end"]) for e in entries)
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert end == start  # the leaves tile the collection window without gaps
    assert windows[0][0] == "2023-06-01T00:00:00Z" and windows[-1][1] == "2023-06-03T00:00:00Z"
    assert any(event == "ual.split" for event, _ in bundle.events)


def test_a_window_over_the_cap_at_the_smallest_split_is_capped() -> None:
    records = spread(80, start=T0 + timedelta(hours=3), step=timedelta(milliseconds=500))  # 80 in 40 s
    ctx, bundle = make_ctx(FakeUal(records, cap=50))
    ual.collect(ctx)
    capped = [e for e in ledger(bundle) if e["status"] == "capped"]
    assert len(capped) == 1 and capped[0]["expected"] == 80 and capped[0]["received"] == 50
    assert "smallest split" in capped[0]["reason"]


def test_result_index_minus_one_restarts_the_session() -> None:
    fake = FakeUal(spread(30), cap=50, restart_sessions=2)
    ctx, bundle = make_ctx(fake)
    ual.collect(ctx)
    entries = ledger(bundle)
    assert sum(e["unique_ids"] for e in entries) == 30
    assert all(e["status"] == "complete" for e in entries)
    assert sum(event == "ual.session_restart" for event, _ in bundle.events) == 2


def test_a_session_that_never_finishes_fails_the_window_after_bounded_restarts() -> None:
    ctx, bundle = make_ctx(FakeUal(spread(30), cap=50, restart_sessions=1000))
    ual.collect(ctx)
    failed = [e for e in ledger(bundle) if e["status"] == "failed"]
    assert len(failed) == 1 and "gave up after" in failed[0]["reason"]
    assert failed[0]["window"]["start"] in {w["start"] for w in bundle.state["sources"]["ual"]["pending"]}


def test_resume_skips_finished_windows_and_keeps_every_page() -> None:
    fake = FakeUal(spread(300, step=timedelta(seconds=500)), cap=50)
    bundle = MemoryBundle()
    ctx, _ = make_ctx(fake, bundle=bundle)

    class Boom(Exception):
        pass
    real = ctx.client._transport
    budget = {"n": 7}

    def dying(*args):  # the process "dies" after 7 requests
        budget["n"] -= 1
        if budget["n"] < 0:
            raise Boom()
        return real(*args)
    ctx.client._transport = dying
    with pytest.raises(Boom):
        ual.collect(ctx)
    finished_before = set(bundle.state["ledger"])
    files_before = dict(bundle.files)
    ctx2, _ = make_ctx(fake, bundle=bundle)
    calls_before = fake.calls
    ual.collect(ctx2)
    entries = ledger(bundle)
    assert sum(e["unique_ids"] for e in entries) == 300
    assert all(e["status"] == "complete" for e in entries)
    assert finished_before <= set(bundle.state["ledger"])
    assert all(bundle.files[k] == v for k, v in files_before.items())  # nothing rewritten
    assert fake.calls > calls_before


def test_a_served_but_lost_first_page_is_not_taken_for_an_empty_window() -> None:
    from evkit.collector.client import TransportError
    fake = FakeUal(spread(8), cap=50)  # one page: a retry after the loss gets an empty page
    lost = {"n": 0}

    def lossy(*args):  # the service answers (the session moves on) but the body never arrives
        reply = fake(*args)
        if lost["n"] == 0 and b'"ResultIndex":1,' in reply.body:
            lost["n"] += 1
            raise TransportError("connection reset")
        return reply
    ctx, bundle = make_ctx(lossy, concurrency_one=True)
    ual.collect(ctx)
    assert lost["n"] == 1
    entries = ledger(bundle)
    assert sum(e["unique_ids"] for e in entries) == 8 and all(e["status"] == "complete" for e in entries)
