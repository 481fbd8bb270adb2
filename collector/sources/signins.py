"""`signins`: the Entra sign-in log for the collection window (docs/collection.md §1).

Graph's beta `auditLogs/signIns` is asked once per sign-in event type (interactive users,
non-interactive users, service principals): v1.0 returns interactive sign-ins only and carries no
`sessionId`, the handle that joins a sign-in to the mail it opened (docs/microsoft-365.md §10).
Each type is a unit filtered on `createdDateTime` (ge start, lt end), paged through
`@odata.nextLink` and resumable. The API gives no total, so `expected` stays empty.

It needs AuditLog.Read.All (with Directory.Read.All) and a tenant with Entra ID P1: a refusal
fails every unit with the fix named, the other sources go on, and the report falls back to the
audit log's UserLoggedIn records, stating the gap.
"""

from __future__ import annotations

from urllib.parse import quote

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry
from evkit.collector.permissions import missing
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.odata import paged_unit
from evkit.collector.windows import TimeWindow
from evkit.evidence.kinds import SIGNINS_PAGE
from evkit.times import format_iso

SOURCE = "signins"
EVENT_TYPES = ("interactiveUser", "nonInteractiveUser", "servicePrincipal")
API_VERSION = "beta"


def signins_url(ctx: SourceContext, window: TimeWindow, event_type: str) -> str:
    flt = (f"createdDateTime ge {format_iso(window.start)} and createdDateTime lt {format_iso(window.end)} "
           f"and signInEventTypes/any(t: t eq '{event_type}')")
    return f"{ctx.config.endpoints.graph}/{API_VERSION}/auditLogs/signIns?$filter={quote(flt, safe='')}"


def collect(ctx: SourceContext) -> None:
    window = TimeWindow(ctx.config.window_start, ctx.config.window_end)
    ctx.progress.add_units(SOURCE, len(EVENT_TYPES))
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
        ctx.finish(LedgerEntry(SOURCE, event_type, window.to_json(), None, got.received, len(got.ids),
                               got.retries, COMPLETE, "", extra))
