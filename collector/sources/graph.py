"""`graph`: the Graph audit log query API: create, poll, page.

Optional cross-check of `ual`. The query is created on v1.0, and on beta only when v1.0 answers
404; the ledger entry says which answered (`api_version`, docs/emulator-fidelity.md). No user
filter is sent: `userPrincipalNameFilters` matches the actor, not the mailbox, and would drop
delegate, admin and application access; `users` scopes by mailbox owner after collection.
The query id is kept in the resume state as soon as it is known, and the next-page link after
every committed page, so a resumed run polls the same query and continues paging where it
stopped instead of asking Microsoft for a new query. Events within `tuning.ual_settle_hours` of
the collection may not have reached the audit log the query read: that part of the window is a
`pending` ledger entry (collector/sources/settle.py).
"""

from __future__ import annotations

import json
from typing import Any

from evkit.collector.client import Exchange
from evkit.collector.errors import ApiError, AuthError, CollectorError
from evkit.collector.ledger import CAPPED, COMPLETE, COVERED_BY, FAILED, PENDING, SKIPPED, LedgerEntry
from evkit.collector.sources.base import SourceContext, record_id, values
from evkit.collector.sources.settle import cut, settled_before, unsettled_reason
from evkit.collector.windows import TimeWindow
from evkit.evidence.kinds import GRAPH_RECORDS
from evkit.times import format_iso

SOURCE = "graph"
TERMINAL = {"succeeded", "failed", "cancelled"}
MAX_POLLS = 2000
PAGE_SIZE = 1000


VERSIONS = ("v1.0", "beta")


def _queries_url(ctx: SourceContext, version: str | None = None) -> str:
    version = version or ctx.state.section(SOURCE).get("api_version") or VERSIONS[0]
    return f"{ctx.config.endpoints.graph}/{version}/security/auditLog/queries"


def query_body(ctx: SourceContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": f"evkit {ctx.config.case_id}",
        "filterStartDateTime": format_iso(ctx.config.window_start),
        "filterEndDateTime": format_iso(ctx.config.window_end),
        "operationFilters": list(ctx.config.operations),
    }
    return body


def collect(ctx: SourceContext) -> None:
    window = TimeWindow(ctx.config.window_start, ctx.config.window_end)
    ctx.progress.add_units(SOURCE, 1)
    section = ctx.state.section(SOURCE)
    if section.get("done"):
        return
    if ctx.config.cloud in ("gcc-high", "dod"):
        covered = "ual" in ctx.config.sources  # this source is a cross-check of `ual` (docs/collection.md §3.1)
        ctx.finish(LedgerEntry(SOURCE, "query", window.to_json(), None, 0, 0, 0, SKIPPED,
                               f"the Graph audit log query API exists in the commercial cloud only, not in "
                               f"{ctx.config.cloud}" + ("; `ual` (also collected) covers this period" if covered
                                                        else "; no other collected source covers it (add `ual`)"),
                               {COVERED_BY: "ual"} if covered else {}),
                   update=lambda s: s[SOURCE].__setitem__("done", True))
        return
    settled = settled_before(ctx, SOURCE, ctx.config.tuning.ual_settle_hours)
    try:
        entry = _run(ctx, window)
    except AuthError:
        raise
    except CollectorError as exc:
        entry = LedgerEntry(SOURCE, ctx.state.section(SOURCE).get("query_id", "query"), window.to_json(),
                            None, 0, 0, 0, FAILED, str(exc))
        ctx.finish(entry)
        return
    before, after = cut(window, settled)
    if after is not None and entry.status != FAILED:
        # the query read the audit log as it stood: events near its end may not have reached it yet
        reason = unsettled_reason(settled, ctx.config.tuning.ual_settle_hours)
        if before is None:
            entry.status, entry.reason = PENDING, "; ".join(r for r in (entry.reason, reason) if r)
        else:
            entry.window = before.to_json()
            ctx.progress.add_units(SOURCE, 1)
            ctx.finish(LedgerEntry(SOURCE, f"{entry.unit}/unsettled", after.to_json(), None, 0, 0, 0, PENDING, reason))
    ctx.finish(entry, update=lambda s: s[SOURCE].__setitem__("done", True))


