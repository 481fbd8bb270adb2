"""`ual`: Search-UnifiedAuditLog through InvokeCommand, without losing a record at the cap.

How a window is proven complete (docs/internals.md, "The `ual` source"; the service's behaviour
is in docs/emulator-fidelity.md UAL-1..UAL-7):

* Every call is a non-session call with ResultSize 5,000 (the most one call returns). No
  SessionId is sent, so no session can be restarted, looped or cut short behind our back.
* ResultCount is never read as a total: today's service reports the ResultSize given. An answer
  is *full* when it holds 5,000 rows, says `moreRecordsAvailable`, or warns that more results
  exist; a full window is read again shorter (its answer is stored all the same). A window
  still full at `tuning.ual_min_split_seconds` is `capped`, never silently truncated.
* An answer with fewer rows, no warning and no "more" flag is the whole window: `complete`,
  and the ledger entry says so (`established`). An empty answer is asked again once before it
  is believed (the service sometimes answers a first call empty). An answer carrying any other
  warning is asked again, up to MAX_WARNED_TRIES; then the window is `failed` with the warning.
* Each row's CreationDate is checked against the window. An answer holding rows dated outside
  it is not this window's answer (as a page from another session would be): it is asked again
  once; when the next answer holds such rows too the window is `failed` (it stays pending for
  `--resume`), and its entry says how many rows fell outside and when. Either way the rows are
  counted (`outside_window`), named in the entry's reason and stored as received, never dropped.
  Repeated ids are counted (`duplicates`); completeness never rests on a count of ids.

Records become searchable some time after their events (Microsoft: typically 60-90 minutes,
up to 24 hours; docs/microsoft-365.md §3.5): a window ending less than `tuning.ual_settle_hours`
before the collection started is read like any other but is `pending`, never `complete`, and no
window straddles that moment (`settled_before` in the resume state, fixed at the first run).

Window sizes (collector/sources/ualplan.py): the collection window is read in lanes, one per
call in flight, each from its newest end backwards; a lane's first window is as long as allowed
(its answer is the density probe), a full answer is read again from the second after its oldest
row, and later windows are sized from a time-of-day profile of the rows read so far, scaled to
the lane, or from the lane's own density. The lanes (what is not yet cut) and the windows cut
but not finished (`pending`) are in the resume state, so a killed run resumes without
refetching a window whose finish was saved (it is saved with the next cut). The entry an earlier
run left for a window read again is removed when this run's reading of that period finishes (see
_supersede).
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import CAPPED, COMPLETE, FAILED, PENDING, LedgerEntry
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.settle import settled_before, unsettled_reason
from evkit.collector.sources.ualpage import Page, scan_page
from evkit.collector.sources.ualplan import Lane, Planner
from evkit.collector.windows import TimeWindow
from evkit.evidence.kinds import UAL_PAGE
from evkit.times import format_iso

logger = logging.getLogger(__name__)

SOURCE = "ual"
PAGE_SIZE = 5000          # the most one Search-UnifiedAuditLog call returns
MAX_WARNED_TRIES = 4      # answers with a warning (or empty) asked again at most this often
SEARCH_TIMEOUT = 600.0    # seconds a search may take before the call is given up and asked again:
                          # searches favour completeness over speed and can take minutes;
                          # tuning.timeout_seconds above this raises it
TRUNCATION_WORDS = ("more results available", "more results than")


@dataclass
class WindowResult:
    """Either a finished ledger entry, or `full`: the window is to be read again shorter.
    `created`: the rows' CreationDates (for sizing the next windows, collector/sources/ualplan.py)."""

    window: TimeWindow
    entry: LedgerEntry | None = None
    full: bool = False
    created: list[str | None] = field(default_factory=list)


@dataclass
class Verdict:
    """What one answer proves about its window (pure: see judge)."""

    kind: str                       # complete | full | again | foreign
    reason: str = ""
    outside: int = 0
    outside_span: tuple[str, str] | None = None  # earliest and latest CreationDate outside the window
    undated: int = 0
    duplicates: int = 0
    ids: set[str] = field(default_factory=set)


