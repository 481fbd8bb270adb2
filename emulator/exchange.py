"""Exchange Online adminapi `InvokeCommand` (docs/microsoft-365.md §6.5) and the cmdlets the collector uses:
Search-UnifiedAuditLog (3.1), Get-Mailbox, Get-OrganizationConfig, Get-AdminAuditLogConfig,
Get-MailboxAuditBypassAssociation and Get-MailboxFolderStatistics."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

from evkit.emulator import mailbox_cmdlets, ual
from evkit.emulator.options import (AUDIT_LOG_GROUP, EXCHANGE_ADMIN_ROLE_ID, EXCHANGE_ROLE_GROUPS, ORG_VIEW_GROUP,
                                    RECIPIENT_GROUP)
from evkit.emulator.state import State
from evkit.emulator.tokens import permissions
from evkit.emulator.wire import Request, Response, adminapi_error, json_response, nul_forbidden

_ROUTE = re.compile(r"^/adminapi/(?:beta|v1\.0)/(?P<tenant>[^/]+)/InvokeCommand$")
MORE_RESULTS = ("There are more results available than are currently displayed. To view them, increase the value "
                "for the ResultSize parameter.")
DEFAULT_RESULT_SIZE = 1000
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
BINDING = "System.Management.Automation.ParameterBindingException"
VALIDATION = "System.Management.Automation.ParameterBindingValidationException"

# cmdlet -> accepted parameters (PowerShell binds names case-insensitively)
CMDLETS: dict[str, tuple[str, ...]] = {
    "Search-UnifiedAuditLog": ual.PARAMETERS,
    "Get-Mailbox": ("Identity", "ResultSize", "RecipientTypeDetails", "PropertySets", "Properties", "Filter"),
    "Get-OrganizationConfig": (),
    "Get-AdminAuditLogConfig": (),
    "Get-MailboxAuditBypassAssociation": ("Identity", "ResultSize"),
    "Get-MailboxFolderStatistics": ("Identity", "FolderScope", "ResultSize", "IncludeOldestAndNewestItems"),
    **mailbox_cmdlets.PARAMETERS,
}
# Get-EXOMailbox's parameters, which Get-Mailbox over InvokeCommand does not have (current only;
# legacy accepts them as the older emulator did). docs/emulator-fidelity.md.
EXO_ONLY = {"Get-Mailbox": ("PropertySets", "Properties")}
# The Exchange role group that opens each cmdlet to a service principal (current).
ROLE_GROUP_OF = {"Search-UnifiedAuditLog": AUDIT_LOG_GROUP,
                 **{c: RECIPIENT_GROUP for c in mailbox_cmdlets.MAIL_RECIPIENTS_CMDLETS}}
GLOBAL_READER_ROLE_ID = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
# Entra directory roles that open every cmdlet the collector runs (app-only Exchange access).
FULL_ACCESS_ROLE_IDS = {EXCHANGE_ADMIN_ROLE_ID,
                        "62e90394-69f5-4237-9190-012177145e10",   # Global Administrator
                        GLOBAL_READER_ROLE_ID,
                        "17315797-102d-40b4-93e0-432062caca18"}   # Compliance Administrator


def role_groups(state: State) -> set[str]:
    """The role groups the app's service principal is a member of (current)."""
    return {g for g in EXCHANGE_ROLE_GROUPS if g not in state.options.withhold}


def allowed(state: State, claims: dict[str, Any], cmdlet: str) -> bool:
    """Whether the app may run `cmdlet`: a directory role opening everything, or (current only)
    membership of the role group that holds the cmdlet's role."""
    roles = FULL_ACCESS_ROLE_IDS - ({GLOBAL_READER_ROLE_ID} if cmdlet in mailbox_cmdlets.MAIL_RECIPIENTS_CMDLETS
                                    else set())
    if roles & set(claims.get("wids") or []):
        return True
    if not state.options.current:
        return False
    return ROLE_GROUP_OF.get(cmdlet, ORG_VIEW_GROUP) in role_groups(state)


