"""`licences`: licence coverage from Graph (m365-apis.md 5): subscribedSkus, every user's
assignedLicenses/assignedPlans (where M365_ADVANCED_AUDITING shows), and licenseDetails per
in-scope user. Licence-change events come through `ual` (they are in the default operations).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.evidence import subject_name
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry
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


def _unit(ctx: SourceContext, unit: str, url: str, kind: str, context: dict[str, Any] | None = None,
          keep: Any = None) -> list[Any] | None:
    done = ctx.state.finished(SOURCE, unit)
    if done is not None and done.status == COMPLETE:
        return None
    try:
        rows, retries = _collection(ctx, unit, url, kind, context)
    except CollectorError as exc:
        if isinstance(exc, AuthError) and unit == "subscribedSkus":
            raise
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, str(exc)), lazy="/" in unit)
        return None
    ctx.progress.records(SOURCE, len(rows))
    kept = keep(rows) if keep is not None else None
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len({record_id(r, "id", "skuId") for r in rows}),
                           retries, COMPLETE, ""),
               update=(lambda s: s.setdefault(SOURCE, {}).__setitem__("users", kept)) if keep is not None else None,
               lazy="/" in unit)
    return rows


def collect(ctx: SourceContext) -> None:
    graph = f"{ctx.config.endpoints.graph}/v1.0"
    ctx.progress.add_units(SOURCE, 2)
    _unit(ctx, "subscribedSkus", f"{graph}/subscribedSkus", licences_kind("subscribedSkus"))
    _unit(ctx, "users", f"{graph}/users?$select={USER_FIELDS}&$top=999", licences_kind("users"),
          keep=lambda rows: [{"id": u.get("id"), "upn": u.get("userPrincipalName")}
                             for u in rows if isinstance(u, dict)])
    listed = ctx.state.section(SOURCE).get("users") or []
    wanted = {u.lower() for u in ctx.config.users}
    targets = list({str(u.get("upn") or u["id"]).lower(): u for u in listed
                    if u.get("id") and (not wanted or str(u.get("upn", "")).lower() in wanted)}.values())
    ctx.progress.add_units(SOURCE, len(targets))

    def details(user: dict[str, Any]) -> None:
        name = user.get("upn") or user["id"]
        _unit(ctx, f"licenseDetails/{subject_name(str(name))}", f"{graph}/users/{quote(user['id'])}/licenseDetails",
              licences_kind("licenseDetails"), {"user": name, "user_id": user["id"]})

    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="lic") as pool:
        list(pool.map(details, targets))
