"""Request/response values passed between the HTTP server and the service modules, and the
error bodies each Microsoft service uses. Service modules are pure functions of these."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    service: str                    # login | graph | manage | exchange
    path: str                       # path below the service prefix, e.g. "/v1.0/users"
    raw_query: str
    headers: dict[str, str]         # lower-case names
    body: bytes
    base_url: str                   # "https://127.0.0.1:PORT"
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, str]:
        """Last value per parameter; keys kept as sent (OData `$top`, Management `contentType`)."""
        return {k: v[-1] for k, v in parse_qs(self.raw_query, keep_blank_values=True).items()}

    def query_ci(self, name: str) -> str | None:
        """Case-insensitive query lookup (the Management API ignores parameter case)."""
        lowered = name.lower()
        for key, value in self.query.items():
            if key.lower() == lowered:
                return value
        return None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8-sig")) if self.body.strip() else None

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/{self.service}"


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def dumps(obj: Any) -> bytes:
    """Compact JSON as Microsoft services send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Response(status, dumps(obj), all_headers)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso_z(value: dt.datetime) -> str:
    """`2026-06-10T08:00:00Z` (seconds precision, Z suffix)."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> dt.datetime:
    """ISO 8601 with or without zone (zone-less means UTC, as in audit records)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Graph error body (docs/microsoft-365.md section §7.3): error.code, error.message, error.innerError."""
    inner = {"date": utc_now().strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
             "client-request-id": str(uuid.uuid4())}
    return json_response(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def af_error(status: int, code: str, message: str) -> Response:
    """Management Activity API error body (docs/microsoft-365.md §1.5)."""
    return json_response(status, {"error": {"code": code, "message": message}})


def adminapi_error(exception_type: str, message: str, status: int = 400) -> Response:
    """Exchange adminapi 400 envelope (docs/microsoft-365.md §6.5): the useful text sits in
    innererror.internalexception.message and details[0].message (with a |Type| prefix)."""
    body = {"error": {
        "code": "BadRequest", "message": "Invalid Operation",
        "details": [{"code": "Client", "target": "", "message": f"|{exception_type}|{message}"}],
        "innererror": {
            "message": "Invalid Operation",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException", "stacktrace": "",
            "internalexception": {"message": message, "type": exception_type, "stacktrace": ""}}}}
    return json_response(status, body)


def nul_forbidden(length: int = 64) -> Response:
    """adminapi's 403 for a cmdlet the caller may not run: a non-JSON run of NUL bytes (6.5)."""
    return Response(403, b"\x00" * length, {"Content-Type": "application/json; charset=utf-8"})


def aad_error(status: int, error: str, code: int, description: str) -> Response:
    """Entra token-endpoint error JSON, as MSAL returns it to callers unchanged (7.1)."""
    now = utc_now()
    trace = str(uuid.uuid4())
    corr = str(uuid.uuid4())
    body = {"error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} "
                                 f"Timestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}",
            "error_codes": [code], "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace, "correlation_id": corr}
    return json_response(status, body)


def odata_top(req: Request, default: int, maximum: int) -> int | Response:
    """A Graph collection's `$top` (default when absent), or Graph's 400 for a bad one."""
    raw = req.query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        return graph_error(400, "BadRequest", f"Invalid value '{raw}' for query option $top.")
    if top < 1 or top > maximum:
        return graph_error(400, "Request_UnsupportedQuery", f"Invalid page size specified: '{top}'. Must be "
                           f"between 1 and {maximum} inclusive.")
    return top
