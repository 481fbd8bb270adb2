"""`licences`: licence coverage from Graph: subscribedSkus and every user's
assignedLicenses/assignedPlans (where M365_ADVANCED_AUDITING shows; assignedPlans dates give the
licence history). Per-user licenseDetails is not asked: it has no application permission
(docs/emulator-fidelity.md). Licence-change events come through `ual` (default operations).
Each of the two units fails on its own, with the permission it lacks named.
"""

from __future__ import annotations

from typing import Any

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry
from evkit.collector.permissions import missing
from evkit.collector.sources.base import SourceContext, record_id, values
from evkit.evidence.kinds import licences_kind

SOURCE = "licences"
USER_FIELDS = "id,userPrincipalName,mail,accountEnabled,assignedLicenses,assignedPlans"


def _collection(ctx: SourceContext, unit: str, url: str, kind: str,
                context: dict[str, Any] | None = None) -> tuple[list[Any], int]:
    rows: list[Any] = []
    retries = 0
    for resp in ctx.client.paginate_odata(
            url, scope=ctx.config.endpoints.graph_scope,
            record_page=lambda n: ctx.evidence.recorder(SOURCE, unit, f"p{n:06d}", kind, context or {})):
        rows.extend(values(resp.data))
        retries += resp.retries
    return rows, retries


def _unit(ctx: SourceContext, unit: str, url: str, kind: str, context: dict[str, Any] | None = None) -> None:
    done = ctx.state.finished(SOURCE, unit)
    if done is not None and done.status == COMPLETE:
        return
    try:
        rows, retries = _collection(ctx, unit, url, kind, context)
    except CollectorError as exc:
        if isinstance(exc, AuthError):
            exc = missing(exc, ctx.config) or exc
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, str(exc)))
        return
    ctx.progress.records(SOURCE, len(rows))
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len({record_id(r, "id", "skuId") for r in rows}),
                           retries, COMPLETE, ""))


def collect(ctx: SourceContext) -> None:
    graph = f"{ctx.config.endpoints.graph}/v1.0"
    ctx.progress.add_units(SOURCE, 2)
    _unit(ctx, "subscribedSkus", f"{graph}/subscribedSkus", licences_kind("subscribedSkus"))
    _unit(ctx, "users", f"{graph}/users?$select={USER_FIELDS}&$top=999", licences_kind("users"))
