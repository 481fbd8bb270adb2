"""Microsoft Graph (docs/microsoft-365.md §2 and §5): subscribedSkus, users with licences, licenseDetails, and
the audit log query API (beta, and v1.0 under --service current; legacy answers 404 on v1.0
unless configured) with Microsoft's live wire
quirks: PascalCase enums, crossed userId/userPrincipalName, clientIp null, `[""]` admin units
and an `auditData` object with `@odata.type` annotations."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from evkit.emulator import mail
from evkit.emulator import entra
from evkit.emulator import records as rec
from evkit.emulator.state import State
from evkit.emulator.tokens import permissions
from evkit.emulator.wire import Request, Response, graph_error, iso_z, json_response, odata_top, parse_utc

USER_DEFAULT_TOP = 100
USER_MAX_TOP = 999
RECORDS_MAX_TOP = 1000
RECORD_COUNT_LIMIT = 1_000_000  # per query (docs/microsoft-365.md §2.4)
_QUERY_FIELDS = ("displayName", "filterStartDateTime", "filterEndDateTime", "recordTypeFilters", "keywordFilter",
                 "serviceFilters", "operationFilters", "userPrincipalNameFilters", "ipAddressFilters",
                 "objectIdFilters", "administrativeUnitIdFilters")


def handle(state: State, req: Request) -> Response:
    parts = [p for p in req.path.split("/") if p]
    if not parts or parts[0] not in ("v1.0", "beta"):
        return _not_found(req)
    version, rest = parts[0], parts[1:]
    if rest == ["$batch"] and req.method == "POST":
        return mail.handle_batch(state, req, version, handle)
    if len(rest) == 3 and rest[0] == "users" and rest[2] == "messages" and req.method == "GET":
        user = _find_user(state, rest[1])
        if user is None:
            return graph_error(404, "ErrorInvalidUser", f"The requested user '{rest[1]}' is invalid.")
        return mail.handle_messages(state, req, version, user)
    if rest == ["subscribedSkus"] and req.method == "GET":
        return _need(req, ("Organization.Read.All", "Directory.Read.All")) or _skus(state, req, version)
    if rest and rest[0] == "users" and req.method == "GET":
        return _need(req, ("User.Read.All", "Directory.Read.All")) or _users(state, req, version, rest[1:])
    if rest[:3] == ["security", "auditLog", "queries"]:
        if version == "v1.0" and not (state.options.current or state.options.graph_v1):
            # live: POST /v1.0/... -> 404 UnknownError with an empty message (docs/microsoft-365.md §2.1)
            return graph_error(404, "UnknownError", "")
        denied = _need(req, ("AuditLogsQuery.Read.All", "AuditLogsQuery-Exchange.Read.All"),
                       code="Forbidden", message="Missing role permissions on the request. API requires one "
                       "of 'AuditLogsQuery.Read.All, AuditLogsQuery-Exchange.Read.All'.")
        return denied or _audit(state, req, version, rest[3:])
    return entra.handle(state, req, version, rest) or _not_found(req)


def _not_found(req: Request) -> Response:
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{req.path.strip('/').split('/')[-1]}'.")


def _need(req: Request, any_of: tuple[str, ...], code: str = "Authorization_RequestDenied",
          message: str = "Insufficient privileges to complete the operation.") -> Response | None:
    if permissions(req.claims) & set(any_of):
        return None
    return graph_error(403, code, message)


def _select(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return item
    wanted = [s.strip() for s in select.split(",") if s.strip()]
    out = {k: item[k] for k in wanted if k in item}
    if "id" in item and "id" not in out:
        out = {"id": item["id"], **out}
    return out


def _skiptoken(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _read_skiptoken(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _skus(state: State, req: Request, version: str) -> Response:
    select = req.query.get("$select")
    skus = [_select(s, select) for s in state.scenario.subscribed_skus]
    return json_response(200, {"@odata.context": f"{req.service_url}/{version}/$metadata#subscribedSkus",
                               "value": skus})


def _find_user(state: State, key: str) -> dict[str, Any] | None:
    lowered = key.lower()
    for user in state.scenario.users:
        if str(user.get("id", "")).lower() == lowered or str(user.get("userPrincipalName", "")).lower() == lowered:
            return user
    return None


def _users(state: State, req: Request, version: str, rest: list[str]) -> Response:
    select = req.query.get("$select")
    if not rest:
        top = odata_top(req, USER_DEFAULT_TOP, USER_MAX_TOP)
        if isinstance(top, Response):
            return top
        offset = 0
        if "$skiptoken" in req.query:
            token = _read_skiptoken(req.query["$skiptoken"])
            if token is None or not isinstance(token.get("o"), int):
                return graph_error(400, "Directory_ExpiredPageToken", "The specified page token value has expired "
                                   "and can no longer be included in your request.")
            offset = token["o"]
        users = state.scenario.users
        page = [_select(u, select) for u in users[offset:offset + top]]
        context = f"{req.service_url}/{version}/$metadata#users" + (f"({select})" if select else "")
        body: dict[str, Any] = {"@odata.context": context, "value": page}
        if offset + top < len(users):
            query = f"$top={top}" + (f"&$select={quote(select, safe=',')}" if select else "")
            body["@odata.nextLink"] = (f"{req.service_url}/{version}/users?{query}"
                                       f"&$skiptoken={_skiptoken({'o': offset + top})}")
        return json_response(200, body)
    user = _find_user(state, rest[0])
    if user is None:
        return graph_error(404, "Request_ResourceNotFound", f"Resource '{rest[0]}' does not exist or one of its "
                           f"queried reference-property objects are not present.")
    if len(rest) == 1:
        body = {"@odata.context": f"{req.service_url}/{version}/$metadata#users/$entity", **_select(user, select)}
        return json_response(200, body)
    if rest[1:] == ["licenseDetails"]:
        if state.options.current and "scp" not in req.claims:
            # no application permission exists for licenseDetails (docs/emulator-fidelity.md)
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        details = [_select(d, select) for d in state.scenario.license_details(user["id"])]
        return json_response(200, {
            "@odata.context": f"{req.service_url}/{version}/$metadata#users('{user['id']}')/licenseDetails",
            "value": details})
    return _not_found(req)


# --- audit log queries ------------------------------------------------------------------------

def _audit(state: State, req: Request, version: str, rest: list[str]) -> Response:
    base = f"{req.service_url}/{version}/security/auditLog/queries"
    if not rest:
        if req.method == "POST":
            return _create_query(state, req, version, base)
        if req.method == "GET":
            with state.lock:
                items = [_query_view(q) for q in state.graph_queries.values()]
            return json_response(200, {"@odata.context": f"{req.service_url}/{version}/$metadata#security/"
                                       f"auditLog/queries", "value": items})
        return graph_error(405, "Request_BadRequest", "Method not allowed.")
    with state.lock:
        query = state.graph_queries.get(rest[0])
    if query is None:
        return graph_error(404, "UnknownError", "")
    if len(rest) == 1 and req.method == "GET":
        _advance(state, query)
        return json_response(200, {"@odata.context": f"{req.service_url}/{version}/$metadata#security/auditLog/"
                                   f"queries/$entity", **_query_view(query)})
    if rest[1:] == ["records"] and req.method == "GET":
        return _records(state, req, version, query, f"{base}/{query['id']}/records")
    return _not_found(req)


def _query_view(query: dict[str, Any]) -> dict[str, Any]:
    view = {k: query[k] for k in ("id", *_QUERY_FIELDS, "status")}
    view["serviceFilter"] = query["serviceFilter"]
    if query["status"] == "succeeded":
        view["approximateReturnedRecordCount"] = query.get("count", 0)
        view["isRecordCountLimitExceeded"] = query.get("count", 0) > RECORD_COUNT_LIMIT
        view["recordCountLimit"] = RECORD_COUNT_LIMIT
    return view


def _str_list(body: dict[str, Any], name: str) -> list[str] | str:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"The property '{name}' must be a collection of strings."
    return value


def _create_query(state: State, req: Request, version: str, base: str) -> Response:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        return graph_error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                           "header is set and payload is of valid JSON format.")
    if not isinstance(body, dict):
        return graph_error(400, "BadRequest", "Empty Payload. JSON content expected.")
    cap = state.options.graph_max_open_queries
    with state.lock:
        open_queries = sum(1 for q in state.graph_queries.values() if q["status"] != "succeeded")
    if cap and open_queries >= cap:
        # live: rapid query creation is throttled; tenants get >= 50 queued or running (2.4, 2.7)
        return graph_error(429, "TooManyRequests", f"Too many audit log queries are queued or running "
                           f"({open_queries}); retry after some complete.", {"Retry-After": "10"})
    query: dict[str, Any] = {"id": str(uuid.uuid4()), "displayName": body.get("displayName"), "polls": 0}
    for name in ("filterStartDateTime", "filterEndDateTime"):
        raw = body.get(name)
        if raw is None:
            query[name] = None
            continue
        try:
            query[name] = iso_z(parse_utc(str(raw)))
        except ValueError:
            return graph_error(400, "BadRequest", f"Cannot convert the literal '{raw}' to the expected type "
                               f"'Edm.DateTimeOffset'.")
    for name in ("recordTypeFilters", "operationFilters", "userPrincipalNameFilters", "ipAddressFilters",
                 "objectIdFilters", "administrativeUnitIdFilters", "serviceFilters"):
        value = _str_list(body, name)
        if isinstance(value, str):
            return graph_error(400, "BadRequest", value)
        query[name] = value
    for value in query["recordTypeFilters"]:
        if value.lower() not in rec.RECORD_TYPE_BY_NAME:
            return graph_error(400, "BadRequest", f"Cannot convert the literal '{value}' to the expected type "
                               f"'microsoft.graph.security.auditLogRecordType'.")
    single = body.get("serviceFilter")  # the request doc's singular form (docs/microsoft-365.md §2.1, §2.1)
    query["serviceFilter"] = single if isinstance(single, str) else None
    query["keywordFilter"] = body.get("keywordFilter") or None
    query["status"] = "notStarted"
    start = parse_utc(query["filterStartDateTime"]) if query["filterStartDateTime"] else state.scenario.start
    end = parse_utc(query["filterEndDateTime"]) if query["filterEndDateTime"] else state.now
    if end <= start:
        return graph_error(400, "BadRequest", "filterEndDateTime must be later than filterStartDateTime.")
    query["_start"], query["_end"] = start, end
    with state.lock:
        state.graph_queries[query["id"]] = query
    response = json_response(201, {"@odata.context": f"{req.service_url}/{version}/$metadata#security/auditLog/"
                                   f"queries/$entity", **_query_view(query)},
                             {"Location": f"{base}/{query['id']}"})
    return response


def _advance(state: State, query: dict[str, Any]) -> None:
    """notStarted -> running -> succeeded over successive GETs (docs/microsoft-365.md §2.1)."""
    with state.lock:
        query["polls"] += 1
        polls = query["polls"]
        if query["status"] == "succeeded":
            return
        if polls >= state.options.graph_query_polls:
            finishing = True
        else:
            query["status"] = "running"
            finishing = False
    if finishing:
        count = sum(1 for _ in rec.iter_matching(state.scenario, query["_start"], query["_end"], _matcher(query)))
        with state.lock:
            query["count"] = count
            query["status"] = "succeeded"


def _matcher(query: dict[str, Any]):
    ops = {o.lower() for o in query["operationFilters"]}
    upns = {u.lower() for u in query["userPrincipalNameFilters"]}
    ips = set(query["ipAddressFilters"])
    objs = {o.lower() for o in query["objectIdFilters"]}
    types = {rec.RECORD_TYPE_BY_NAME[t.lower()] for t in query["recordTypeFilters"]}
    services = {s.lower() for s in query["serviceFilters"]}
    if query["serviceFilter"]:
        services.add(query["serviceFilter"].lower())
    keyword = (query["keywordFilter"] or "").lower()

    def keep(r: dict[str, Any]) -> bool:
        if ops and str(r.get("Operation", "")).lower() not in ops:
            return False
        if upns and str(r.get("UserId", "")).lower() not in upns:
            return False
        if types and r.get("RecordType") not in types:
            return False
        if services and str(r.get("Workload", "")).lower() not in services:
            return False
        if ips and not ({r.get("ClientIP"), r.get("ClientIPAddress"), r.get("ActorIpAddress")} & ips):
            return False
        if objs and str(r.get("ObjectId", "")).lower() not in objs:
            return False
        if keyword and keyword not in json.dumps(r).lower():
            return False
        return True

    return keep


def _records(state: State, req: Request, version: str, query: dict[str, Any], url: str) -> Response:
    if query["status"] != "succeeded":
        return graph_error(400, "BadRequest", f"The audit log query '{query['id']}' has not completed; its status "
                           f"is '{query['status']}'.")
    top = odata_top(req, state.options.graph_page_size, RECORDS_MAX_TOP)
    if isinstance(top, Response):
        return top
    cursor = None
    if "$skiptoken" in req.query:
        token = _read_skiptoken(req.query["$skiptoken"])
        try:
            assert token is not None
            cursor = (parse_utc(token["t"]), int(token["n"]))
        except (AssertionError, KeyError, TypeError, ValueError):
            return graph_error(400, "BadRequest", "Invalid $skiptoken.")
    items, nxt = rec.page(state.scenario, query["_start"], query["_end"], _matcher(query), top, cursor)
    body: dict[str, Any] = {"@odata.context": f"{req.service_url}/{version}/$metadata#security/auditLog/queries('"
                            f"{query['id']}')/records", "value": [graph_record(r) for r in items]}
    if nxt is not None:
        body["@odata.nextLink"] = f"{url}?$top={top}&$skiptoken={_skiptoken({'t': iso_z(nxt[0]), 'n': nxt[1]})}"
    return json_response(200, body)


_ODATA_DEFAULT = "#microsoft.graph.security.defaultAuditData"


def _annotate(obj: dict[str, Any], top: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.type": _ODATA_DEFAULT} if top else {}
    for key, value in obj.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, int):
            out[f"{key}@odata.type"] = "#Int64"
            out[key] = value
        elif isinstance(value, float):
            out[f"{key}@odata.type"] = "#Double"
            out[key] = value
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                out[f"{key}@odata.type"] = "#Collection(microsoft.graph.security.defaultAuditData)"
                out[key] = [_annotate(v) for v in value]
            else:
                out[f"{key}@odata.type"] = "#Collection(String)"
                out[key] = value
        elif isinstance(value, dict):
            out[key] = {"@odata.type": _ODATA_DEFAULT, **_annotate(value)}
        else:
            out[key] = value
    return out


_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")


def graph_record(r: dict[str, Any]) -> dict[str, Any]:
    """A classic AuditData record as the Graph records endpoint sends it (docs/microsoft-365.md §2.3)."""
    created = str(r.get("CreationTime", ""))
    created_z = created + "Z" if _TIME.match(created) else created
    audit = dict(r)
    audit["CreationTime"] = created_z
    user_type = r.get("UserType")
    rt = r.get("RecordType")
    return {
        "id": r.get("Id"), "createdDateTime": created_z,
        "auditLogRecordType": rec.RECORD_TYPE_NAMES.get(rt, str(rt)) if isinstance(rt, int) else rt,
        "operation": r.get("Operation"), "organizationId": r.get("OrganizationId"),
        "userType": rec.USER_TYPE_NAMES[user_type] if isinstance(user_type, int)
        and 0 <= user_type < len(rec.USER_TYPE_NAMES) else "unknownFutureValue",
        "userId": r.get("UserKey"),                 # crossed on the live wire
        "service": r.get("Workload"), "objectId": r.get("ObjectId"),
        "userPrincipalName": r.get("UserId"),       # crossed on the live wire
        "clientIp": None, "administrativeUnits": [""],
        "auditData": _annotate(audit, top=True),
    }


