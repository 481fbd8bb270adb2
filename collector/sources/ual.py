"""`ual`: Search-UnifiedAuditLog through InvokeCommand, without losing a record at the cap.

How a window is proven complete (docs/internals.md, "The `ual` source"; the service's behaviour
is in docs/emulator-fidelity.md UAL-1..UAL-7):

* Every call is a non-session call with ResultSize 5,000 (the most one call returns). No
  SessionId is sent, so no session can be restarted, looped or cut short behind our back.
* ResultCount is never read as a total: today's service reports the ResultSize given. An answer
  is *full* when it holds 5,000 rows, says `moreRecordsAvailable`, or warns that more results
  exist; a full window is cut into smaller windows (sized from the rows' own times) and each is
  fetched again. A window still full at `tuning.ual_min_split_seconds` is `capped`, never
  silently truncated.
* An answer with fewer rows, no warning and no "more" flag is the whole window: `complete`,
  and the ledger entry says so (`established`). An empty answer is asked again once before it
  is believed (the service sometimes answers a first call empty). An answer carrying any other
  warning is asked again, up to MAX_WARNED_TRIES; then the window is `failed` with the warning.
* Each row's CreationDate is checked against the window; a row outside it is counted
  (`outside_window`) and named in the entry's reason, never silently kept or dropped. Repeated
  ids are counted (`duplicates`); completeness never rests on a count of ids.

Records become searchable some time after their events (Microsoft: typically 60-90 minutes,
up to 24 hours; docs/microsoft-365.md §3.5): a window ending less than `tuning.ual_settle_hours`
before the collection started is read like any other but is `pending`, never `complete`, and no
window straddles that moment (`settled_before` in the resume state, fixed at the first run).

Window sizes: the most recent hour is read first (the density probe); its density sizes the
next windows so each is expected to hold about TARGET_FILL of the cap; after every window the
size follows the density seen, growing at most GROWTH times per window after sparse ones.
The uncut remainder (`rest`), the windows cut but not finished (`pending`) and the size are
in the resume state, so a killed run resumes without refetching a finished window.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import CAPPED, COMPLETE, FAILED, PENDING, LedgerEntry
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.settle import settled_before, unsettled_reason
from evkit.collector.sources.ualpage import Page, scan_page
from evkit.collector.windows import TimeWindow
from evkit.evidence.kinds import UAL_PAGE
from evkit.times import format_iso, parse_iso_utc

logger = logging.getLogger(__name__)

SOURCE = "ual"
PAGE_SIZE = 5000          # the most one Search-UnifiedAuditLog call returns
TARGET_FILL = 0.8         # windows are sized to hold about this share of PAGE_SIZE
GROWTH = 4.0              # the most a window size grows after one window
PROBE_SECONDS = 3600      # the density probe: the most recent hour
MAX_WARNED_TRIES = 4      # answers with a warning (or empty) asked again at most this often
SEARCH_TIMEOUT = 600.0    # seconds a search may take before the call is given up and asked again:
                          # searches favour completeness over speed and can take minutes;
                          # tuning.timeout_seconds above this raises it
TRUNCATION_WORDS = ("more results available", "more results than")


@dataclass
class WindowResult:
    """Either a finished ledger entry or the smaller windows to read instead."""

    window: TimeWindow
    entry: LedgerEntry | None = None
    split: list[TimeWindow] | None = None
    rows: int = 0


@dataclass
class Verdict:
    """What one answer proves about its window (pure: see judge)."""

    kind: str                       # complete | full | again
    reason: str = ""
    outside: int = 0
    undated: int = 0
    duplicates: int = 0
    ids: set[str] = field(default_factory=set)


def search_parameters(ctx: SourceContext, window: TimeWindow) -> dict[str, Any]:
    """A non-session call. No UserIds: that filter matches the actor, not the mailbox, and would
    drop delegate, admin and application access (docs/internals.md, "The `ual` source")."""
    return {"StartDate": format_iso(window.start), "EndDate": format_iso(window.end), "ResultSize": PAGE_SIZE,
            "Operations": list(ctx.config.operations)}


def judge(page: Page, window: TimeWindow, empty_before: int, page_size: int | None = None) -> Verdict:
    """Classify one answer for `window`. `empty_before`: empty answers already seen for it;
    `page_size`: the ResultSize the call asked for (PAGE_SIZE)."""
    page_size = page_size or PAGE_SIZE
    first, last = format_iso(window.start)[:19], format_iso(window.end)[:19]
    outside = undated = 0
    ids: set[str] = set()
    duplicates = 0
    for _, _, rid, created in page.rows:
        if created is None:
            undated += 1
        elif not first <= created < last:
            outside += 1
        if rid is not None:
            if rid in ids:
                duplicates += 1
            ids.add(rid)
    counts = dict(outside=outside, undated=undated, duplicates=duplicates, ids=ids)
    if any(index == -1 for index, _, _, _ in page.rows):
        return Verdict("again", "ResultIndex -1 (the service timed out)", **counts)
    truncation = [w for w in page.warnings if any(word in w.lower() for word in TRUNCATION_WORDS)]
    # A ResultCount above the rows received (and not merely the ResultSize echoed back, as today's
    # service does) says more exist; it is never taken as proof that nothing more exists.
    counted_more = max((count for _, count, _, _ in page.rows), default=0)
    counted_more = counted_more if counted_more > len(page.rows) and counted_more != page_size else 0
    if len(page.rows) >= page_size or page.more or truncation or counted_more:
        why = (f"{len(page.rows)} rows" + (", moreRecordsAvailable" if page.more else "")
               + (f", warning {truncation[0]!r}" if truncation else "")
               + (f", ResultCount {counted_more}" if counted_more else ""))
        return Verdict("full", why, **counts)
    if page.warnings:
        return Verdict("again", f"warning {page.warnings[0]!r} with {len(page.rows)} rows", **counts)
    if not page.rows:
        if empty_before < 1:
            return Verdict("again", "an empty answer, asked again before it is believed", **counts)
        return Verdict("complete", f"no rows in {empty_before + 1} answers without warnings", **counts)
    more = "false" if page.more is False else "absent"
    return Verdict("complete", f"{len(page.rows)} rows in one answer, under the ResultSize of {page_size}, "
                               f"no warnings, moreRecordsAvailable {more}", **counts)


def read_window(ctx: SourceContext, window: TimeWindow) -> WindowResult:
    """Read one window: complete it, split it, cap it or fail it."""
    unit, retries, empty, tries = window.unit, 0, 0, 0
    min_split = ctx.config.tuning.ual_min_split_seconds
    seen_warnings: list[str] = []
    while True:
        tries += 1
        number = ctx.state.page(SOURCE, unit)
        resp = ctx.invoke("Search-UnifiedAuditLog", search_parameters(ctx, window), source=SOURCE, unit=unit,
                          name=f"p{number:06d}", kind=UAL_PAGE,
                          context={"window": window.to_json(), "try": tries}, parse=scan_page,
                          timeout=max(SEARCH_TIMEOUT, ctx.config.tuning.timeout_seconds))
        ctx.state.commit_page(SOURCE, unit, number)
        retries += resp.retries
        page: Page = resp.data
        seen_warnings.extend(w for w in page.warnings if w not in seen_warnings)
        verdict = judge(page, window, empty)
        if page.warnings:
            ctx.log_event("ual.warnings", window=window.to_json(), warnings=page.warnings, rows=len(page.rows))
        if verdict.outside or verdict.undated:
            ctx.log_event("ual.outside_window", window=window.to_json(), outside=verdict.outside,
                          undated=verdict.undated)
        if verdict.kind == "again":
            empty += not page.rows
            if tries >= MAX_WARNED_TRIES:
                return WindowResult(window, entry=_entry(window, page, verdict, retries, tries, seen_warnings,
                                                         FAILED, f"{verdict.reason}; gave up after {tries} tries"))
            ctx.log_event("ual.again", window=window.to_json(), reason=verdict.reason, attempt=tries)
            if tries > 1:  # the first repeat goes at once: a repeated call usually succeeds
                ctx.sleep(min(2.0 ** (tries - 1), 30.0))
            continue
        if verdict.kind == "full":
            if window.can_split(min_split):
                pieces = window.pieces(_pieces_needed(window, page), min_split)
                ctx.log_event("ual.split", window=window.to_json(), reason=verdict.reason, pieces=len(pieces))
                return WindowResult(window, split=pieces, rows=len(page.rows))
            ctx.progress.records(SOURCE, len(page.rows))
            return WindowResult(window, rows=len(page.rows), entry=_entry(
                window, page, verdict, retries, tries, seen_warnings, CAPPED,
                f"full at the smallest split ({int(window.seconds)} s): {verdict.reason}; "
                f"{len(page.rows)} read, more exist"))
        ctx.progress.records(SOURCE, len(page.rows))
        settled = _settled(ctx)
        if window.end > settled:
            return WindowResult(window, rows=len(page.rows), entry=_entry(
                window, page, verdict, retries, tries, seen_warnings, PENDING,
                unsettled_reason(settled, ctx.config.tuning.ual_settle_hours)))
        return WindowResult(window, rows=len(page.rows), entry=_entry(
            window, page, verdict, retries, tries, seen_warnings, COMPLETE, ""))


def _pieces_needed(window: TimeWindow, page: Page) -> int:
    """How many pieces a full window needs: from the span the returned rows cover (the rows are
    the newest of the window, so they show the density near its end); at least two."""
    times = [created for _, _, _, created in page.rows if created is not None]
    if not times:
        return 2
    span = (window.end - parse_iso_utc(min(times) + "Z")).total_seconds()
    density = len(page.rows) / max(span, 1.0)
    return max(2, math.ceil(window.seconds * density / (PAGE_SIZE * TARGET_FILL)))


def _entry(window: TimeWindow, page: Page, verdict: Verdict, retries: int, tries: int, warnings: list[str],
           status: str, reason: str) -> LedgerEntry:
    notes = []
    if verdict.outside:
        notes.append(f"{verdict.outside} row(s) dated outside the window")
    if verdict.undated:
        notes.append(f"{verdict.undated} row(s) without a readable CreationDate")
    if verdict.duplicates:
        notes.append(f"{verdict.duplicates} repeated id(s)")
    full_reason = "; ".join([r for r in [reason] + notes if r])
    established = verdict.reason if status in (COMPLETE, PENDING) else ""
    return LedgerEntry(SOURCE, window.unit, window.to_json(), None, len(page.rows), len(verdict.ids),
                       retries + tries - 1, status, full_reason,
                       extra={"established": established, "calls": tries, "warnings": warnings,
                              "outside_window": verdict.outside, "undated": verdict.undated,
                              "duplicates": verdict.duplicates})


# -- scheduling ------------------------------------------------------------------------------
def _settled(ctx: SourceContext) -> datetime:
    return settled_before(ctx, SOURCE, ctx.config.tuning.ual_settle_hours)


def _initial_state(ctx: SourceContext) -> None:
    section = ctx.state.section(SOURCE)
    settled = _settled(ctx)
    if "rest" in section:
        return
    whole = TimeWindow(ctx.config.window_start, ctx.config.window_end)
    if "pending" in section:  # a run started by an older collector: finish its windows as cut
        ctx.state.update(lambda s: s[SOURCE].update(rest=None, size=None))
        return
    probe_start = max(whole.start, whole.end - timedelta(seconds=PROBE_SECONDS))
    if whole.start < settled < whole.end:  # the probe does not straddle the settled moment
        probe_start = max(probe_start, settled)
    probe = TimeWindow(probe_start, whole.end)
    rest = TimeWindow(whole.start, probe_start).to_json() if probe_start > whole.start else None
    ctx.state.update(lambda s: s[SOURCE].update(pending=[probe.to_json()], rest=rest, size=None))


def next_size(size: float | None, window: TimeWindow, rows: int, full: bool, min_seconds: float,
              max_seconds: float) -> float:
    """The next window size (seconds) after a window of `rows` rows (pure)."""
    if full:
        ideal = window.seconds * (PAGE_SIZE * TARGET_FILL) / max(rows, 1) / 2
    elif rows == 0:
        ideal = window.seconds * GROWTH
    else:
        ideal = window.seconds * (PAGE_SIZE * TARGET_FILL) / rows
    ceiling = max_seconds if size is None else min(max_seconds, max(size, window.seconds) * GROWTH)
    return float(max(min_seconds, min(ideal, ceiling)))


def collect(ctx: SourceContext) -> None:
    """Read every window: the probe first, then windows cut from the rest as sizes are learnt,
    with `tuning.concurrency` calls in flight."""
    _initial_state(ctx)
    tuning = ctx.config.tuning
    min_seconds = float(max(tuning.ual_min_split_seconds, 1))
    max_seconds = float(tuning.ual_window_hours * 3600)
    section = ctx.state.section(SOURCE)
    queue = sorted(TimeWindow.from_json(w) for w in section["pending"])
    sizing: dict[str, Any] = {"size": section.get("size")}
    ctx.progress.add_units(SOURCE, len(queue))
    with ThreadPoolExecutor(max_workers=tuning.concurrency, thread_name_prefix="ual") as pool:
        running: dict[Future[WindowResult], TimeWindow] = {}
        try:
            while True:
                while len(running) < tuning.concurrency:
                    window = queue.pop(0) if queue else _cut(ctx, sizing["size"], bool(running))
                    if window is None:
                        break
                    running[pool.submit(read_window, ctx, window)] = window
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    window = running.pop(future)
                    result = _settle(ctx, window, future, queue)
                    if result is not None and (result.split is not None or
                                               (result.entry is not None and result.entry.status in (COMPLETE, PENDING))):
                        sizing["size"] = next_size(sizing["size"], window, result.rows, result.split is not None,
                                                   min_seconds, max_seconds)
                        size = sizing["size"]
                        ctx.state.update(lambda s, size=size: s[SOURCE].__setitem__("size", size))
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _cut(ctx: SourceContext, size: float | None, busy: bool) -> TimeWindow | None:
    """The next window from the uncut rest (oldest first), recorded as pending before it is read.
    While no size is known (the probe is out) nothing is cut, unless nothing else runs."""
    rest_json = ctx.state.section(SOURCE).get("rest")
    if not rest_json:
        return None
    if size is None:
        if busy:
            return None
        size = ctx.config.tuning.ual_window_hours * 3600
    rest = TimeWindow.from_json(rest_json)
    end = min(rest.end, rest.start + timedelta(seconds=max(1, int(size))))
    settled = _settled(ctx)
    if rest.start < settled < end:  # no window straddles the settled moment
        end = settled
    window = TimeWindow(rest.start, end)
    remaining = TimeWindow(end, rest.end).to_json() if end < rest.end else None

    def move(sources: dict[str, Any]) -> None:
        sources[SOURCE]["pending"].append(window.to_json())
        sources[SOURCE]["rest"] = remaining
    ctx.state.update(move)
    ctx.progress.add_units(SOURCE, 1)
    return window


def _settle(ctx: SourceContext, window: TimeWindow, future: Future[WindowResult],
            queue: list[TimeWindow]) -> WindowResult | None:
    try:
        result = future.result()
    except AuthError:
        raise
    except CollectorError as exc:
        ctx.finish(LedgerEntry(SOURCE, window.unit, window.to_json(), None, 0, 0, 0, FAILED, str(exc)))
        return None
    key = window.to_json()
    if result.split is not None:
        pieces = [p.to_json() for p in result.split]

        def replace(sources: dict[str, Any]) -> None:
            lst = sources[SOURCE]["pending"]
            lst[lst.index(key):lst.index(key) + 1] = pieces
        ctx.state.update(replace)
        queue[:0] = list(result.split)
        ctx.progress.add_units(SOURCE, len(pieces) - 1)
        return result
    assert result.entry is not None
    if result.entry.status == FAILED:
        ctx.finish(result.entry)  # stays pending: a --resume tries it again
    else:
        ctx.finish(result.entry, update=lambda s: s[SOURCE]["pending"].remove(key))
    return result
