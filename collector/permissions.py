"""What each API call needs from the tenant, and the exact fix when it is missing.

An API that refuses a valid token (401 after a refresh, or 403) is answering "this app lacks a
permission or role". `missing(exc, cfg)` turns such an AuthError into a PermissionMissing whose
message names the permission or Exchange role group and how to grant it; `evkit collect --check`
and the collection ledger print the same message (README "Permissions").

Exchange RBAC for an app is not an Entra app permission: its service principal is registered in
Exchange Online with New-ServicePrincipal and added to a role group with Add-RoleGroupMember
(docs/emulator-fidelity.md, "Roles and permissions").
"""

from __future__ import annotations

from dataclasses import dataclass

from evkit.collector.config import CollectConfig
from evkit.collector.errors import AuthError

GRAPH_API = "Microsoft Graph"
MANAGE_API = "Office 365 Management APIs"
EXCHANGE_API = "Office 365 Exchange Online"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing the app needs: an Entra application permission or an Exchange role group."""

    name: str
    kind: str   # "app-permission" | "role-group" | "licence"
    api: str = ""

    def fix(self, cfg: CollectConfig) -> str:
        app = cfg.auth.client_id
        if self.kind == "licence":
            return (f"the tenant needs {self.name} (or P2) for the sign-in log API: without it the report "
                    f"falls back to the audit log's UserLoggedIn records and states the gap")
        if self.kind == "role-group":
            return (f"in Exchange Online PowerShell register the app's service principal once with "
                    f"New-ServicePrincipal -AppId {app} -ObjectId <its Enterprise application object id> "
                    f"-DisplayName evkit, then Add-RoleGroupMember -Identity \"{self.name}\" "
                    f"-Member <that object id>")
        return (f"in Entra, App registrations > {app} > API permissions: add the application permission "
                f"{self.name} ({self.api}) and grant admin consent")

    def describe(self, cfg: CollectConfig) -> str:
        what = {"role-group": "Exchange role group", "licence": "licence"}.get(self.kind, "application permission")
        return f"missing {what} {self.name}: {self.fix(cfg)}"


EXCHANGE_APP = Requirement("Exchange.ManageAsApp", "app-permission", EXCHANGE_API)
AUDIT_LOGS_GROUP = Requirement("View-Only Audit Logs", "role-group")
ORG_VIEW_GROUP = Requirement("View-Only Organization Management", "role-group")
# Get-InboxRule and Get-RecipientPermission are in the Mail Recipients role only: no view-only role
# group or Global Reader runs them (docs/microsoft-365.md §8.1).
RECIPIENT_GROUP = Requirement("Recipient Management", "role-group")
MAIL_RECIPIENTS_CMDLETS = frozenset({"get-inboxrule", "get-recipientpermission"})
ACTIVITY_FEED = Requirement("ActivityFeed.Read", "app-permission", MANAGE_API)
AUDIT_QUERY = Requirement("AuditLogsQuery.Read.All", "app-permission", GRAPH_API)
ORGANIZATION = Requirement("Organization.Read.All", "app-permission", GRAPH_API)
USERS = Requirement("User.Read.All", "app-permission", GRAPH_API)
MAIL_BASIC = Requirement("Mail.ReadBasic.All", "app-permission", GRAPH_API)  # evkit resolve only
# the sign-in log's documentation asks for AuditLog.Read.All and Directory.Read.All together
# (docs/microsoft-365.md §10); the refusal names both
SIGNIN_LOG = Requirement("AuditLog.Read.All and Directory.Read.All", "app-permission", GRAPH_API)
ENTRA_P1 = Requirement("Microsoft Entra ID P1", "licence")
APPLICATIONS = Requirement("Application.Read.All", "app-permission", GRAPH_API)
GRANTS = Requirement("DelegatedPermissionGrant.Read.All", "app-permission", GRAPH_API)
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
ALL = (EXCHANGE_APP, AUDIT_LOGS_GROUP, ORG_VIEW_GROUP, ACTIVITY_FEED, AUDIT_QUERY, ORGANIZATION, USERS,
       RECIPIENT_GROUP, SIGNIN_LOG, APPLICATIONS, GRANTS)


class PermissionMissing(AuthError):
    """The API refused a valid token: the app lacks `requirement` (the message says how to fix it)."""

    def __init__(self, message: str, requirement: Requirement) -> None:
        super().__init__(message)
        self.requirement = requirement


def requirement_for(url: str, status: int | None, cmdlet: str | None = None,
                    code: str | None = None) -> Requirement | None:
    """What a refusal (`status` 401/403, with the service's error `code`) of a call to `url` means
    the app (or the tenant) is missing."""
    path = url.split("?", 1)[0]
    if status not in (401, 403):
        return None
    if code == NON_PREMIUM:
        return ENTRA_P1
    if path.endswith("/auditLogs/signIns"):
        return SIGNIN_LOG
    if "/servicePrincipals" in path:
        return APPLICATIONS
    if path.endswith("/oauth2PermissionGrants"):
        return GRANTS
    if path.endswith("/InvokeCommand"):
        if status == 401:
            return EXCHANGE_APP
        if (cmdlet or "").lower() in MAIL_RECIPIENTS_CMDLETS:
            return RECIPIENT_GROUP
        return AUDIT_LOGS_GROUP if (cmdlet or "").lower() == "search-unifiedauditlog" else ORG_VIEW_GROUP
    if "/activity/feed/" in path:
        return ACTIVITY_FEED
    if "/security/auditLog/queries" in path:
        return AUDIT_QUERY
    if path.endswith("/subscribedSkus"):
        return ORGANIZATION
    if path.endswith("/messages") or path.endswith("/$batch"):
        return MAIL_BASIC
    if "/users" in path:
        return USERS
    return None


def missing(exc: AuthError, cfg: CollectConfig, cmdlet: str | None = None) -> PermissionMissing | None:
    """The PermissionMissing an API's refusal stands for, or None (e.g. no token at all)."""
    if isinstance(exc, PermissionMissing):
        return exc
    url, status = getattr(exc, "url", "") or "", getattr(exc, "status", None)
    need = requirement_for(url, status, cmdlet, getattr(exc, "code", None))
    if need is None:
        return None
    host = url.split("/")[2] if "://" in url else url
    return PermissionMissing(f"{need.describe(cfg)} (HTTP {status} from {host})", need)
