"""Microsoft Graph's Entra endpoints (docs/microsoft-365.md §10, §11): the sign-in log and the
enterprise applications that can read mail.

`auditLogs/signIns` is served from the scenario's own STS logon records (UserLoggedIn /
UserLoginFailed), so every sign-in agrees with the audit log on time, address, session, app and
user agent. As documented: newest first, at most 1,000 a page, `$filter` on createdDateTime
(ge, gt, le, lt) and, on beta only, `signInEventTypes/any(t: t eq '...')` (without it only
interactive sign-ins come back); `sessionId` and `signInEventTypes` exist on beta only. Needs
AuditLog.Read.All (403 Authorization_RequestDenied) and an Entra ID P1 tenant (403
Authentication_RequestFromNonPremiumTenantOrB2CTenant otherwise). Sign-ins older than 30 days
before the virtual now are gone whatever the filter (Microsoft Entra data retention: 30 days with
P1/P2, the licence the API needs; docs/microsoft-365.md §10.4).

`servicePrincipals`, `servicePrincipals/{id}/appRoleAssignedTo` (Application.Read.All or
Directory.Read.All) and `oauth2PermissionGrants` (DelegatedPermissionGrant.Read.All or
Directory.Read.All) page with `@odata.nextLink`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from evkit.emulator import records as rec
from evkit.emulator.state import State
from evkit.emulator.tokens import permissions
from evkit.emulator.wire import Request, Response, graph_error, iso_z, json_response, odata_top, parse_utc

SIGNIN_MAX_TOP = 1000
SIGNIN_RETENTION = dt.timedelta(days=30)
DIRECTORY_DEFAULT_TOP, DIRECTORY_MAX_TOP = 100, 999
EVENT_TYPES = ("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity")
BETA_ONLY = ("sessionId", "signInEventTypes")
_APP_NAMES = {"00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
              "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
              "9199bf20-a13f-4107-85dc-02114787ef48": "One Outlook Web",
              "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft Office",
              "27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook Mobile"}
_TIME_CLAUSE = re.compile(r"^createdDateTime\s+(ge|gt|le|lt)\s+(\S+)$", re.I)
_TYPE_CLAUSE = re.compile(r"^signInEventTypes/any\(\s*(\w+)\s*:\s*(.+)\)$", re.I)
_TYPE_TERM = re.compile(r"^(\w+)\s+eq\s+'([^']*)'$", re.I)
FAILURES = {50126: "Error validating credentials due to invalid username or password."}


def handle(state: State, req: Request, version: str, rest: list[str]) -> Response | None:
    """The Entra endpoints under /{version}/, or None when the path is not one of them."""
    if req.method != "GET":
        return None
    if rest == ["auditLogs", "signIns"]:
        return (_need(req, ("AuditLog.Read.All",)) or _premium(state)
                or _signins(state, req, version))
    apps = ("Application.Read.All", "Directory.Read.All")
    if rest == ["servicePrincipals"]:
        return _need(req, apps) or _page(req, version, "servicePrincipals", directory(state)["servicePrincipals"])
    if len(rest) == 3 and rest[0] == "servicePrincipals" and rest[2] == "appRoleAssignedTo":
        denied = _need(req, apps)
        if denied:
            return denied
        assigned = directory(state)["appRoleAssignedTo"]
        known = {sp["id"] for sp in directory(state)["servicePrincipals"]}
        if rest[1] not in known:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{rest[1]}' does not exist or one of "
                               f"its queried reference-property objects are not present.")
        return _page(req, version, f"servicePrincipals/{rest[1]}/appRoleAssignedTo", assigned.get(rest[1], []))
    if rest == ["oauth2PermissionGrants"]:
        return (_need(req, ("DelegatedPermissionGrant.Read.All", "Directory.Read.All"))
                or _page(req, version, "oauth2PermissionGrants", state.scenario.apps["oauth2PermissionGrants"]))
    return None


EXCHANGE_APP = "00000002-0000-0ff1-ce00-000000000000"
MANAGE_AS_APP = "dc50a0fb-09a3-484d-be87-e023b12c6440"   # Exchange.ManageAsApp's app role id


def directory(state: State) -> dict[str, Any]:
    """The scenario's applications plus the app the emulator issues tokens to (the collector's
    own registration, granted Exchange.ManageAsApp two hours before the virtual now), as a real
    tenant lists the investigator's app beside everyone else's."""
    apps = state.scenario.apps
    sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"evkit-emulator-sp:{state.client_id}"))
    granted = iso_z(state.now - dt.timedelta(hours=2))
    collector = {"id": sp_id, "appId": state.client_id, "displayName": "evkit collector",
                 "appDisplayName": "evkit collector", "accountEnabled": True, "appOwnerOrganizationId": state.tenant_id,
                 "servicePrincipalType": "Application", "createdDateTime": granted, "appRoles": [],
                 "oauth2PermissionScopes": [], "tags": []}
    exchange = next((sp["id"] for sp in apps["servicePrincipals"] if sp["appId"] == EXCHANGE_APP), None)
    assigned = {k: list(v) for k, v in apps["appRoleAssignedTo"].items()}
    if exchange:
        assigned.setdefault(exchange, []).append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"evkit-emulator-assignment:{state.client_id}")),
            "deletedDateTime": None, "appRoleId": MANAGE_AS_APP, "createdDateTime": granted,
            "principalDisplayName": "evkit collector", "principalId": sp_id, "principalType": "ServicePrincipal",
            "resourceDisplayName": "Office 365 Exchange Online", "resourceId": exchange})
    return {"servicePrincipals": [*apps["servicePrincipals"], collector], "appRoleAssignedTo": assigned,
            "oauth2PermissionGrants": apps["oauth2PermissionGrants"]}


def _need(req: Request, any_of: tuple[str, ...]) -> Response | None:
    if permissions(req.claims) & set(any_of):
        return None
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def _premium(state: State) -> Response | None:
    if state.options.entra_p1:
        return None
    return graph_error(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                       "Neither tenant is B2C or tenant doesn't have premium license")


def _token(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _offset(req: Request) -> int | Response:
    raw = req.query.get("$skiptoken")
    if raw is None:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return int(value["o"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return graph_error(400, "Directory_ExpiredPageToken", "The specified page token value has expired and "
                           "can no longer be included in your request.")


def _page(req: Request, version: str, path: str, items: list[dict[str, Any]], *,
          default: int = DIRECTORY_DEFAULT_TOP, maximum: int = DIRECTORY_MAX_TOP,
          keep: tuple[tuple[str, str], ...] = ()) -> Response:
    top = odata_top(req, default, maximum)
    offset = _offset(req)
    if isinstance(top, Response):
        return top
    if isinstance(offset, Response):
        return offset
    body: dict[str, Any] = {"@odata.context": f"{req.service_url}/{version}/$metadata#{path}",
                            "value": items[offset:offset + top]}
    if offset + top < len(items):
        query = "&".join(f"{k}={v}" for k, v in keep) + ("&" if keep else "")
        body["@odata.nextLink"] = (f"{req.service_url}/{version}/{path}?{query}$top={top}"
                                   f"&$skiptoken={_token({'o': offset + top})}")
    return json_response(200, body)


# --- the sign-in log ---------------------------------------------------------------------------

def _split_and(text: str) -> list[str]:
    """Top-level ` and ` clauses, outer parentheses removed."""
    parts, depth, cur, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text[i:i + 5].lower() == " and ":
            parts.append(cur)
            cur, i = "", i + 5
            continue
        cur += ch
        i += 1
    parts.append(cur)
    out = []
    for part in (p.strip() for p in parts):
        while part.startswith("(") and part.endswith(")") and _balanced(part[1:-1]):
            part = part[1:-1].strip()
        out.append(part)
    return out


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _parse_filter(text: str, version: str) -> tuple[dt.datetime | None, dt.datetime | None, set[str]] | Response:
    start = end = None
    types: set[str] = set()
    for clause in _split_and(text) if text.strip() else []:
        time = _TIME_CLAUSE.match(clause)
        if time:
            try:
                moment = parse_utc(time.group(2))
            except ValueError:
                return graph_error(400, "BadRequest", f"Invalid filter clause: '{time.group(2)}' is not a "
                                   f"DateTimeOffset.")
            op = time.group(1).lower()
            if op in ("ge", "gt"):
                start = moment + dt.timedelta(microseconds=1) if op == "gt" else moment
            else:
                end = moment + dt.timedelta(microseconds=1) if op == "le" else moment
            continue
        kinds = _TYPE_CLAUSE.match(clause)
        if kinds:
            if version != "beta":
                return graph_error(400, "BadRequest", "Could not find a property named 'signInEventTypes' on "
                                   "type 'microsoft.graph.signIn'.")
            var = kinds.group(1)
            for term in re.split(r"\s+or\s+", kinds.group(2).strip(), flags=re.I):
                m = _TYPE_TERM.match(term.strip())
                if not m or m.group(1) != var or m.group(2) not in EVENT_TYPES:
                    return graph_error(400, "BadRequest", f"Invalid filter clause: {clause}")
                types.add(m.group(2))
            continue
        return graph_error(400, "BadRequest", f"Invalid filter clause: {clause}")
    return start, end, types or {"interactiveUser"}


def _signins(state: State, req: Request, version: str) -> Response:
    raw_filter = req.query.get("$filter", "")
    parsed = _parse_filter(raw_filter, version)
    if isinstance(parsed, Response):
        return parsed
    start, end, types = parsed
    sc = state.scenario
    lo = max(start or sc.start, sc.start, state.now - SIGNIN_RETENTION)
    hi = min(end or state.now, state.now)
    users = {str(u.get("userPrincipalName", "")).lower(): u for u in sc.users}
    rows: list[dict[str, Any]] = []
    if lo < hi:
        for record in rec.iter_matching(sc, lo, hi, _is_logon):
            row = sign_in(record, users)
            if row["signInEventTypes"][0] in types:
                rows.append(row if version == "beta" else {k: v for k, v in row.items() if k not in BETA_ONLY})
    rows.sort(key=lambda r: (r["createdDateTime"], r["id"]), reverse=True)
    keep = (("$filter", raw_filter),) if raw_filter else ()
    return _page(req, version, "auditLogs/signIns", rows, default=state.options.signin_page_size,
                 maximum=SIGNIN_MAX_TOP, keep=tuple((k, _quote(v)) for k, v in keep))


def _quote(value: str) -> str:
    return quote(value, safe="")


def _is_logon(record: dict[str, Any]) -> bool:
    return record.get("Operation") in ("UserLoggedIn", "UserLoginFailed")


def _props(record: dict[str, Any], name: str) -> dict[str, str]:
    items = record.get(name)
    if not isinstance(items, list):
        return {}
    return {str(p.get("Name")): str(p.get("Value")) for p in items if isinstance(p, dict)}


def sign_in(record: dict[str, Any], users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Entra sign-in behind one STS logon record (beta shape)."""
    ext, dev = _props(record, "ExtendedProperties"), _props(record, "DeviceProperties")
    interactive = ext.get("RequestType") != "OAuth2:Token"
    upn = str(record.get("UserId", "")).lower()
    user = users.get(upn, {})
    try:
        code = int(record.get("ErrorNumber") or 0)
    except ValueError:
        code = 0
    app = str(record.get("ApplicationId") or "")
    resource = str(record.get("ObjectId") or "")
    ua = ext.get("UserAgent", "")
    return {
        "id": record["Id"], "createdDateTime": iso_z(rec.record_time(record)),
        "userDisplayName": user.get("displayName", ""), "userPrincipalName": upn,
        "userId": record.get("UserKey"), "appId": app, "appDisplayName": _APP_NAMES.get(app, "Mail Sync Tool"
                                                                                       if app else ""),
        "ipAddress": record.get("ActorIpAddress") or record.get("ClientIP"),
        "clientAppUsed": "Browser" if "Mozilla" in ua else "Mobile Apps and Desktop clients",
        "userAgent": ua, "correlationId": record.get("InterSystemsId"),
        "conditionalAccessStatus": "notApplied", "isInteractive": interactive,
        "sessionId": dev.get("SessionId", ""),
        "uniqueTokenIdentifier": base64.urlsafe_b64encode(str(record["Id"]).encode()).decode().rstrip("="),
        "resourceDisplayName": _APP_NAMES.get(resource, ""), "resourceId": resource,
        "riskDetail": "hidden", "riskLevelAggregated": "hidden", "riskLevelDuringSignIn": "hidden",
        "riskState": "none", "riskEventTypes_v2": [],
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "status": {"errorCode": code, "failureReason": FAILURES.get(code, "Other.") if code else None,
                   "additionalDetails": None},
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": dev.get("OS", ""),
                         "browser": dev.get("BrowserType", ""), "isCompliant": False, "isManaged": False,
                         "trustType": ""},
        "location": {"city": "", "state": "", "countryOrRegion": "",
                     "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None}},
        "appliedConditionalAccessPolicies": [], "userType": "member",
    }
