"""`ual`: Search-UnifiedAuditLog through InvokeCommand, without losing a record at the caps.

Each window is read in one ReturnLargeSet session (ResultSize 5,000 per page, 50,000 per
session; m365-apis.md 3.1). The first page's ResultCount says how many records the window
holds: above 50,000 the window is halved and each half read on its own, down to
`tuning.ual_min_split_seconds` (60 s by default: below a minute the API's date filter is not
a reliable lever). A window still over the cap at that size is read up to the cap and marked
`capped`, never silently truncated. ResultIndex must run on without gaps; a gap, a changed
ResultCount or ResultIndex -1 (the service's internal timeout) restarts the session with a
new SessionId, up to MAX_RESTARTS times, then the window is `failed`.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import CAPPED, COMPLETE, FAILED, LedgerEntry
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.ualpage import Row, scan_page
from evkit.collector.windows import TimeWindow, chunk
from evkit.evidence.kinds import UAL_PAGE
from evkit.times import format_iso

logger = logging.getLogger(__name__)

SOURCE = "ual"
PAGE_SIZE = 5000
SESSION_CAP = 50_000
MAX_RESTARTS = 5


@dataclass
class WindowResult:
    """Either a finished ledger entry or the two halves to read instead."""

    window: TimeWindow
    entry: LedgerEntry | None = None
    split: tuple[TimeWindow, TimeWindow] | None = None


@dataclass
class _Session:
    expected: int | None = None
    last_index: int = 0
    received: int = 0
    ids: set[str] = field(default_factory=set)
    problem: str | None = None


def search_parameters(ctx: SourceContext, window: TimeWindow, session_id: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "StartDate": format_iso(window.start), "EndDate": format_iso(window.end),
        "SessionId": session_id, "SessionCommand": "ReturnLargeSet", "ResultSize": PAGE_SIZE,
        "Operations": list(ctx.config.operations),
    }
    # never -UserIds: it matches the actor, not the mailbox, and would drop delegate, admin and
    # application access to the mailboxes of interest (docs/emulator-fidelity.md, "Graph")
    return params


def read_window(ctx: SourceContext, window: TimeWindow) -> WindowResult:
    """Read one window to the end of its session; split, cap, restart or fail as needed."""
    unit, retries, restarts = window.unit, 0, 0
    min_split = ctx.config.tuning.ual_min_split_seconds
    while True:
        session_id = f"evkit-{uuid.uuid4()}"
        sess = _Session()
        while True:
            number = ctx.state.page(SOURCE, unit)
            context = {"window": window.to_json(), "session_id": session_id, "restart": restarts,
                       "after_result_index": sess.last_index}
            resp = ctx.invoke("Search-UnifiedAuditLog", search_parameters(ctx, window, session_id),
                              source=SOURCE, unit=unit, name=f"p{number:06d}", kind=UAL_PAGE,
                              context=context, parse=scan_page)
            retries += resp.retries
            rows: list[Row] = resp.data
            ctx.state.commit_page(SOURCE, unit, number)
            if not rows:
                if sess.expected is None and resp.retries:
                    # The failed try may have been served (cut body, reset): the session then
                    # moved on, and this empty answer proves nothing about the window.
                    sess.problem = "an empty first page after a failed try"
                break
            _take_page(sess, rows)
            if sess.problem:
                break
            ctx.progress.records(SOURCE, len(rows))
            assert sess.expected is not None
            if sess.expected > SESSION_CAP and window.can_split(min_split):
                ctx.log_event("ual.split", window=window.to_json(), result_count=sess.expected)
                return WindowResult(window, split=window.halves())
            if sess.last_index >= min(sess.expected, SESSION_CAP):
                break
        if sess.problem is None:
            sess.problem = _shortfall(sess)
        if sess.problem is None:
            return WindowResult(window, entry=_entry(window, sess, retries, restarts))
        restarts += 1
        ctx.log_event("ual.session_restart", window=window.to_json(), session_id=session_id,
                      reason=sess.problem, restart=restarts)
        logger.info("ual %s: %s; restarting the session (%d)", unit, sess.problem, restarts)
        if restarts > MAX_RESTARTS:
            return WindowResult(window, entry=LedgerEntry(
                SOURCE, unit, window.to_json(), sess.expected, sess.received, len(sess.ids),
                retries + restarts, FAILED, f"{sess.problem}; gave up after {MAX_RESTARTS} session restarts"))


def _take_page(sess: _Session, rows: list[Row]) -> None:
    """Account for one page: ids, ResultIndex continuity, ResultCount stability."""
    indices = sorted(index for index, _, _ in rows)
    counts = {count for _, count, _ in rows}
    if -1 in indices:
        sess.problem = "ResultIndex -1 (the service timed out inside the session)"
        return
    if len(counts) != 1 or (sess.expected is not None and counts != {sess.expected}):
        sess.problem = f"ResultCount changed within the session ({sorted(counts)} after {sess.expected})"
        return
    if indices[0] > sess.last_index + 1:
        sess.problem = f"ResultIndex jumped from {sess.last_index} to {indices[0]}"
        return
    for before, after in zip(indices, indices[1:]):
        if after > before + 1:
            sess.problem = f"ResultIndex gap between {before} and {after}"
            return
    sess.expected = counts.pop()
    sess.last_index = max(sess.last_index, indices[-1])
    sess.received += len(rows)
    sess.ids.update(rid for _, _, rid in rows if rid is not None)


def _shortfall(sess: _Session) -> str | None:
    """The session ended: did it deliver everything it announced (up to the cap)?"""
    if sess.expected is None:
        return None  # an empty window: the first page had no rows
    if sess.expected > SESSION_CAP:
        return None  # capped: the service serves at most the cap, possibly fewer; the entry says so
    if sess.last_index < sess.expected:
        return f"the session ended at ResultIndex {sess.last_index} of {sess.expected}"
    return None


def _entry(window: TimeWindow, sess: _Session, retries: int, restarts: int) -> LedgerEntry:
    expected = sess.expected or 0
    if expected > SESSION_CAP:
        return LedgerEntry(SOURCE, window.unit, window.to_json(), expected, sess.received, len(sess.ids),
                           retries + restarts, CAPPED,
                           f"{expected:,} records in a window of {int(window.seconds)} s, over the "
                           f"{SESSION_CAP:,} session cap at the smallest split; {SESSION_CAP:,} read")
    return LedgerEntry(SOURCE, window.unit, window.to_json(), expected, sess.received, len(sess.ids),
                       retries + restarts, COMPLETE, "")


def collect(ctx: SourceContext) -> None:
    """Read every pending window, with `tuning.concurrency` sessions in flight."""
    section = ctx.state.section(SOURCE)
    if "pending" not in section:
        whole = TimeWindow(ctx.config.window_start, ctx.config.window_end)
        first = chunk(whole, timedelta(hours=ctx.config.tuning.ual_window_hours))
        ctx.state.update(lambda s: s[SOURCE].__setitem__("pending", [w.to_json() for w in first]))
    pending = [TimeWindow.from_json(w) for w in ctx.state.section(SOURCE)["pending"]]
    ctx.progress.add_units(SOURCE, len(pending))
    queue = sorted(pending)
    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="ual") as pool:
        running: dict[Future[WindowResult], TimeWindow] = {}
        try:
            while queue or running:
                while queue and len(running) < ctx.config.tuning.concurrency:
                    window = queue.pop(0)
                    running[pool.submit(read_window, ctx, window)] = window
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    window = running.pop(future)
                    _settle(ctx, window, future, queue)
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _settle(ctx: SourceContext, window: TimeWindow, future: Future[WindowResult], queue: list[TimeWindow]) -> None:
    try:
        result = future.result()
    except AuthError:
        raise
    except CollectorError as exc:
        result = WindowResult(window, entry=LedgerEntry(SOURCE, window.unit, window.to_json(), None, 0, 0, 0,
                                                        FAILED, str(exc)))
    key = window.to_json()
    if result.split is not None:
        halves = [h.to_json() for h in result.split]

        def replace(sources: dict[str, Any]) -> None:
            lst = sources[SOURCE]["pending"]
            lst[lst.index(key):lst.index(key) + 1] = halves
        ctx.state.update(replace)
        queue[:0] = list(result.split)
        ctx.progress.add_units(SOURCE, 1)
        return
    assert result.entry is not None
    if result.entry.status == FAILED:
        ctx.finish(result.entry)  # stays pending: a --resume tries it again
    else:
        ctx.finish(result.entry, update=lambda s: s[SOURCE]["pending"].remove(key))
