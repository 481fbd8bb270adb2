"""The one HTTP client of the collector, and the only module that imports `requests`.

Every call carries a timeout and `verify=<CA bundle>` (the environment's REQUESTS_CA_BUNDLE
would otherwise override a session setting; docs/internals.md, emulator). Retries (429/5xx/resets/truncated or
unreadable bodies, 401 after a token refresh) follow `evkit.collector.retry.RetryPolicy`. Every
response that arrives, accepted or not, is handed to the caller's `record` hook byte for byte,
so the evidence store keeps the failed attempts too. Errors leave this module as
`evkit.collector.errors` classes only.
"""

from __future__ import annotations

import json
import logging
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from evkit.collector.errors import ApiError, AuthError, NetworkError, ThrottledError
from evkit.collector.retry import RetryPolicy, is_retryable_status, parse_retry_after, wait_in_text
from evkit import __version__

logger = logging.getLogger(__name__)

USER_AGENT = f"evkit/{__version__} (+evidence collector)"
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
FIRST_ANSWER_WAIT = 5.0  # seconds a call waits for the first call to its URL to be answered (see _first_call)
# Host suffixes of Microsoft 365 services per cloud: a redirect is followed (with the token) only
# to a host under the same suffix as the one it came from (docs/internals.md, "HTTP client").
MICROSOFT_SUFFIXES = ("outlook.office365.com", "outlook.office.com", "office365.com", "outlook.com",
                      "office365.us", "office.com", "microsoft.com", "microsoftonline.com",
                      "microsoftonline.us", "apps.mil", "partner.outlook.cn", "chinacloudapi.cn")


