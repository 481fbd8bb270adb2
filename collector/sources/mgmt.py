"""`mgmt`: Management Activity API content blobs for the last 7 days.

Rules (docs/emulator-fidelity.md, "Management Activity API"):
- Subscriptions are listed, never started, unless `collection.mgmt_start_subscriptions` is true:
  a start writes to the client's tenant. A content type without a subscription is `failed` with
  that key named. A start this run made is not "already enabled" (AF20024): the API lists only
  content created after a start, so that content type's windows are `pending`, never `complete`.
- Listing filters on when content became available, not on event time: the collector lists
  availability windows from the 7-day floor up to `tuning.mgmt_settle_hours` after the
  collection window's end (or now, if earlier), and the events whose content may not be available
  yet (the last `mgmt_settle_hours` before now) are a `pending` ledger entry.
- `PublisherIdentifier` goes on every call, blob downloads and next-page links included.

The part of the collection window older than the API's 7 days is outside this source's scope: it
is a `skipped` ledger entry per content type, never a silent hole; when `ual` is collected too the
entry says `ual` covers it (`covered_by`), so it does not make the collection incomplete. A window
wholly older than 7 days starts no subscription. A listing window is the unit of resume: one that was
not finished is listed and downloaded again (blob files already stored stay, the new copies sit
beside them as `.r2`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from evkit.collector.client import error_code
from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.evidence import safe_name
from evkit.collector.ledger import COMPLETE, COVERED_BY, FAILED, PENDING, SKIPPED, LedgerEntry
from evkit.collector.sources.base import SourceContext, record_id
from evkit.collector.sources.settle import cut
from evkit.collector.windows import TimeWindow, chunk
from evkit.evidence.kinds import MGMT_BLOB
from evkit.times import format_iso, format_utc_zoneless, parse_iso_utc

SOURCE = "mgmt"
CONTENT_TYPES = ("Audit.Exchange", "Audit.AzureActiveDirectory", "Audit.General")
RETENTION = timedelta(days=7)
OUT_OF_RANGE = {"AF20030", "AF20055"}
NO_SUBSCRIPTION = {"AF20022", "AF20023"}
FRESH_START_DELAY = "up to 12 hours"
START_KEY = "collection.mgmt_start_subscriptions"


def _feed(ctx: SourceContext) -> str:
    return f"{ctx.config.endpoints.manage}/api/v1.0/{ctx.config.tenant_id}/activity/feed"


def with_publisher(url: str, publisher_id: str) -> str:
    """`url` with PublisherIdentifier added (unless it already carries one)."""
    if "publisheridentifier=" in url.lower():
        return url
    return f"{url}{'&' if '?' in url else '?'}PublisherIdentifier={publisher_id}"


@dataclass(frozen=True, slots=True)
class Plan:
    listing: list[TimeWindow]        # availability (contentCreated) windows to list, 24 h each
    older: TimeWindow | None         # events older than the API's 7 days
    pending: TimeWindow | None       # events whose content may not be available yet
    at: datetime                     # the moment the plan was made (kept across resumes)


def plan(ctx: SourceContext) -> Plan:
    """The listing windows, fixed at the first run: a resumed run keeps the moment it was planned
    at (`planned_at` in the resume state), so its units are the same windows and a finished one is
    never listed again; a later collection is a new run."""
    planned = ctx.state.section(SOURCE).get("planned_at")
    now = parse_iso_utc(planned) if isinstance(planned, str) else ctx.now().replace(microsecond=0)
    if planned is None:
        ctx.state.update(lambda s: s[SOURCE].__setitem__("planned_at", format_iso(now)))
    settle = timedelta(hours=ctx.config.tuning.mgmt_settle_hours)
    start, end = ctx.config.window_start, ctx.config.window_end
    floor = max(start, now - RETENTION + timedelta(minutes=5))
    older = TimeWindow(start, min(floor, end)) if floor > start else None
    if floor >= end:
        return Plan([], older, None, now)
    list_end = min(now, end + settle)
    listing = chunk(TimeWindow(floor, list_end), timedelta(hours=24)) if list_end > floor else []
    pending_from = max(floor, now - settle)
    pending = TimeWindow(pending_from, end) if pending_from < end else None
    return Plan(listing, older, pending, now)


def older_reason(older: TimeWindow, at: datetime, covered_by_ual: bool) -> str:
    """Why the part of the window older than the API's 7 days has nothing from this source."""
    reason = (f"the Management Activity API keeps only the last 7 days (from {format_iso(at - RETENTION)} "
              f"when this collection was planned); this part of the collection window ends at "
              f"{format_iso(older.end)}, so the API has nothing for it")
    return reason + ("; `ual` (also collected) covers this period" if covered_by_ual else
                     "; no other collected source covers it (add `ual` to `sources`)")


