"""The test that shows the session reader `ual` had before lost records against today's service
(ResultCount equal to the ResultSize given; docs/emulator-fidelity.md UAL-1),
and that the current reader does not. It imports nothing but the source's entry point, so it runs
against either version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from collector_fakes import ledger, truth, FakeUal, collected_ids, make_ctx, spread

from evkit.collector.sources import ual

SERVICES = ("current", "legacy")


@pytest.fixture(autouse=True)
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ual, "PAGE_SIZE", 10)
    monkeypatch.setattr(ual, "SESSION_CAP", 50, raising=False)  # the session reader this replaced


@pytest.mark.parametrize("service", SERVICES)
def test_every_record_is_collected_when_windows_hold_many_times_the_cap(service: str) -> None:
    # 400 records in 11 hours, at most 10 per answer: most windows must be shrunk and fetched again.
    # Under `current` the session reader this replaced took ResultCount (= the ResultSize given)
    # as the total and marked windows complete after 10 records.
    records = spread(400, step=timedelta(seconds=100))
    ctx, bundle = make_ctx(FakeUal(records, service=service))
    ual.collect(ctx)
    entries = ledger(bundle)
    assert collected_ids(bundle) == truth(records)
    assert all(e["status"] == "complete" for e in entries)
    assert sum(e["unique_ids"] for e in entries) == 400
    windows = sorted((e["window"]["start"], e["window"]["end"]) for e in entries)
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert end == start  # the windows tile the collection window without gaps
    assert windows[0][0] == "2023-06-01T00:00:00Z" and windows[-1][1] == "2023-06-03T00:00:00Z"
    assert any(event == "ual.split" for event, _ in bundle.events)
    assert all(e["established"] for e in entries)


