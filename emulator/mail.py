"""Microsoft Graph mail (docs/microsoft-365.md, "Item metadata"): messages looked up by
InternetMessageId, and JSON batching.

- `GET /{v}/users/{id|upn}/messages?$filter=internetMessageId eq '<...>'&$select=...` answers
  `{"value": [...]}`: one message, or none when the mailbox no longer holds it (deleted and purged).
  Application permission Mail.ReadBasic.All (or Mail.Read) is needed; ReadBasic returns every
  property except body, bodyPreview, uniqueBody, attachments and extensions.
- `POST /{v}/$batch` carries up to 20 requests (`{"requests": [{"id", "method", "url"}]}`, urls
  relative to the version) and answers `{"responses": [{"id", "status", "headers", "body"}]}`;
  each request is authorised and throttled on its own, so one can be 429 with its own
  Retry-After while the others succeed, and responses need not come back in request order.
  A request object may hold only the documented members (id, method, url, headers, body,
  dependsOn) and ids must be unique: otherwise the whole batch is a 400, as Graph documents for
  ids and as OData's JSON batch reader does for an unknown member.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from evkit.emulator.scenarios.messages import messages
from evkit.emulator.state import State
from evkit.emulator.tokens import permissions
from evkit.emulator.wire import Request, Response, graph_error, json_response

MAIL_READ = ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
BATCH_MAX = 20
_MEMBERS = {"id", "method", "url", "headers", "body", "dependsOn"}
# Properties Mail.ReadBasic.All does not open.
_NOT_BASIC = {"body", "bodyPreview", "uniqueBody", "attachments", "extensions"}
_FILTER = re.compile(r"^\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def handle_messages(state: State, req: Request, version: str, user: dict[str, Any]) -> Response:
    """`/users/{id}/messages` with an internetMessageId filter."""
    held = permissions(req.claims)
    if not held & set(MAIL_READ):
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    query = req.query
    match = _FILTER.match(query.get("$filter", ""))
    if match is None:
        return graph_error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
    imid = match.group(1).replace("''", "'")
    select = [s.strip() for s in query.get("$select", "").split(",") if s.strip()]
    if select and "Mail.Read" not in held and "Mail.ReadWrite" not in held and _NOT_BASIC & set(select):
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    upn = str(user["userPrincipalName"])
    found = _index(state, upn).get(imid)
    value = [] if found is None or imid in state.options.purged_items else [_pick(found, select)]
    return json_response(200, {
        "@odata.context": f"{req.service_url}/{version}/$metadata#users('{upn}')/messages"
                          + (f"({','.join(select)})" if select else ""),
        "value": value})


def _pick(message: dict[str, Any], select: list[str]) -> dict[str, Any]:
    if not select:
        return dict(message)
    return {"@odata.etag": 'W/"CQAAABYAAAA="', "id": message["id"],
            **{k: message[k] for k in select if k in message}}


def _index(state: State, upn: str) -> dict[str, dict[str, Any]]:
    with state.lock:
        index = state.mail_index.get(upn)
        if index is None:
            scenario = state.scenario
            index = {m["internetMessageId"]: m
                     for m in messages(scenario.seed, upn, scenario.mail_store(upn), start=scenario.start)}
            state.mail_index[upn] = index
        return index


def handle_batch(state: State, req: Request, version: str, dispatch: Any) -> Response:
    """JSON batching: each request goes through `dispatch(state, inner_request)` on its own."""
    try:
        body = json.loads(req.body or b"{}")
        requests = body["requests"]
        if not isinstance(requests, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return graph_error(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > BATCH_MAX:
        return graph_error(400, "BadRequest", f"Batch request cannot contain more than {BATCH_MAX} requests.")
    unknown = sorted({k for r in requests if isinstance(r, dict) for k in r} - _MEMBERS)
    if unknown:
        return graph_error(400, "BadRequest", f"Unknown property name '{unknown[0]}' for message in batch.")
    ids = [str(r.get("id", "")).lower() for r in requests if isinstance(r, dict)]
    if len(ids) != len(set(ids)):
        return graph_error(400, "BadRequest", "Batch request ids must be unique.")
    responses = []
    for item in requests:
        ident = str(item.get("id", "")) if isinstance(item, dict) else ""
        url = item.get("url") if isinstance(item, dict) else None
        if not ident or not isinstance(url, str) or item.get("method", "GET").upper() != "GET":
            responses.append(_inner(ident, graph_error(400, "BadRequest", "Invalid request in batch.")))
            continue
        responses.append(_inner(ident, _one(state, req, version, url, dispatch)))
    responses.reverse()  # Graph does not keep request order; clients must match by id
    return json_response(200, {"responses": responses})


def _one(state: State, outer: Request, version: str, url: str, dispatch: Any) -> Response:
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    inner = Request(method="GET", service="graph", path=f"/{version}{unquote(parts.path)}",
                    raw_query=parts.query, headers=dict(outer.headers), body=b"",
                    base_url=outer.base_url, claims=dict(outer.claims))
    assert state.dice is not None
    key = f"batch|{inner.path}|{sorted(parse_qs(parts.query).items())}"
    attempt = state.dice.attempt(key)
    fault = state.dice.response_fault(key, attempt, "graph")
    if fault in ("429", "429-no-retry-after"):
        headers = {"Retry-After": str(state.plan.retry_after)} if fault == "429" else {}
        return graph_error(429, "TooManyRequests", "Too many requests. Please try again later.", headers)
    if fault in ("503", "504"):
        return graph_error(503, "serviceNotAvailable", "The service is temporarily unavailable.")
    response: Response = dispatch(state, inner)
    return response


def _inner(ident: str, response: Response) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "retry-after")}
    try:
        body: Any = json.loads(response.body) if response.body else None
    except ValueError:
        body = response.body.decode("utf-8", "replace")
    return {"id": ident, "status": response.status, "headers": headers, "body": body}
