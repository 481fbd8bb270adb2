"""`mgmt`: Management Activity API content blobs (m365-apis.md 1) for the last 7 days.

Per content type: start the subscription (AF20024 "already enabled" is success), list the
available content per 24-hour chunk following `NextPageUri`, then download the blobs with a
bounded thread pool. The part of the collection window older than the API's 7 days is
outside this source's scope: when `ual` is collected too it covers that part (and the events
log says so); otherwise it is a `skipped` ledger entry, never a silent hole. A chunk is the unit of resume: one that was not
finished is listed and downloaded again (blob files already stored stay, the new copies sit
beside them as `.r2`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from evkit.collector.client import error_code
from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.evidence import safe_name
from evkit.collector.ledger import COMPLETE, FAILED, SKIPPED, LedgerEntry
from evkit.collector.sources.base import SourceContext, record_id
from evkit.collector.windows import TimeWindow, chunk
from evkit.evidence.kinds import MGMT_BLOB
from evkit.times import format_utc_zoneless

SOURCE = "mgmt"
CONTENT_TYPES = ("Audit.Exchange", "Audit.AzureActiveDirectory", "Audit.General")
RETENTION = timedelta(days=7)
OUT_OF_RANGE = {"AF20030", "AF20055"}


def _feed(ctx: SourceContext) -> str:
    return f"{ctx.config.endpoints.manage}/api/v1.0/{ctx.config.tenant_id}/activity/feed"


def plan(ctx: SourceContext) -> tuple[list[TimeWindow], TimeWindow | None]:
    """24-hour chunks of the window inside the last 7 days, and the older part (skipped)."""
    end = min(ctx.config.window_end, ctx.now())
    if end <= ctx.config.window_start:
        end = ctx.config.window_end
    floor = max(ctx.config.window_start, end - RETENTION + timedelta(minutes=5))
    older = TimeWindow(ctx.config.window_start, floor) if floor > ctx.config.window_start else None
    return chunk(TimeWindow(floor, end), timedelta(hours=24)), older


def collect(ctx: SourceContext) -> None:
    chunks, older = plan(ctx)
    if older is not None:
        ctx.log_event("mgmt.scope", older=older.to_json(), covered_by_ual="ual" in ctx.config.sources)
        if "ual" in ctx.config.sources:
            older = None  # outside this source's 7 days by definition; `ual` covers it (and ledgers it)
    ctx.progress.add_units(SOURCE, len(CONTENT_TYPES) * (len(chunks) + (1 if older else 0)))
    for content_type in CONTENT_TYPES:
        if not _start(ctx, content_type):
            continue
        if older is not None:
            unit = f"{content_type}/{older.unit}"
            if ctx.state.finished(SOURCE, unit) is None:
                ctx.finish(LedgerEntry(SOURCE, unit, older.to_json(), None, 0, 0, 0, SKIPPED,
                                       "the Management Activity API serves only the last 7 days"))
        for window in chunks:
            unit = f"{content_type}/{window.unit}"
            done = ctx.state.finished(SOURCE, unit)
            if done is not None and done.status != FAILED:
                continue
            try:
                entry = _chunk(ctx, content_type, window)
            except AuthError:
                raise
            except CollectorError as exc:
                code = getattr(exc, "code", None)
                status = SKIPPED if code in OUT_OF_RANGE else FAILED
                entry = LedgerEntry(SOURCE, unit, window.to_json(), None, 0, 0, 0, status, str(exc))
            ctx.finish(entry)


def _start(ctx: SourceContext, content_type: str) -> bool:
    """Start (or confirm) the subscription; a failure fails this content type's chunks."""
    if ctx.state.section(SOURCE).get(f"started:{content_type}"):
        return True
    url = f"{_feed(ctx)}/subscriptions/start?contentType={content_type}"
    try:
        ctx.client.request("POST", url, scope=ctx.config.endpoints.manage_scope,
                           accept=lambda status, body: status == 400 and error_code(body) == "AF20024",
                           record=ctx.evidence.recorder(SOURCE, content_type, "start", "mgmt.subscription",
                                                        {"content_type": content_type}))
    except AuthError:
        raise
    except CollectorError as exc:
        ctx.finish(LedgerEntry(SOURCE, f"{content_type}/subscription", None, None, 0, 0, 0, FAILED,
                               f"the subscription could not be started: {exc}"))
        return False
    ctx.state.update(lambda s: s[SOURCE].__setitem__(f"started:{content_type}", True))
    return True


def _chunk(ctx: SourceContext, content_type: str, window: TimeWindow) -> LedgerEntry:
    url = (f"{_feed(ctx)}/subscriptions/content?contentType={content_type}"
           f"&startTime={format_utc_zoneless(window.start)}&endTime={format_utc_zoneless(window.end)}")
    blobs: list[dict[str, Any]] = []
    retries = 0
    context = {"content_type": content_type, "window": window.to_json()}
    first = ctx.state.page(SOURCE, content_type)
    for resp in ctx.client.paginate_next_page_uri(
            url, scope=ctx.config.endpoints.manage_scope, first_page=first,
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
    extra = {"blobs_listed": len(blobs), "blobs_fetched": len(blobs) - len(failures)}
    unit = f"{content_type}/{window.unit}"
    if failures:
        return LedgerEntry(SOURCE, unit, window.to_json(), None, received, len(ids), retries, FAILED,
                           f"{len(failures)} of {len(blobs)} blobs not fetched; first: {failures[0]}", extra)
    return LedgerEntry(SOURCE, unit, window.to_json(), None, received, len(ids), retries, COMPLETE, "", extra)


def _download(ctx: SourceContext, content_type: str, blobs: list[dict[str, Any]]) -> list[Any]:
    def fetch(blob: dict[str, Any]) -> Any:
        content_id = str(blob.get("contentId") or blob["contentUri"].rsplit("/", 1)[-1])
        try:
            resp = ctx.client.request(
                "GET", _quote_path(blob["contentUri"]), scope=ctx.config.endpoints.manage_scope,
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