def collect(ctx: SourceContext) -> None:
    p = plan(ctx)
    older = p.older
    covered_by_ual = "ual" in ctx.config.sources
    if older is not None:
        ctx.log_event("mgmt.scope", older=older.to_json(), covered_by_ual=covered_by_ual)
    per_type = len(p.listing) + (1 if older else 0) + (1 if p.pending else 0)
    ctx.progress.add_units(SOURCE, len(CONTENT_TYPES) * per_type)
    for content_type in CONTENT_TYPES:
        if older is not None:  # stated even when `ual` covers it: the ledger shows mgmt looked
            _once(ctx, LedgerEntry(SOURCE, f"{content_type}/{older.unit}", older.to_json(), None, 0, 0, 0,
                                   SKIPPED, older_reason(older, p.at, covered_by_ual),
                                   {COVERED_BY: "ual"} if covered_by_ual else {}))
        if not p.listing and p.pending is None:
            continue  # nothing the API can serve: no subscription is started (a write) for nothing
        started = _subscription(ctx, content_type)
        if started is not None:  # a fresh start: nothing before it will ever be listed
            reason = (f"the subscription was started by this collection at {started}; the API lists only "
                      f"content created after a start ({FRESH_START_DELAY} later), so earlier events are not "
                      f"available from this source")
            for window in p.listing + ([p.pending] if p.pending else []):
                _once(ctx, LedgerEntry(SOURCE, f"{content_type}/{window.unit}", window.to_json(), None, 0, 0, 0,
                                       PENDING, reason))
            continue
        failed_reason = None
        for window in p.listing:
            unit = f"{content_type}/{window.unit}"
            done = ctx.state.finished(SOURCE, unit)
            if done is not None and done.status != FAILED:
                continue
            if failed_reason is not None:
                ctx.finish(LedgerEntry(SOURCE, unit, window.to_json(), None, 0, 0, 0, FAILED, failed_reason))
                continue
            try:
                entry = _chunk(ctx, content_type, window, p.at - timedelta(hours=ctx.config.tuning.mgmt_settle_hours))
            except AuthError:
                raise
            except CollectorError as exc:
                code = getattr(exc, "code", None)
                status = SKIPPED if code in OUT_OF_RANGE else FAILED
                reason = str(exc)
                if code in NO_SUBSCRIPTION:
                    reason = failed_reason = (
                        f"no enabled subscription for {content_type}, so the API lists none of its content; "
                        f"starting one writes to the client's tenant: set {START_KEY} = true to allow it "
                        f"(content then appears from the start on) ({exc})")
                entry = LedgerEntry(SOURCE, unit, window.to_json(), None, 0, 0, 0, status, reason)
            ctx.finish(entry)
        if p.pending is not None:
            ctx.finish(LedgerEntry(
                SOURCE, f"{content_type}/pending-{p.pending.unit}", p.pending.to_json(), None, 0, 0, 0, PENDING,
                f"content for these events may not be available yet (it can appear up to "
                f"{ctx.config.tuning.mgmt_settle_hours:g} hours after the events; listed until {format_iso(p.at)}); "
                f"collect again later for this part"))


def _once(ctx: SourceContext, entry: LedgerEntry) -> None:
    if ctx.state.finished(SOURCE, entry.unit) is None:
        ctx.finish(entry)