def search_parameters(ctx: SourceContext, window: TimeWindow) -> dict[str, Any]:
    """A non-session call. No UserIds: that filter matches the actor, not the mailbox, and would
    drop delegate, admin and application access (docs/internals.md, "The `ual` source")."""
    return {"StartDate": format_iso(window.start), "EndDate": format_iso(window.end), "ResultSize": PAGE_SIZE,
            "Operations": list(ctx.config.operations)}


def judge(page: Page, window: TimeWindow, empty_before: int, page_size: int | None = None,
          foreign_before: int = 0) -> Verdict:
    """Classify one answer for `window`. `empty_before`: empty answers already seen for it;
    `page_size`: the ResultSize the call asked for (PAGE_SIZE); `foreign_before`: answers for it
    already seen holding rows dated outside it."""
    page_size = page_size or PAGE_SIZE
    first, last = format_iso(window.start)[:19], format_iso(window.end)[:19]
    outside = undated = 0
    strays: list[str] = []
    ids: set[str] = set()
    duplicates = 0
    for _, _, rid, created in page.rows:
        if created is None:
            undated += 1
        elif not first <= created < last:
            outside += 1
            strays.append(created)
        if rid is not None:
            if rid in ids:
                duplicates += 1
            ids.add(rid)
    span = (min(strays), max(strays)) if strays else None
    counts: dict[str, Any] = dict(outside=outside, outside_span=span, undated=undated, duplicates=duplicates, ids=ids)
    if any(index == -1 for index, _, _, _ in page.rows):
        return Verdict("again", "ResultIndex -1 (the service timed out)", **counts)
    if span is not None:  # not this window's answer: neither its rows nor its fullness say anything of it
        stray = f"{outside} of {len(page.rows)} rows dated outside the window ({span[0]}Z .. {span[1]}Z)"
        if foreign_before < 1:
            return Verdict("again", f"{stray}, asked again", **counts)
        return Verdict("foreign", f"{stray} in {foreign_before + 1} answers: "
                                  "the answers are not this window's", **counts)
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
    unit, retries, empty, foreign, tries = window.unit, 0, 0, 0, 0
    strayed = 0  # rows dated outside the window in answers asked again
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
        verdict = judge(page, window, empty, foreign_before=foreign)
        if page.warnings:
            ctx.log_event("ual.warnings", window=window.to_json(), warnings=page.warnings, rows=len(page.rows))
        if verdict.outside or verdict.undated:
            ctx.log_event("ual.outside_window", window=window.to_json(), outside=verdict.outside,
                          undated=verdict.undated, span=verdict.outside_span)
        if verdict.kind == "foreign":
            return WindowResult(window, entry=_entry(window, page, verdict, retries, tries, seen_warnings,
                                                     FAILED, verdict.reason, strayed))
        if verdict.kind == "again":
            empty += not page.rows
            foreign += verdict.outside_span is not None
            strayed += verdict.outside
            if tries >= MAX_WARNED_TRIES:
                return WindowResult(window, entry=_entry(window, page, verdict, retries, tries, seen_warnings,
                                                         FAILED, f"{verdict.reason}; gave up after {tries} tries",
                                                         strayed))
            ctx.log_event("ual.again", window=window.to_json(), reason=verdict.reason, attempt=tries)
            if tries > 1:  # the first repeat goes at once: a repeated call usually succeeds
                ctx.sleep(min(2.0 ** (tries - 1), 30.0))
            continue
        created = [c for _, _, _, c in page.rows]
        if verdict.kind == "full":
            if window.can_split(min_split):
                ctx.log_event("ual.split", window=window.to_json(), reason=verdict.reason, rows=len(page.rows))
                return WindowResult(window, full=True, created=created)
            ctx.progress.records(SOURCE, len(page.rows))
            return WindowResult(window, created=created, entry=_entry(
                window, page, verdict, retries, tries, seen_warnings, CAPPED,
                f"full at the smallest split ({int(window.seconds)} s): {verdict.reason}; "
                f"{len(page.rows)} read, more exist", strayed))
        ctx.progress.records(SOURCE, len(page.rows))
        settled = _settled(ctx)
        if window.end > settled:
            return WindowResult(window, created=created, entry=_entry(
                window, page, verdict, retries, tries, seen_warnings, PENDING,
                unsettled_reason(settled, ctx.config.tuning.ual_settle_hours), strayed))
        return WindowResult(window, created=created, entry=_entry(
            window, page, verdict, retries, tries, seen_warnings, COMPLETE, "", strayed))


