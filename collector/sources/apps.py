"""`apps`: the applications that can read mail (docs/collection.md §1).

Three Graph v1.0 collections, each a unit paged through `@odata.nextLink`: every service
principal (with the permission catalogues of the resource apps), every delegated permission
grant (`oauth2PermissionGrants`: who consented to which scopes, but no consent time), and the
application permissions granted on the two resources that hold mail permissions, Microsoft Graph
and Office 365 Exchange Online (`servicePrincipals/{id}/appRoleAssignedTo`, with the grant's
`createdDateTime`). Which grants carry Mail.*, EWS or Exchange access, and when a delegated grant
was consented (the audit log's "Consent to application." record), is the report's reading
(docs/microsoft-365.md §11). Needs Application.Read.All and DelegatedPermissionGrant.Read.All
(or Directory.Read.All); each unit fails on its own with the fix named.
"""

from __future__ import annotations

from typing import Any

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.ledger import COMPLETE, FAILED, SKIPPED, LedgerEntry
from evkit.collector.permissions import missing
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.odata import paged_unit, stored_rows
from evkit.evidence.kinds import apps_kind

SOURCE = "apps"
# The resource apps whose permissions reach mail: Microsoft Graph (Mail.*) and Office 365
# Exchange Online (EWS.AccessAsUser.All, full_access_as_app, Exchange.ManageAsApp).
RESOURCES = {"graph": "00000003-0000-0000-c000-000000000000", "exchange": "00000002-0000-0ff1-ce00-000000000000"}


def _unit(ctx: SourceContext, unit: str, url: str, kind: str, context: dict[str, Any] | None = None) -> None:
    done = ctx.state.finished(SOURCE, unit)
    if done is not None and done.status == COMPLETE:
        return
    try:
        got = paged_unit(ctx, SOURCE, unit, url, kind, context)
    except CollectorError as exc:
        reason = str(missing(exc, ctx.config) or exc) if isinstance(exc, AuthError) else str(exc)
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, reason))
        return
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, got.received, len(got.ids), got.retries, COMPLETE, ""))


def collect(ctx: SourceContext) -> None:
    graph = f"{ctx.config.endpoints.graph}/v1.0"
    ctx.progress.add_units(SOURCE, 2 + len(RESOURCES))
    _unit(ctx, "servicePrincipals", f"{graph}/servicePrincipals?$top=999", apps_kind("servicePrincipals"))
    _unit(ctx, "oauth2PermissionGrants", f"{graph}/oauth2PermissionGrants", apps_kind("oauth2PermissionGrants"))
    principals = stored_rows(ctx, SOURCE, "servicePrincipals", apps_kind("servicePrincipals"))
    listed = ctx.state.finished(SOURCE, "servicePrincipals")
    for name, app_id in RESOURCES.items():
        unit = f"appRoleAssignedTo-{name}"
        done = ctx.state.finished(SOURCE, unit)
        if done is not None and done.status == COMPLETE:
            continue
        resource = next((p for p in principals if isinstance(p, dict) and p.get("appId") == app_id), None)
        if resource is None or not isinstance(resource.get("id"), str):
            listing_ok = listed is not None and listed.status == COMPLETE
            ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, SKIPPED if listing_ok else FAILED,
                                   f"no service principal with appId {app_id} in the tenant's listing" if listing_ok
                                   else "the service principal listing failed, so the resource is unknown"))
            continue
        _unit(ctx, unit, f"{graph}/servicePrincipals/{resource['id']}/appRoleAssignedTo",
              apps_kind("appRoleAssignedTo"), {"resource_app_id": app_id, "resource_id": resource["id"]})