def handle(state: State, req: Request) -> Response:
    m = _ROUTE.match(req.path)
    if not m or req.method != "POST":
        return nul_forbidden()
    moved = tenant_host_redirect(state, req)
    if moved is not None:
        return moved
    tenant = m.group("tenant")
    if not state.tenant_matches(tenant) or str(req.claims.get("tid", "")).lower() != state.tenant_id.lower():
        return Response(401, b"", {"Content-Type": "text/html"})
    perms = permissions(req.claims)
    if "Exchange.ManageAsApp" not in perms:
        return Response(401, b"", {"Content-Type": "text/html"})   # neither grant -> 401 (6.5)
    if not state.options.current and EXCHANGE_ADMIN_ROLE_ID not in (req.claims.get("wids") or []):
        return nul_forbidden()                                      # app role without directory role -> 403
    try:
        body = req.json()
        cmdlet_input = body["CmdletInput"]
        name = cmdlet_input["CmdletName"]
        params = cmdlet_input.get("Parameters") or {}
        if not isinstance(name, str) or not isinstance(params, dict):
            raise TypeError
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        return adminapi_error("Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                              "The request body must be {\"CmdletInput\":{\"CmdletName\":...,\"Parameters\":{...}}}.")
    cmdlet = next((c for c in CMDLETS if c.lower() == name.lower()), None)
    if cmdlet is None or cmdlet in state.options.deny_cmdlets or not allowed(state, req.claims, cmdlet):
        return nul_forbidden()  # unknown or unauthorized cmdlet: a run of NUL bytes (6.5)
    accepted = [p for p in CMDLETS[cmdlet] if not (state.options.current and p in EXO_ONLY.get(cmdlet, ()))]
    bound: dict[str, Any] = {}
    for key, value in params.items():
        canonical = next((p for p in accepted if p.lower() == str(key).lower()), None)
        if canonical is None:
            return adminapi_error(BINDING, f"A parameter cannot be found that matches parameter name '{key}'.")
        bound[canonical] = value
    ctx = Context(state, req, tenant)
    if cmdlet == "Search-UnifiedAuditLog":
        result = ual.search(state, req, bound)
        if isinstance(result, Response):
            return result
        return ctx.encoded_envelope(result.rows, result.warnings)
    if cmdlet == "Get-OrganizationConfig":
        return ctx.envelope([annotate(state.scenario.org_config)], [])
    if cmdlet == "Get-AdminAuditLogConfig":
        return ctx.envelope([annotate(state.scenario.admin_audit_log_config)], [])
    if cmdlet == "Get-Mailbox":
        return _get_mailbox(ctx, bound)
    if cmdlet in mailbox_cmdlets.PARAMETERS:
        return mailbox_cmdlets.handle(cmdlet, ctx, bound, lambda i: _mailbox_of(state, i), _not_found)
    if cmdlet == "Get-MailboxAuditBypassAssociation":
        items = list(state.scenario.bypass_associations)
        if "Identity" in bound:
            items = [b for b in items if _matches(b, str(bound["Identity"]))]
            if not items:
                return _not_found(str(bound["Identity"]))
        return ctx.paged(items, bound)
    return _folder_statistics(ctx, bound)


TENANT_HOST = "localhost"  # the emulator's stand-in for a tenant-specific Exchange host


def tenant_host_redirect(state: State, req: Request) -> Response | None:
    """Current service: the generic front door sends the tenant's calls on to a tenant-specific
    host with a 307 (method and body kept); calls that arrive there are served."""
    if state.options.service != "current":
        return None
    host = (req.header("host") or "").rsplit(":", 1)[0].strip("[]").lower()
    if host == TENANT_HOST:
        return None
    scheme, _, rest = req.base_url.partition("://")
    port = rest.rsplit(":", 1)[1] if ":" in rest else ""
    target = f"{scheme}://{TENANT_HOST}{':' + port if port else ''}/{req.service}{req.path}"
    if req.raw_query:
        target += "?" + req.raw_query
    return Response(307, b"", {"Location": target, "Content-Type": "text/html"})


class Context:
    """Builds the adminapi envelope and its @odata.nextLink paging for one request."""

    def __init__(self, state: State, req: Request, tenant: str) -> None:
        self.state, self.req, self.tenant = state, req, tenant

    def envelope(self, rows: list[dict[str, Any]], warnings: list[str], next_link: str | None = None) -> Response:
        body: dict[str, Any] = {
            "@odata.context": f"{self.req.service_url}/adminapi/beta/{self.tenant}/$metadata#Collection("
                              f"Exchange.GenericHashTable)",
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": warnings,
            "value": rows,
        }
        if next_link:
            body["@odata.nextLink"] = next_link
        return json_response(200, body)

    def encoded_envelope(self, rows: list[bytes], warnings: list[str]) -> Response:
        """envelope(rows, warnings) for rows already encoded by wire.dumps: the same bytes, joined
        instead of encoded again (a Search-UnifiedAuditLog page is megabytes of AuditData)."""
        head = self.envelope([], warnings).body
        assert head.endswith(b'"value":[]}')
        body = b"".join((head[:-2], b",".join(rows), b"]}"))
        return Response(200, body, {"Content-Type": "application/json; charset=utf-8"})

    def page_size(self) -> int:
        prefer = self.req.header("prefer") or ""
        m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", prefer)
        return max(1, int(m.group(1))) if m else self.state.options.exchange_page_size

    def paged(self, items: list[dict[str, Any]], bound: dict[str, Any]) -> Response:
        """ResultSize limit (default 1000, or Unlimited) and page-size paging by @odata.nextLink."""
        raw = bound.get("ResultSize", DEFAULT_RESULT_SIZE)
        if str(raw).lower() == "unlimited":
            limit = len(items)
        else:
            try:
                limit = int(raw)
                if limit < 1:
                    raise ValueError
            except (TypeError, ValueError):
                return adminapi_error(VALIDATION, f"Cannot process argument transformation on parameter "
                                      f"'ResultSize'. Cannot convert value \"{raw}\" to type "
                                      f"\"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\".")
        offset = 0
        token = self.req.query.get("$skiptoken")
        if token is not None:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                return adminapi_error("Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                                      "Expired or Invalid pagination request. Default Expiry time is 00:30:00")
        stop = min(limit, len(items), offset + self.page_size())
        rows = [annotate(i) for i in items[offset:stop]]
        next_link = None
        if stop < min(limit, len(items)):
            skip = base64.urlsafe_b64encode(json.dumps({"o": stop}).encode()).decode().rstrip("=")
            next_link = (f"{self.req.service_url}/adminapi/beta/{self.tenant}/InvokeCommand?"
                         f"{quote('$skiptoken')}={skip}")
        warnings = [MORE_RESULTS] if limit < len(items) and stop >= limit else []
        return self.envelope(rows, warnings, next_link)


def annotate(row: dict[str, Any]) -> dict[str, Any]:
    """Add `<Prop>@odata.type: #Collection(String)` beside multi-valued properties (6.2)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list) and f"{key}@odata.type" not in row and "@" not in key:
            out[f"{key}@odata.type"] = "#Collection(String)"
        out[key] = value
    return out


_IDENTITY_KEYS = ("Identity", "UserPrincipalName", "PrimarySmtpAddress", "Alias", "Name", "DisplayName",
                  "ExternalDirectoryObjectId", "Guid", "ExchangeGuid", "Id", "ObjectId", "DistinguishedName")


def _matches(item: dict[str, Any], identity: str) -> bool:
    wanted = identity.strip().lower()
    for key in _IDENTITY_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value.lower() == wanted:
            return True
    for address in item.get("EmailAddresses") or []:
        if isinstance(address, str) and address.split(":", 1)[-1].lower() == wanted:
            return True
    return False


def _not_found(identity: str) -> Response:
    return adminapi_error(NOT_FOUND, f"The operation couldn't be performed because object '{identity}' couldn't be "
                          f"found on 'AM0PR01A011DC01.EURPR01A011.PROD.OUTLOOK.COM'.")


_AUDIT_SET_BASE = ("Identity", "Name", "Alias", "DisplayName", "UserPrincipalName", "PrimarySmtpAddress",
                   "ExternalDirectoryObjectId", "ExchangeGuid", "Guid", "RecipientTypeDetails")


def _property_set(mailbox: dict[str, Any], sets: list[str], properties: list[str]) -> dict[str, Any]:
    if not sets and not properties:
        return mailbox
    keep = set(_AUDIT_SET_BASE) | set(properties)
    if any(s.lower() == "audit" for s in sets):
        keep |= {k for k in mailbox if k.startswith("Audit") or k == "DefaultAuditSet"}
    if any(s.lower() in ("all", "minimum") for s in sets):
        keep |= set(mailbox)
    return {k: v for k, v in mailbox.items() if k.split("@", 1)[0] in keep}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _mailbox_of(state: State, identity: str) -> dict[str, Any] | None:
    return next((m for m in state.scenario.mailboxes if _matches(m, identity)), None)


def _get_mailbox(ctx: Context, bound: dict[str, Any]) -> Response:
    # forwarding settings and send-on-behalf delegates from the mailbox state (docs/microsoft-365.md §8.3)
    settings = mailbox_cmdlets.state_of(ctx.state.scenario)["settings"]
    mailboxes = [m | settings.get(m["UserPrincipalName"], {}) for m in ctx.state.scenario.mailboxes]
    if "Identity" in bound:
        mailboxes = [m for m in mailboxes if _matches(m, str(bound["Identity"]))]
        if not mailboxes:
            return _not_found(str(bound["Identity"]))
    types = {t.lower() for t in _as_list(bound.get("RecipientTypeDetails"))}
    if types:
        mailboxes = [m for m in mailboxes if str(m.get("RecipientTypeDetails", "")).lower() in types]
    sets, props = _as_list(bound.get("PropertySets")), _as_list(bound.get("Properties"))
    return ctx.paged([_property_set(m, sets, props) for m in mailboxes], bound)


def _folder_statistics(ctx: Context, bound: dict[str, Any]) -> Response:
    identity = bound.get("Identity")
    if not identity:
        return adminapi_error(VALIDATION, "Cannot validate argument on parameter 'Identity'. The argument is null "
                              "or empty. Provide an argument that is not null or empty, and then try the command "
                              "again.")
    mailbox = next((m for m in ctx.state.scenario.mailboxes if _matches(m, str(identity))), None)
    if mailbox is None:
        return _not_found(str(identity))
    upn = mailbox.get("UserPrincipalName") or mailbox.get("PrimarySmtpAddress") or str(identity)
    return ctx.paged(list(ctx.state.scenario.folder_statistics(upn)), bound)