def _entry(window: TimeWindow, page: Page, verdict: Verdict, retries: int, tries: int, warnings: list[str],
           status: str, reason: str, strayed: int = 0) -> LedgerEntry:
    """`strayed`: rows dated outside the window in earlier answers for it (asked again)."""
    notes = []
    if verdict.outside and verdict.kind != "foreign":  # a foreign verdict's reason says it already
        notes.append(f"{verdict.outside} row(s) dated outside the window")
    if strayed:
        notes.append(f"{strayed} row(s) dated outside the window in an earlier answer, asked again")
    if verdict.undated:
        notes.append(f"{verdict.undated} row(s) without a readable CreationDate")
    if verdict.duplicates:
        notes.append(f"{verdict.duplicates} repeated id(s)")
    full_reason = "; ".join([r for r in [reason] + notes if r])
    established = verdict.reason if status in (COMPLETE, PENDING) else ""
    return LedgerEntry(SOURCE, window.unit, window.to_json(), None, len(page.rows), len(verdict.ids),
                       retries + tries - 1, status, full_reason,
                       extra={"established": established, "calls": tries, "warnings": warnings,
                              "outside_window": verdict.outside + strayed, "undated": verdict.undated,
                              "duplicates": verdict.duplicates})


def _settled(ctx: SourceContext) -> datetime:
    return settled_before(ctx, SOURCE, ctx.config.tuning.ual_settle_hours)


# -- scheduling (the sizes: collector/sources/ualplan.py) ------------------------------------
def _planner(ctx: SourceContext) -> Planner:
    """The lanes from the resume state (a fresh split of the collection window on a first run);
    windows cut but not finished by an earlier run become lanes of their own."""
    tuning = ctx.config.tuning
    min_seconds = float(max(tuning.ual_min_split_seconds, 1))
    max_seconds = float(tuning.ual_window_hours * 3600)
    section = ctx.state.section(SOURCE)
    if "lanes" not in section and "pending" not in section:
        whole = TimeWindow(ctx.config.window_start, ctx.config.window_end)
        # no lane, so no window, straddles the moment after which records may not have arrived yet
        planner = Planner.split(whole, tuning.concurrency, PAGE_SIZE, min_seconds, max_seconds,
                                boundary=_settled(ctx))
    else:  # a resumed run (an older collector kept `rest`: it is one more lane)
        lanes = [Lane.from_json(data) for data in section.get("lanes", [])]
        old = [section["rest"]] if section.get("rest") else []
        lanes += [Lane.from_json(w) for w in list(section.get("pending", [])) + old]
        planner = Planner(lanes, PAGE_SIZE, min_seconds, max_seconds)
    lanes_json = planner.to_json()
    ctx.state.update(lambda s: s.__setitem__(SOURCE, {"lanes": lanes_json, "pending": []}))
    return planner


def collect(ctx: SourceContext) -> None:
    """Read every window, `tuning.concurrency` calls in flight: each lane of the planner has
    at most one window out; a window is recorded as pending before it is read and leaves
    pending with its ledger entry (or goes back to its lane when its answer was full)."""
    earlier = _earlier_entries(ctx)
    planner = _planner(ctx)
    concurrency = ctx.config.tuning.concurrency
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ual") as pool:
        running: dict[Future[WindowResult], TimeWindow] = {}
        try:
            while True:
                while len(running) < concurrency:
                    window = planner.cut()
                    if window is None:
                        break
                    ctx.state.update(_change(planner, add=window))
                    ctx.progress.add_units(SOURCE, 1)
                    running[pool.submit(read_window, ctx, window)] = window
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    _settle(ctx, planner, running.pop(future), future, earlier)
            ctx.state.flush()  # the last windows settled: no cut follows to save them
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _change(planner: Planner, *, add: TimeWindow | None = None,
            drop: TimeWindow | None = None) -> Callable[[dict[str, Any]], None]:
    """The resume-state change: the lanes as they are now, a window added to or dropped from pending."""
    lanes = planner.to_json()

    def change(sources: dict[str, Any]) -> None:
        section = sources[SOURCE]
        section["lanes"] = lanes
        if add is not None:
            section["pending"].append(add.to_json())
        if drop is not None and drop.to_json() in section["pending"]:
            section["pending"].remove(drop.to_json())
    return change