def _subscription(ctx: SourceContext, content_type: str) -> str | None:
    """Start the subscription when the config allows it; the start time if this run started it
    (a fresh start), None when it was already enabled or starting is not allowed."""
    section = ctx.state.section(SOURCE)
    key = f"started:{content_type}"
    if key in section:
        value = section[key]
        return value if isinstance(value, str) else None
    if not ctx.config.mgmt_start_subscriptions:
        return None
    url = with_publisher(f"{_feed(ctx)}/subscriptions/start?contentType={content_type}", ctx.config.publisher_id)
    resp = ctx.client.request("POST", url, scope=ctx.config.endpoints.manage_scope,
                              accept=lambda status, body: status == 400 and error_code(body) == "AF20024",
                              record=ctx.evidence.recorder(SOURCE, content_type, "start", "mgmt.subscription",
                                                           {"content_type": content_type}))
    fresh = format_iso(ctx.now()) if 200 <= resp.status < 300 else None
    ctx.log_event("mgmt.subscription", content_type=content_type,
                  outcome="started by this collection" if fresh else "already enabled")
    ctx.state.update(lambda s: s[SOURCE].__setitem__(key, fresh or True))
    return fresh


def _chunk(ctx: SourceContext, content_type: str, window: TimeWindow, settled_at: datetime) -> LedgerEntry:
    url = with_publisher(f"{_feed(ctx)}/subscriptions/content?contentType={content_type}"
                         f"&startTime={format_utc_zoneless(window.start)}&endTime={format_utc_zoneless(window.end)}",
                         ctx.config.publisher_id)
    blobs: list[dict[str, Any]] = []
    retries = 0
    context = {"content_type": content_type, "window": window.to_json()}
    first = ctx.state.page(SOURCE, content_type)
    for resp in ctx.client.paginate_next_page_uri(
            url, scope=ctx.config.endpoints.manage_scope, first_page=first,
            follow=lambda link: with_publisher(link, ctx.config.publisher_id),
            record_page=lambda n: ctx.evidence.recorder(SOURCE, content_type, f"list-{n:06d}", "mgmt.listing",
                                                        context)):
        retries += resp.retries
        if isinstance(resp.data, list):
            blobs.extend(b for b in resp.data if isinstance(b, dict) and b.get("contentUri"))
        first += 1
    ctx.state.commit_page(SOURCE, content_type, first - 1)
    results = _download(ctx, content_type, blobs)
    received, ids, failures = 0, set(), []
    for blob, outcome in zip(blobs, results):
        if isinstance(outcome, Exception):
            failures.append(f"{blob.get('contentId')}: {outcome}")
            continue
        count, blob_ids, tries = outcome
        received += count
        ids |= blob_ids
        retries += tries
    extra = {"blobs_listed": len(blobs), "blobs_fetched": len(blobs) - len(failures), "listing": "contentCreated",
             "listing_window": window.to_json()}
    unit = f"{content_type}/{window.unit}"
    if failures:
        return LedgerEntry(SOURCE, unit, window.to_json(), None, received, len(ids), retries, FAILED,
                           f"{len(failures)} of {len(blobs)} blobs not fetched; first: {failures[0]}", extra)
    # `window` is the events this listing vouches for: content listed by availability up to a moment
    # covers events only up to the settle time before it (the rest is the `pending` entry)
    settled, _ = cut(window, settled_at)
    return LedgerEntry(SOURCE, unit, settled.to_json() if settled else None, None, received, len(ids), retries,
                       COMPLETE, "", extra)


def _download(ctx: SourceContext, content_type: str, blobs: list[dict[str, Any]]) -> list[Any]:
    def fetch(blob: dict[str, Any]) -> Any:
        content_id = str(blob.get("contentId") or blob["contentUri"].rsplit("/", 1)[-1])
        try:
            resp = ctx.client.request(
                "GET", with_publisher(_quote_path(blob["contentUri"]), ctx.config.publisher_id),
                scope=ctx.config.endpoints.manage_scope,
                record=ctx.evidence.recorder(SOURCE, content_type, f"blob-{safe_name(content_id)}", MGMT_BLOB,
                                             {"content_type": content_type, "content_id": content_id,
                                              "content_created": blob.get("contentCreated")}))
        except AuthError:
            raise
        except CollectorError as exc:
            return exc
        records = resp.data if isinstance(resp.data, list) else []
        ctx.progress.records(SOURCE, len(records))
        return len(records), {i for i in (record_id(r, "Id") for r in records) if i}, resp.retries

    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="mgmt") as pool:
        return list(pool.map(fetch, blobs))


def _quote_path(url: str) -> str:
    """contentIds contain `$`; keep the URL as the API gave it, only escaping spaces."""
    return quote(url, safe=":/?&=$%#+,;@")