class TokenProvider(Protocol):
    """Bearer tokens per resource scope (collector.auth implements it with MSAL)."""

    def token(self, scope: str) -> str: ...

    def invalidate(self, scope: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RawReply:
    """What the transport got: status, headers, the (decoded) body, and why it is incomplete."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    problem: str | None = None


class TransportError(Exception):
    """No response at all (reset, refused, timeout); retryable."""


Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], RawReply]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One response as received, for the evidence store. `rejected` says why it was retried."""

    method: str
    url: str
    request_body: Any
    status: int
    headers: Mapping[str, str]
    body: bytes
    received_utc: datetime
    attempt: int
    rejected: str | None = None

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(slots=True)
class Response:
    """An accepted response: status, headers, raw body, parsed JSON and how many retries it took."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    data: Any
    retries: int
    exchange: Exchange
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over a plain mapping."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def error_code(body: bytes) -> str | None:
    """The `error.code` of a Microsoft error body, or None."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
        return str(code) if code is not None else None
    return None


def error_message(body: bytes, limit: int = 300) -> str:
    """The most useful text of an error body (InvokeCommand hides it in innererror)."""
    try:
        data = json.loads(body)
        err = data["error"]
        inner = ((err.get("innererror") or {}).get("internalexception") or {}).get("message")
        details = err.get("details") or []
        detail = details[0].get("message") if details and isinstance(details[0], dict) else None
        text = inner or detail or err.get("message") or ""
        if text.startswith("|") and text.count("|") >= 2:
            text = text.split("|", 2)[2]
        return f"{err.get('code', '')}: {text}"[:limit]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        printable = body[:limit].decode("utf-8", "replace")
        return printable if printable.isprintable() else f"{len(body)}-byte non-text body"


class VerifyingSession(requests.Session):
    """A Session that forces `verify` and a default timeout on every request.

    Handed to MSAL as its http_client, so token calls trust the same CA bundle as API calls.
    """

    def __init__(self, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._verify, self._timeout = verify, timeout
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self._verify
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(ca_bundle: str | None, timeout: float) -> VerifyingSession:
    """A session for MSAL (and the client's threads): explicit CA, timeouts."""
    return VerifyingSession(ca_bundle if ca_bundle else True, timeout)


class ApiClient:
    """Synchronous JSON-over-HTTPS client with retries, evidence hooks and thread-local sessions."""

    def __init__(self, tokens: TokenProvider, *, ca_bundle: str | None, timeout: float = 120.0,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 transport: Transport | None = None) -> None:
        self._tokens = tokens
        self._ca = ca_bundle
        self._timeout = timeout
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._now = now
        self._transport = transport or self._requests_transport
        self._local = threading.local()
        self._moved: dict[str, str] = {}   # URL -> where the service redirected it (kept for the run)
        self._answered: dict[str, threading.Event] = {}  # URL -> set once its first call had an answer
        self._moved_lock = threading.Lock()

    # -- transport -------------------------------------------------------------------------
    def _session(self) -> VerifyingSession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = make_session(self._ca, self._timeout)
        return session

    def _requests_transport(self, method: str, url: str, headers: Mapping[str, str],
                            data: bytes | None, timeout: float) -> RawReply:
        try:
            resp = self._session().request(method, url, headers=dict(headers), data=data,
                                           timeout=(min(timeout, 30.0), timeout), stream=True,
                                           allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise NetworkError(f"TLS failure talking to {_host(url)}: {exc} "
                               "(is tenant.endpoints.ca_bundle the right CA?)") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise NetworkError(f"request to {_host(url)} failed: {exc}") from exc
        chunks: list[bytes] = []
        problem = None
        try:
            for piece in resp.iter_content(1 << 16):
                chunks.append(piece)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError,
                requests.exceptions.ContentDecodingError, requests.Timeout) as exc:
            problem = f"body cut short ({type(exc).__name__})"
        finally:
            resp.close()
        body = b"".join(chunks)
        return RawReply(resp.status_code, dict(resp.headers), body, problem)

    # -- requests --------------------------------------------------------------------------
    def request(self, method: str, url: str, *, scope: str, json_body: Any = None,
                headers: Mapping[str, str] | None = None,
                record: Callable[[Exchange], None] | None = None,
                accept: Callable[[int, bytes], bool] | None = None,
                parse_json: bool = True, parse: Callable[[bytes], Any] | None = None,
                timeout: float | None = None) -> Response:
        """Send one request, retrying within the budget; return the accepted response.

        `accept(status, body)` lets a caller take a non-2xx answer as success (e.g. the
        Management API's AF20024 "already enabled"). `parse(body)` replaces json.loads for
        2xx bodies (a ValueError from it means "unreadable, retry"). `timeout` overrides the
        client's for this call. A 3xx to a host of the same service (see redirect_allowed) is
        followed with the same method and body and remembered for the run; any other 3xx is
        an ApiError. Raises AuthError, ThrottledError, NetworkError or ApiError.
        """
        answered = self._first_call(url) if method == "POST" else threading.Event()
        try:
            return self._request(method, url, answered, scope=scope, json_body=json_body, headers=headers,
                                 record=record, accept=accept, parse_json=parse_json, parse=parse, timeout=timeout)
        finally:
            answered.set()

    def _first_call(self, url: str) -> threading.Event:
        """The event set once the first POST to `url` has an answer. While it is out, later
        POSTs to the same URL wait for that answer (at most FIRST_ANSWER_WAIT, and once: after a
        wait runs out, no later call waits for it): when the service
        redirects it (docs/emulator-fidelity.md EXO-1), the calls that waited go straight to
        where it leads instead of each taking the redirect once. Only POSTs: their URLs are a
        few endpoints (InvokeCommand above all), so this map stays small; GET URLs are per page."""
        with self._moved_lock:
            answered = self._answered.get(url)
            if answered is None:
                answered = self._answered[url] = threading.Event()
                return answered
        if not answered.wait(FIRST_ANSWER_WAIT):
            answered.set()  # the first call is long (a search can take minutes): the others wait no more
        return threading.Event()

    def _request(self, method: str, url: str, answered: threading.Event, *, scope: str, json_body: Any,
                 headers: Mapping[str, str] | None, record: Callable[[Exchange], None] | None,
                 accept: Callable[[int, bytes], bool] | None, parse_json: bool,
                 parse: Callable[[bytes], Any] | None, timeout: float | None) -> Response:
        with self._moved_lock:
            url = self._moved.get(url, url)
        first_url, redirects = url, 0
        payload = None if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        base_headers = {"Accept": "application/json"}
        if payload is not None:
            base_headers["Content-Type"] = "application/json"
        base_headers.update(headers or {})
        attempt, refreshed_after_401, last_problem, throttled = 0, 0, "", False
        while True:
            attempt += 1
            send_headers = dict(base_headers)
            retry_after = None
            try:
                try:
                    send_headers["Authorization"] = "Bearer " + self._tokens.token(scope)
                except NetworkError as exc:  # the authority did not answer: retry like a reset
                    raise TransportError(str(exc)) from exc
                reply = self._transport(method, url, send_headers, payload, timeout or self._timeout)
            except TransportError as exc:
                answered.set()
                last_problem, throttled = f"no response ({exc})", False
                logger.info("%s %s: %s (try %d)", method, _host(url), last_problem, attempt)
            else:
                location = header(reply.headers, "Location") if reply.status in REDIRECT_STATUS else None
                if location is not None:
                    target = urljoin(url, location)
                    if not redirect_allowed(url, target):
                        raise ApiError(f"{method} {url}: HTTP {reply.status} redirect to {_host(target)} not "
                                       "followed (not a host of the same service; the token stays here)",
                                       status=reply.status, url=url)
                    if record is not None:
                        record(Exchange(method, url, json_body, reply.status, reply.headers, reply.body,
                                        self._now(), attempt, f"HTTP {reply.status} redirect to {_host(target)}"))
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise ApiError(f"{method} {first_url}: more than {MAX_REDIRECTS} redirects", url=url)
                    logger.info("%s %s: HTTP %d, following to %s", method, _host(url), reply.status, _host(target))
                    url = target
                    with self._moved_lock:
                        self._moved[first_url] = target
                    answered.set()
                    continue  # a redirect is not a failed try: it does not count against the budget
                answered.set()
                outcome = self._judge(reply, accept, parse_json, parse)
                ex = Exchange(method, url, json_body, reply.status, reply.headers, reply.body,
                              self._now(), attempt, outcome.rejected)
                if record is not None:
                    record(ex)
                if outcome.accepted:
                    return Response(reply.status, reply.headers, reply.body, outcome.data,
                                    attempt - 1 - redirects, ex)
                if reply.status == 401:
                    self._tokens.invalidate(scope)
                    refreshed_after_401 += 1
                    if refreshed_after_401 > 2:
                        raise AuthError(f"{method} {_host(url)}: token refused (401) after refreshing it; "
                                        f"{error_message(reply.body)}", status=401, url=url)
                elif not outcome.retryable:
                    raise _final_error(method, url, reply)
                last_problem = outcome.rejected or f"HTTP {reply.status}"
                throttled = outcome.throttled
                retry_after = parse_retry_after(header(reply.headers, "Retry-After"), self._now())
                if retry_after is None and reply.status in (429, 503):
                    retry_after = wait_in_text(error_message(reply.body))
                logger.info("%s %s: %s (try %d)", method, _host(url), last_problem, attempt)
            if self.policy.exhausted(attempt - redirects):
                message = (f"{method} {url}: gave up after {attempt} tries; last: {last_problem}")
                if throttled:
                    raise ThrottledError(message, url=url)
                if last_problem.startswith("no response"):
                    raise NetworkError(message)
                raise ApiError(message, url=url)
            self._sleep(self.policy.delay(attempt, retry_after))

    def _judge(self, reply: RawReply, accept: Callable[[int, bytes], bool] | None,
               parse_json: bool, parse: Callable[[bytes], Any] | None = None) -> "_Outcome":
        problem = reply.problem or _length_problem(reply.headers, len(reply.body))
        if problem:
            return _Outcome(False, True, False, problem)
        status = reply.status
        if 200 <= status < 300 or (accept is not None and accept(status, reply.body)):
            if parse is not None and 200 <= status < 300:
                try:
                    return _Outcome(True, False, False, None, parse(reply.body))
                except ValueError as exc:
                    return _Outcome(False, True, False, f"unreadable body ({exc})")
            if not parse_json or not reply.body.strip():
                return _Outcome(True, False, False, None, None)
            try:
                return _Outcome(True, False, False, None, json.loads(reply.body))
            except (ValueError, UnicodeDecodeError) as exc:
                return _Outcome(False, True, False, f"body is not valid JSON ({exc})")
        if _cut_json(reply):
            return _Outcome(False, True, False, f"HTTP {status} with a JSON error body cut short")
        code = error_code(reply.body)
        if status == 401:
            return _Outcome(False, True, False, "HTTP 401 (token refused)")
        if is_retryable_status(status, code):
            throttled = status in (429, 503) or code == "AF429"
            return _Outcome(False, True, throttled, f"HTTP {status}" + (f" {code}" if code else ""))
        return _Outcome(False, False, False, f"HTTP {status}" + (f" {code}" if code else ""))

    # -- paging ----------------------------------------------------------------------------
    def paginate_odata(self, url: str, *, scope: str,
                       record_page: Callable[[int], Callable[[Exchange], None]],
                       first_page: int = 1, method: str = "GET", json_body: Any = None,
                       ) -> Iterator[Response]:
        """Follow `@odata.nextLink` in the body until it is absent; one Response per page."""
        page, next_url = first_page, url
        while next_url:
            resp = self.request(method, next_url, scope=scope, json_body=json_body,
                                record=record_page(page))
            yield resp
            data = resp.data if isinstance(resp.data, dict) else {}
            next_url = data.get("@odata.nextLink")
            page += 1

    def paginate_next_page_uri(self, url: str, *, scope: str,
                               record_page: Callable[[int], Callable[[Exchange], None]],
                               first_page: int = 1, follow: Callable[[str], str] | None = None,
                               ) -> Iterator[Response]:
        """Follow the Management API's `NextPageUri` header (`NextPageUrl` tolerated); `follow`
        may adjust each next link before it is requested (e.g. add a query parameter)."""
        page, next_url = first_page, url
        while next_url:
            resp = self.request("GET", next_url, scope=scope, record=record_page(page))
            yield resp
            next_url = resp.header("NextPageUri") or resp.header("NextPageUrl")
            if next_url and follow is not None:
                next_url = follow(next_url)
            page += 1


@dataclass(frozen=True, slots=True)
class _Outcome:
    accepted: bool
    retryable: bool
    throttled: bool
    rejected: str | None
    data: Any = None


def _cut_json(reply: RawReply) -> bool:
    """An error answer that says it is JSON, starts like JSON and does not parse: cut in transit."""
    kind = (header(reply.headers, "Content-Type") or "").lower()
    body = reply.body.strip()
    if "json" not in kind or not body.startswith((b"{", b"[")):
        return False
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def _length_problem(headers: Mapping[str, str], received: int) -> str | None:
    """Compare Content-Length with what arrived, when the body was not content-encoded."""
    declared = header(headers, "Content-Length")
    encoding = (header(headers, "Content-Encoding") or "identity").lower()
    if declared is None or encoding != "identity":
        return None
    try:
        expected = int(declared)
    except ValueError:
        return None
    if expected != received:
        return f"truncated body: Content-Length {expected}, received {received} bytes"
    return None


def _final_error(method: str, url: str, reply: RawReply) -> Exception:
    request_id = header(reply.headers, "request-id") or header(reply.headers, "client-request-id")
    text = f"{method} {url}: HTTP {reply.status} {error_message(reply.body)}".rstrip()
    if reply.status in (401, 403):
        return AuthError(text + " (check the app's permissions and directory role)", status=reply.status, url=url,
                         code=error_code(reply.body))
    return ApiError(text, status=reply.status, url=url, request_id=request_id, code=error_code(reply.body))


def redirect_allowed(origin: str, target: str) -> bool:
    """Follow a redirect (and keep the token) only over HTTPS, to the same path, and to the same
    host, another loopback address of the same machine, or a host under the same Microsoft
    suffix as the origin (a tenant-specific host of the same service)."""
    a, b = urlsplit(origin), urlsplit(target)
    if b.scheme != "https" or a.path != b.path:
        return False
    origin_host, target_host = (a.hostname or "").lower(), (b.hostname or "").lower()
    if origin_host == target_host:
        return True
    if _loopback(origin_host) and _loopback(target_host):
        return True
    for suffix in MICROSOFT_SUFFIXES:
        if _under(origin_host, suffix) and _under(target_host, suffix):
            return True
    return False


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host(url: str) -> str:
    return url.split("/")[2] if "://" in url else url