@dataclass
class Earlier:
    """The ledger entries an earlier run left for windows it did not finish (pending: failed, or
    cut short), and what was said of them but is not yet in an entry of this run (`unsaid`: the
    window that replaced them answered full, so its parts carry it)."""

    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    unsaid: list[tuple[TimeWindow, list[dict[str, Any]]]] = field(default_factory=list)


def _earlier_entries(ctx: SourceContext) -> Earlier:
    """This run reads the pending windows again, perhaps in other units (a full answer splits
    them), so each of their entries is replaced by what this run finds (see _supersede)."""
    found = Earlier()
    for data in ctx.state.section(SOURCE).get("pending", []):
        entry = ctx.state.finished(SOURCE, TimeWindow.from_json(data).unit)
        if entry is not None:
            found.entries[entry.unit] = entry
    return found


def _overlaps(a: TimeWindow, b: TimeWindow) -> bool:
    return a.start < b.end and b.start < a.end


def _supersede(ctx: SourceContext, earlier: Earlier, window: TimeWindow) -> list[dict[str, Any]]:
    """Remove the earlier entries of the period `window` now read: otherwise a window that failed
    once and was then read completely (in parts, after a full answer) would keep its old `failed`
    entry beside its parts' entries, and an old entry could hide how the new reading went. What
    they said goes to the events log and into the entry of the first window of this run that
    finishes over them (returned here)."""
    if not earlier.entries and not earlier.unsaid:
        return []
    stale = [e for e in earlier.entries.values()
             if e.window is not None and _overlaps(TimeWindow.from_json(e.window), window)]
    notes: list[dict[str, Any]] = []
    if stale:
        gone = ctx.state.forget([e.key for e in stale])
        for e in stale:
            earlier.entries.pop(e.unit, None)
        notes = [{"unit": e.unit, "status": e.status, "reason": e.reason} for e in gone]
        ctx.log_event("ual.superseded", window=window.to_json(), entries=notes)
    for item in [u for u in earlier.unsaid if _overlaps(u[0], window)]:
        earlier.unsaid.remove(item)
        notes += item[1]
    return notes


def _settle(ctx: SourceContext, planner: Planner, window: TimeWindow, future: Future[WindowResult],
            earlier: Earlier | None = None) -> None:
    try:
        result = future.result()
    except AuthError:
        raise  # the source stops: the earlier entries stay, the window stays pending
    except CollectorError as exc:
        superseded = _supersede(ctx, earlier or Earlier(), window)
        planner.failed(window)  # stays pending: a --resume tries it again
        ctx.finish(LedgerEntry(SOURCE, window.unit, window.to_json(), None, 0, 0, 0, FAILED, str(exc),
                               extra={"supersedes": superseded} if superseded else {}),
                   update=_change(planner))
        return
    superseded = _supersede(ctx, earlier or Earlier(), window)
    if superseded and result.entry is not None:
        result.entry.extra["supersedes"] = superseded
    # A settled window is persisted lazily: with the next window's cut, which follows at once
    # (one state save per window, not two), or within LAZY_SECONDS, or when the source ends. A
    # kill before that leaves it pending in the saved state, and a resumed run reads it again.
    if result.full:
        if superseded and earlier is not None:
            earlier.unsaid.append((window, superseded))  # said by the first part that finishes
        planner.full(window, result.created)
        ctx.state.update(_change(planner, drop=window), lazy=True)
        ctx.progress.unit_done(SOURCE)
        return
    assert result.entry is not None
    if result.entry.status == FAILED:
        planner.failed(window)
        ctx.finish(result.entry, update=_change(planner))  # stays pending: a --resume tries it again
        return
    planner.complete(window, result.created)
    ctx.finish(result.entry, update=_change(planner, drop=window), lazy=True)
