"""`signins` against a fake sign-in log that keeps 30 days back from its own now: a unit is never
`complete` over a period the log had already dropped when the unit was read (a `--resume` days
after the run was planned, or a read longer than the planning margin), and that period is a
stated, non-complete entry (evkit/evidence/retention.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from collector_fakes import MemoryBundle, make_ctx

from evkit.collector.client import RawReply
from evkit.collector.sources import signins
from evkit.collector.windows import TimeWindow
from evkit.evidence.retention import signins_kept_from
from evkit.times import format_iso, parse_iso_utc

START, END = datetime(2023, 6, 1, tzinfo=timezone.utc), datetime(2023, 6, 3, tzinfo=timezone.utc)
PLANNED = datetime(2023, 7, 1, tzinfo=timezone.utc)   # the log then holds from 1 June, 00:00


class FakeSignIns:
    """One sign-in an hour over the window, per event type, as the log holds them at `clock()`."""

    def __init__(self, clock) -> None:
        self.clock = clock

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        flt = unquote(url.split("$filter=", 1)[1])
        ge = parse_iso_utc(re.search(r"createdDateTime ge (\S+)", flt).group(1))
        lt = parse_iso_utc(re.search(r"createdDateTime lt (\S+)", flt).group(1))
        kind = re.search(r"eq '(\w+)'", flt).group(1)
        held = max(ge, signins_kept_from(self.clock()))
        rows = [{"id": f"{kind}-{h}", "createdDateTime": format_iso(START + timedelta(hours=h))}
                for h in range(48) if held <= START + timedelta(hours=h) < lt]
        return RawReply(200, {}, json.dumps({"value": list(reversed(rows))}).encode())


def test_a_resume_days_after_planning_claims_no_period_the_log_had_dropped() -> None:
    bundle = MemoryBundle()
    bundle.state = {"sources": {"signins": {"planned_at": format_iso(PLANNED)}}, "ledger": {}}
    resumed = PLANNED + timedelta(days=1)   # the log now holds from 2 June, 00:00
    ctx, _ = make_ctx(FakeSignIns(lambda: resumed), bundle=bundle, window=[format_iso(START), format_iso(END)],
                      sources=["signins"])
    ctx.now = lambda: resumed
    signins.collect(ctx)
    entries = list(bundle.state["ledger"].values())
    gone = signins_kept_from(resumed)
    for e in entries:
        if e["status"] == "complete":
            assert parse_iso_utc(e["window"]["start"]) >= gone, e
    # every moment of the window is in some entry's window, what the log had dropped in a non-complete one
    for kind in signins.EVENT_TYPES:
        mine = [e for e in entries if e.get("event_type") == kind or e["unit"] == "beyond-retention"]
        spans = sorted(TimeWindow.from_json(e["window"]) for e in mine)
        assert spans[0].start == START and spans[-1].end == END
        assert all(a.end == b.start for a, b in zip(spans, spans[1:])), [(s.start, s.end) for s in spans]
        lost = [e for e in mine if e["status"] != "complete" and parse_iso_utc(e["window"]["end"]) == gone]
        assert lost and "30 days" in lost[0]["reason"]


def test_a_unit_read_within_the_margin_is_complete_from_the_planned_edge() -> None:
    ctx, bundle = make_ctx(FakeSignIns(lambda: PLANNED), window=[format_iso(START), format_iso(END)],
                           sources=["signins"])
    ctx.now = lambda: PLANNED
    signins.collect(ctx)
    entries = {e["unit"]: e for e in bundle.state["ledger"].values()}
    assert sorted(entries) == sorted(["beyond-retention", *signins.EVENT_TYPES])
    assert all(entries[k]["status"] == "complete" and entries[k]["window"]["start"] == "2023-06-01T01:00:00Z"
               for k in signins.EVENT_TYPES)