def _run(ctx: SourceContext, window: TimeWindow) -> LedgerEntry:
    retries = 0
    query_id = ctx.state.section(SOURCE).get("query_id")
    if query_id is None:
        resp, version = _create(ctx, window)
        query_id = record_id(resp.data, "id")
        if query_id is None:
            raise ApiError("Graph answered the query creation without an id", url=_queries_url(ctx, version))
        retries += resp.retries
        ctx.state.update(lambda s: s[SOURCE].update(query_id=query_id, api_version=version))
    unit = query_id
    query_url = f"{_queries_url(ctx)}/{query_id}"
    query: dict[str, Any] = {}
    for _ in range(MAX_POLLS):
        number = ctx.state.page(SOURCE, unit + "#poll")
        resp = ctx.client.request("GET", query_url, scope=ctx.config.endpoints.graph_scope,
                                  record=ctx.evidence.recorder(SOURCE, unit, f"poll-{number:04d}", "graph.query",
                                                               {"query_id": query_id}))
        ctx.state.commit_page(SOURCE, unit + "#poll", number)
        retries += resp.retries
        query = resp.data if isinstance(resp.data, dict) else {}
        if str(query.get("status", "")).lower() in TERMINAL:
            break
        ctx.sleep(ctx.poll_interval)
    status = str(query.get("status", "")).lower()
    if status != "succeeded":
        return LedgerEntry(SOURCE, unit, window.to_json(), None, 0, 0, retries, FAILED,
                           f"the audit log query ended with status {status or 'unknown'!r}")
    section = ctx.state.section(SOURCE)
    next_url = section.get("next") or f"{query_url}/records?$top={PAGE_SIZE}"
    received = int(section.get("received", 0))
    ids: set[str] = set()
    if "next" in section:  # resumed mid-paging: recount what the stored pages hold
        for _sidecar, body in ctx.evidence.read_back(SOURCE, unit, GRAPH_RECORDS):
            ids.update(i for i in (record_id(r, "id") for r in values(_loads(body))) if i)
    while next_url:
        number = ctx.state.page(SOURCE, unit)
        resp = ctx.client.request("GET", next_url, scope=ctx.config.endpoints.graph_scope,
                                  record=ctx.evidence.recorder(SOURCE, unit, f"records-{number:06d}",
                                                               GRAPH_RECORDS, {"query_id": query_id}))
        retries += resp.retries
        rows = values(resp.data)
        received += len(rows)
        ids.update(i for i in (record_id(r, "id") for r in rows) if i)
        ctx.progress.records(SOURCE, len(rows))
        next_url = resp.data.get("@odata.nextLink") if isinstance(resp.data, dict) else None

        def cursor(s: dict[str, Any], nxt: str | None = next_url, n: int = received) -> None:
            s[SOURCE].update(next=nxt, received=n)
        ctx.state.commit_page(SOURCE, unit, number, update=cursor)
    expected = query.get("approximateReturnedRecordCount")
    expected = int(expected) if isinstance(expected, (int, float)) else None
    extra = {"api_version": ctx.state.section(SOURCE).get("api_version", VERSIONS[0])}
    if query.get("isRecordCountLimitExceeded"):
        return LedgerEntry(SOURCE, unit, window.to_json(), expected, received, len(ids), retries, CAPPED,
                           f"the query exceeded its record limit ({query.get('recordCountLimit')})", extra)
    return LedgerEntry(SOURCE, unit, window.to_json(), expected, received, len(ids), retries, COMPLETE, "", extra)


def _create(ctx: SourceContext, window: TimeWindow) -> tuple[Any, str]:
    """POST the query on v1.0, or on beta when v1.0 answers 404; every answer is stored."""
    for version in VERSIONS:
        captured: list[Exchange] = []
        try:
            resp = ctx.client.request("POST", _queries_url(ctx, version), scope=ctx.config.endpoints.graph_scope,
                                      json_body=query_body(ctx), record=captured.append)
        except ApiError as exc:
            if exc.status == 404 and version != VERSIONS[-1]:
                continue
            raise
        finally:
            unit = "create" if not captured or not _created_id(captured[-1]) else _created_id(captured[-1])
            for ex in captured:
                ctx.evidence.store(SOURCE, unit, f"create-{version}" if version != VERSIONS[0] else "create",
                                   "graph.query", ex, {"window": window.to_json(), "api_version": version})
        return resp, version
    raise AssertionError("unreachable")


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _created_id(ex: Exchange) -> str | None:
    if not 200 <= ex.status < 300:
        return None
    try:
        data = json.loads(ex.body)
    except ValueError:
        return None
    value = record_id(data, "id")
    return value if value and value.replace("-", "").isalnum() else None
