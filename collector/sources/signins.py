"""`signins`: the Entra sign-in log for the collection window (docs/collection.md §1).

Graph's beta `auditLogs/signIns` is asked once per sign-in event type (interactive users,
non-interactive users, service principals): v1.0 returns interactive sign-ins only and carries no
`sessionId`, the handle that joins a sign-in to the mail it opened (docs/microsoft-365.md §10).
Each type is a unit filtered on `createdDateTime` (ge start, lt end), paged through
`@odata.nextLink` and resumable. The API gives no total, so `expected` stays empty.

Entra keeps sign-ins 30 days (evkit/evidence/retention.py): the part of the window older than
that when the collection was planned (`planned_at` in the resume state, kept across resumes) is
not asked for; it is one `skipped` entry (unit `beyond-retention`) saying the log no longer holds
it, a real gap, as no other source holds the sign-in log (the audit log's UserLoggedIn records
carry interactive sign-ins only). Each event type is asked for the rest of the window.

It needs AuditLog.Read.All (with Directory.Read.All) and a tenant with Entra ID P1: a refusal
fails every unit with the fix named, the other sources go on, and the report falls back to the
audit log's UserLoggedIn records, stating the gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import COMPLETE, FAILED, SKIPPED, LedgerEntry
from evkit.collector.permissions import missing
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.odata import paged_unit
from evkit.collector.windows import TimeWindow
from evkit.evidence.kinds import SIGNINS_PAGE
from evkit.evidence.retention import SIGNINS_BEYOND_RETENTION, beyond_retention_words, signins_kept_from
from evkit.times import format_iso, parse_iso_utc

SOURCE = "signins"
EVENT_TYPES = ("interactiveUser", "nonInteractiveUser", "servicePrincipal")
API_VERSION = "beta"
# the log is read newest first, so its oldest sign-ins come last: those this close to the
# retention edge could expire while the pages are read, and are counted as beyond it
EDGE_MARGIN = timedelta(hours=1)


def signins_url(ctx: SourceContext, window: TimeWindow, event_type: str) -> str:
    flt = (f"createdDateTime ge {format_iso(window.start)} and createdDateTime lt {format_iso(window.end)} "
           f"and signInEventTypes/any(t: t eq '{event_type}')")
    return f"{ctx.config.endpoints.graph}/{API_VERSION}/auditLogs/signIns?$filter={quote(flt, safe='')}"


def scope(ctx: SourceContext) -> tuple[TimeWindow | None, TimeWindow | None]:
    """(the part of the window beyond the log's retention, the part to ask for), either None when
    empty; fixed at the first run (`planned_at`), so a resumed run asks for the same units."""
    planned = ctx.state.section(SOURCE).get("planned_at")
    now: datetime = parse_iso_utc(planned) if isinstance(planned, str) else ctx.now().replace(microsecond=0)
    if planned is None:
        ctx.state.update(lambda s: s[SOURCE].__setitem__("planned_at", format_iso(now)))
    start, end = ctx.config.window_start, ctx.config.window_end
    kept = signins_kept_from(now) + EDGE_MARGIN
    older = TimeWindow(start, min(kept, end)) if kept > start else None
    rest = TimeWindow(max(start, kept), end) if kept < end else None
    return older, rest


def collect(ctx: SourceContext) -> None:
    older, rest = scope(ctx)
    ctx.progress.add_units(SOURCE, (len(EVENT_TYPES) if rest else 0) + (1 if older else 0))
    if older is not None and ctx.state.finished(SOURCE, SIGNINS_BEYOND_RETENTION) is None:
        planned = ctx.state.section(SOURCE)["planned_at"]
        reason = (beyond_retention_words(format_iso(older.start), format_iso(older.end))
                  + f" (the collection was planned at {planned}, with an hour's margin); no other source holds "
                  "the sign-in log (the audit log's UserLoggedIn records carry interactive sign-ins only)")
        ctx.finish(LedgerEntry(SOURCE, SIGNINS_BEYOND_RETENTION, older.to_json(), None, 0, 0, 0, SKIPPED,
                               reason, {"api_version": API_VERSION, "planned_at": planned}))
    if rest is None:
        return  # nothing the log still holds: nothing asked
    window = rest
    refused = ""
    for event_type in EVENT_TYPES:
        done = ctx.state.finished(SOURCE, event_type)
        if done is not None and done.status == COMPLETE:
            continue
        extra = {"api_version": API_VERSION, "event_type": event_type}
        if refused:  # the same refusal would come back for every event type
            ctx.finish(LedgerEntry(SOURCE, event_type, window.to_json(), None, 0, 0, 0, FAILED, refused, extra))
            continue
        try:
            got = paged_unit(ctx, SOURCE, event_type, signins_url(ctx, window, event_type), SIGNINS_PAGE,
                             {"event_type": event_type, "window": window.to_json()})
        except CollectorError as exc:
            reason = str(missing(exc, ctx.config) or exc) if isinstance(exc, AuthError) else str(exc)
            if isinstance(exc, AuthError):
                refused = reason
            ctx.finish(LedgerEntry(SOURCE, event_type, window.to_json(), None, 0, 0, 0, FAILED, reason, extra))
            continue
        _finish_read(ctx, event_type, window, got.received, len(got.ids), got.retries, extra)


def _finish_read(ctx: SourceContext, event_type: str, window: TimeWindow, received: int, unique: int,
                 retries: int, extra: dict[str, str]) -> None:
    """The entries of an event type read to its last page. The log drops its oldest sign-ins as time
    passes and its pages come newest first, so what it still held when the last page came is all it
    vouches for: the part of `window` older than that (a `--resume` days after the plan, or a read
    longer than EDGE_MARGIN) is a `skipped` entry of its own (unit `beyond-retention/<event type>`),
    never part of a `complete` one."""
    read_at = ctx.now().replace(microsecond=0)
    edge = signins_kept_from(read_at)
    if edge <= window.start:
        ctx.finish(LedgerEntry(SOURCE, event_type, window.to_json(), None, received, unique, retries, COMPLETE, "",
                               extra))
        return
    lost = TimeWindow(window.start, min(edge, window.end))
    reason = (beyond_retention_words(format_iso(lost.start), format_iso(lost.end))
              + f" (this event type's last page was read at {format_iso(read_at)}, after the collection was planned)")
    if edge >= window.end:  # nothing of the window is vouched for any more
        ctx.finish(LedgerEntry(SOURCE, event_type, window.to_json(), None, received, unique, retries, SKIPPED,
                               reason, extra))
        return
    ctx.finish(LedgerEntry(SOURCE, f"{SIGNINS_BEYOND_RETENTION}/{event_type}", lost.to_json(), None, 0, 0, 0,
                           SKIPPED, reason, dict(extra, read_at=format_iso(read_at))))
    ctx.finish(LedgerEntry(SOURCE, event_type, TimeWindow(edge, window.end).to_json(), None, received, unique,
                           retries, COMPLETE, "", extra))
