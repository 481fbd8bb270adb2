"""The tenant's enterprise applications: service principals, delegated permission grants and
app role assignments, as Microsoft Graph v1.0 serves them (docs/microsoft-365.md §11).

Two resource service principals carry the permission catalogues (Microsoft Graph and Office 365
Exchange Online, with real permission ids); a benign line-of-business app was granted the
Graph application permission Mail.Send long before the window; the attacker's app (planned by
the scenario) is granted delegated Mail.Read by the compromised user inside the window. The
ground truth lists every app holding a mail permission with who consented and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.ids import guid_from

# Permission ids as Microsoft publishes them (Graph permissions reference; Exchange Online's
# app-only permissions): delegated scopes (oauth2PermissionScopes) and application roles.
GRAPH_SCOPES = {
    "Mail.Read": "570282fd-fa5d-430d-a7fd-fc8dc98a9dca",
    "Mail.ReadWrite": "024d486e-b451-40bb-833d-3e66d98c5c73",
    "Mail.Send": "e383f46e-2787-4529-855e-0e479a3ffac0",
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
}
GRAPH_ROLES = {
    "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}
EXCHANGE_SCOPES = {"EWS.AccessAsUser.All": "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5"}
EXCHANGE_ROLES = {
    "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
}
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"   # appOwnerOrganizationId of first-party apps

BENIGN_APP_ID = "7d3c1a52-2222-4333-8444-555566667777"
BENIGN_APP_NAME = "Contoso Expenses Mailer"
BENIGN_GRANTED = "2022-03-14T10:21:07Z"


@dataclass(frozen=True, slots=True)
class Consent:
    """A user's delegated consent to an app, planned by the scenario's attacker."""

    t: int
    app_id: str
    app_name: str
    user: str           # UPN
    user_id: str        # object id
    scopes: tuple[str, ...]


def sp_id(key: object, app_id: str) -> str:
    """The object id of an app's service principal in this tenant."""
    return guid_from(key, "service-principal", app_id)


def _z(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sp(key: object, app_id: str, name: str, owner: str, created: str, *,
        scopes: dict[str, str] | None = None, roles: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": sp_id(key, app_id), "appId": app_id, "displayName": name, "appDisplayName": name,
        "accountEnabled": True, "appOwnerOrganizationId": owner, "servicePrincipalType": "Application",
        "signInAudience": "AzureADMultipleOrgs", "createdDateTime": created,
        "publisherName": "Microsoft Services" if owner == MICROSOFT_TENANT else None,
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "appRoles": [{"id": rid, "value": v, "displayName": v, "allowedMemberTypes": ["Application"],
                      "isEnabled": True, "origin": "Application", "description": v}
                     for v, rid in (roles or {}).items()],
        "oauth2PermissionScopes": [{"id": sid, "value": v, "type": "User", "isEnabled": True,
                                    "adminConsentDisplayName": v, "userConsentDisplayName": v}
                                   for v, sid in (scopes or {}).items()],
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
    }


def directory(key: object, tenant_id: str, consents: list[Consent], admin_id: str) -> dict[str, Any]:
    """servicePrincipals, oauth2PermissionGrants and app role assignments per resource."""
    graph = _sp(key, C.GRAPH_APP, "Microsoft Graph", MICROSOFT_TENANT, "2021-01-05T09:00:00Z",
                scopes=GRAPH_SCOPES, roles=GRAPH_ROLES)
    exchange = _sp(key, C.EXCHANGE_APP, "Office 365 Exchange Online", MICROSOFT_TENANT,
                   "2021-01-05T09:00:00Z", scopes=EXCHANGE_SCOPES, roles=EXCHANGE_ROLES)
    benign = _sp(key, BENIGN_APP_ID, BENIGN_APP_NAME, tenant_id, "2022-03-14T10:15:44Z")
    sps = [graph, exchange, benign]
    grants: list[dict[str, Any]] = []
    for c in consents:
        if not any(s["appId"] == c.app_id for s in sps):
            sps.append(_sp(key, c.app_id, c.app_name, guid_from(key, "foreign-tenant", c.app_id),
                           _z(c.t)))
        grants.append({"id": guid_from(key, "grant", c.app_id, c.user), "clientId": sp_id(key, c.app_id),
                       "consentType": "Principal", "principalId": c.user_id, "resourceId": graph["id"],
                       "scope": " ".join(c.scopes)})
    # an admin-consented delegated grant every tenant has for its own sign-in app: no mail scope
    grants.append({"id": guid_from(key, "grant", BENIGN_APP_ID, "all"), "clientId": benign["id"],
                   "consentType": "AllPrincipals", "principalId": None, "resourceId": graph["id"],
                   "scope": "User.Read"})
    assigned = {graph["id"]: [{
        "id": guid_from(key, "app-role-assignment", BENIGN_APP_ID), "deletedDateTime": None,
        "appRoleId": GRAPH_ROLES["Mail.Send"], "createdDateTime": BENIGN_GRANTED,
        "principalDisplayName": BENIGN_APP_NAME, "principalId": benign["id"],
        "principalType": "ServicePrincipal", "resourceDisplayName": "Microsoft Graph",
        "resourceId": graph["id"]}], exchange["id"]: []}
    return {"servicePrincipals": sps, "oauth2PermissionGrants": grants, "appRoleAssignedTo": assigned,
            "granted_by": admin_id}


def truth(consents: list[Consent], window_start: int) -> list[dict[str, Any]]:
    """The apps holding a mail permission, with who consented and when (ground truth)."""
    rows = [{"app_id": BENIGN_APP_ID, "display_name": BENIGN_APP_NAME, "permission_type": "application",
             "permissions": ["Mail.Send"], "consented_by": "admin", "consented_at": BENIGN_GRANTED,
             "attacker": False, "in_window": False}]
    for c in consents:
        rows.append({"app_id": c.app_id, "display_name": c.app_name, "permission_type": "delegated",
                     "permissions": [s for s in c.scopes if s.startswith("Mail.")], "consented_by": c.user,
                     "consented_at": _z(c.t), "attacker": True, "in_window": c.t >= window_start})
    return rows
