"""The HTTPS server: TLS on loopback with the run's CA, one thread per connection (keep-alive,
concurrent blob downloads), bearer-token checks, fault injection and latency, and dispatch by
path prefix to the login, Graph, Management and Exchange modules."""

from __future__ import annotations

import errno
import hashlib
import secrets
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evkit.emulator import certs, exchange, graph, login, mgmt, tokens, ualindex
from evkit.emulator.errors import EmulatorError, StartupError, UnknownScenarioError, UsageError
from evkit.emulator.options import Options
from evkit.emulator.state import State
from evkit.emulator.wire import Request, Response, af_error, graph_error, json_response
from evkit.emulator.workdir import write_workdir_files, write_connection

SERVICES = {"login": login.handle, "graph": graph.handle, "manage": mgmt.handle, "exchange": exchange.handle}


def _request_key(method: str, service: str, path: str, query: str, body: bytes) -> str:
    return f"{method} /{service}{path}?{query}#{hashlib.sha256(body).hexdigest()[:16]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections close after this

    server: "_Server"

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()
        self.server.track(self.request, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the request log lives in memory (Emulator.requests)."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        service, _, rest = path.lstrip("/").partition("/")
        if service not in SERVICES:
            self._send(json_response(404, {"error": {"code": "NotFound", "message": f"no service at /{service}"}}),
                       None)
            return
        req = Request(method=self.command, service=service, path="/" + rest, raw_query=raw_query,
                      headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                      base_url=state.base_url)
        response, fault = self._answer(state, req)
        self.server.log_request_summary(req, response.status, fault)
        self._send(response, fault)

    def _answer(self, state: State, req: Request) -> tuple[Response, str | None]:
        if req.service == "login":
            return login.handle(state, req), None
        try:
            req.claims = tokens.check(state, req.header("authorization"), req.service)
        except tokens.TokenRejected as exc:
            return unauthorized(state, req, exc), None
        assert state.dice is not None
        key = _request_key(req.method, req.service, req.path, req.raw_query, req.body)
        attempt = state.dice.attempt(key)
        if state.dice.roll("slow", key, attempt):
            time.sleep(state.plan.slow_seconds)
        fault = state.dice.response_fault(key, attempt, req.service)
        if fault in ("429", "429-no-retry-after", "af429-403", "503", "504"):
            return fault_response(state, req, fault), fault
        if not self.server.enter(req.service):
            return fault_response(state, req, "429-no-retry-after"), "concurrency"
        try:
            started = time.monotonic()
            req.claims["_fault_key"] = key
            req.claims["_fault_attempt"] = attempt
            response = SERVICES[req.service](state, req)
            if state.options.latency_ms:  # the service's time to answer, its own work included
                time.sleep(max(0.0, state.options.latency_ms / 1000.0 - (time.monotonic() - started)))
        except Exception as exc:  # noqa: BLE001 - an emulator bug must answer 500, not kill the connection silently
            self.server.log_error_line(f"{req.method} /{req.service}{req.path}: {type(exc).__name__}: {exc}")
            response = graph_error(500, "InternalServerError", f"emulator error: {type(exc).__name__}")
        finally:
            self.server.leave(req.service)
        return response, fault if fault in ("reset", "truncate") else None

    def _send(self, response: Response, fault: str | None) -> None:
        body = response.body
        if fault == "truncate" and len(body) > 1:
            body = body[: len(body) // 2]
        self.send_response(response.status)
        headers = dict(response.headers)
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers["Content-Length"] = str(len(body))
        headers.setdefault("request-id", secrets.token_hex(16))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault == "reset":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if self.command != "HEAD":
            self.wfile.write(body)


def unauthorized(state: State, req: Request, exc: tokens.TokenRejected) -> Response:
    """401 in each service's own style (Graph JSON, Management Web API message, empty adminapi)."""
    challenge = (f'Bearer realm="", authorization_uri="{state.base_url}/login/common/oauth2/authorize", '
                 f'client_id="00000003-0000-0000-c000-000000000000", error="invalid_token", '
                 f'error_description="{exc.reason}"')
    if req.service == "graph":
        return graph_error(401, "InvalidAuthenticationToken", exc.reason, {"WWW-Authenticate": challenge})
    if req.service == "manage":
        return json_response(401, {"Message": "Authorization has been denied for this request."},
                             {"WWW-Authenticate": challenge})
    return Response(401, b"", {"WWW-Authenticate": challenge, "Content-Type": "text/html"})


def fault_response(state: State, req: Request, fault: str) -> Response:
    """The error answer for a response fault, in the style of the service (docs/microsoft-365.md §1.5, §6.5, §7.3)."""
    retry = {"Retry-After": str(state.plan.retry_after)}
    if req.service == "manage":
        if fault in ("429", "429-no-retry-after", "af429-403"):
            method = "GetBlob" if req.path.split("/activity/feed/", 1)[-1].startswith("audit/") else "ListContent"
            publisher = req.query_ci("PublisherIdentifier") or "00000000-0000-0000-0000-000000000000"
            return af_error(403 if fault == "af429-403" else 429, "AF429",
                            f"Too many requests. Method={method}, PublisherId={publisher}")
        return af_error(int(fault), "AF50000", "An internal server error occurred. Retry the request.")
    if fault == "429":
        if req.service == "exchange" and state.options.service == "current":
            # the wait is given only in the message text (docs/emulator-fidelity.md)
            return graph_error(429, "TooManyRequests",
                               f"The request was throttled. Please retry after {state.plan.retry_after} seconds")
        if req.service == "exchange":  # no Retry-After observed on adminapi (6.5)
            return graph_error(429, "TooManyRequests", "Too many concurrent requests. Please try again later.")
        return graph_error(429, "TooManyRequests",
                           "Too many requests from Identifier:emulator Please try again later.", retry)
    if fault == "429-no-retry-after":
        return graph_error(429, "TooManyRequests", "Too many requests. Please try again later.")
    if fault == "503":
        return graph_error(503, "serviceNotAvailable", "The service is temporarily unavailable.")
    return graph_error(504, "UnknownError", "Gateway timeout.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # so a port in use is reported, not shared

    def __init__(self, address: tuple[str, int]) -> None:
        self.state: State = None  # type: ignore[assignment]  # set once the scenario is built
        self._conns: set[Any] = set()
        self._conn_lock = threading.Lock()
        self._inflight: dict[str, int] = {}
        self.requests: deque[tuple[str, str, str, int, str | None]] = deque(maxlen=20000)
        self.errors: deque[str] = deque(maxlen=200)
        super().__init__(address, _Handler)

    def track(self, conn: Any, add: bool) -> None:
        with self._conn_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def enter(self, service: str) -> bool:
        cap = self.state.options.max_concurrency
        with self._conn_lock:
            if cap and self._inflight.get(service, 0) >= cap:
                return False
            self._inflight[service] = self._inflight.get(service, 0) + 1
            return True

    def leave(self, service: str) -> None:
        with self._conn_lock:
            self._inflight[service] = max(0, self._inflight.get(service, 0) - 1)

    def log_request_summary(self, req: Request, status: int, fault: str | None) -> None:
        self.requests.append((req.method, req.service, req.path, status, fault))

    def log_error_line(self, line: str) -> None:
        self.errors.append(line)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client hang-ups and TLS failures are routine; keep them off stderr."""


class Emulator:
    """One emulator run: generate the scenario, bind, write the workdir, serve until stopped."""

    def __init__(self, workdir: Path | str, options: Options, scenario: Any = None) -> None:
        self.workdir = Path(workdir)
        self.options = options
        self._scenario = scenario
        self.state: State | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.connection: dict[str, Any] = {}

    @property
    def url(self) -> str:
        assert self.state is not None
        return self.state.base_url

    @property
    def requests(self) -> list[tuple[str, str, str, int, str | None]]:
        return list(self._server.requests) if self._server else []

    def start(self) -> "Emulator":
        """Bind and start serving in a background thread; connection.json is written last."""
        self.options.validate()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "connection.json").unlink(missing_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot use workdir {self.workdir}: {exc.strerror or exc}") from None
        try:
            server = _Server((self.options.host, self.options.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {self.options.port} is already in use on {self.options.host}; "
                                   f"pick another with --port (0 = any free port)") from None
            raise StartupError(f"cannot listen on {self.options.host}:{self.options.port}: {exc.strerror}") from None
        try:
            scenario = self._scenario if self._scenario is not None else load_scenario(
                self.options.scenario, self.options.seed, self.workdir, self.options.scenario_params)
            state = State.create(scenario, self.options)
            index = ualindex.line_index(state)
            if index is not None:
                index.build_all()
            self.state = state
            server.state = state
            server.socket = _tls_context(self.workdir).wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False)
            port = server.server_address[1]
            state.base_url = f"https://{self.options.host}:{port}"
            write_workdir_files(self.workdir, state)
        except OSError as exc:
            server.server_close()
            raise StartupError(f"cannot write to workdir {self.workdir}: {exc.strerror or exc}") from None
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="emulator-server", daemon=True)
        self._thread.start()
        self.connection = write_connection(self.workdir, state, port)
        return self

    def stop(self) -> None:
        """Stop accepting, close open keep-alive connections, release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        # connection.json means "ready"; a stopped server must not leave it behind
        (self.workdir / "connection.json").unlink(missing_ok=True)

    def wait(self) -> None:
        """Block until stop() (the CLI calls stop from its signal handler)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)


def _tls_context(workdir: Path) -> ssl.SSLContext:
    """Fresh CA + server certificate; ca.pem goes to the workdir, the server key stays encrypted
    on disk only for the moment load_cert_chain needs a file."""
    ca_key, ca_cert = certs.make_ca()
    key, cert = certs.make_server_cert(ca_key, ca_cert)
    (workdir / "ca.pem").write_bytes(certs.cert_pem(ca_cert))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    passphrase = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="evkit-emu-tls-") as tmp:
        cert_path, key_path = Path(tmp) / "server.pem", Path(tmp) / "server-key.pem"
        cert_path.write_bytes(certs.cert_pem(cert) + certs.cert_pem(ca_cert))
        certs.write_private(key_path, certs.encrypted_key_pem(key, passphrase))
        ctx.load_cert_chain(str(cert_path), str(key_path), password=passphrase)
    return ctx


def load_scenario(name: str, seed: int, workdir: Path, params: dict[str, Any] | None = None) -> Any:
    """Build a named scenario (writes case.toml and ground-truth.json into the workdir)."""
    try:
        from evkit.emulator.scenarios import build_scenario  # noqa: PLC0415 - scenarios may be absent from a build
    except ImportError as exc:
        raise StartupError(f"scenarios are not available in this build ({exc})") from None
    try:
        return build_scenario(name, seed, workdir, params)
    except EmulatorError:
        raise
    except (KeyError, LookupError) as exc:
        raise UnknownScenarioError(f"unknown scenario {name!r} ({exc})") from None


def run(workdir: Path | str, **options: Any) -> Emulator:
    """Start an emulator in this process (background thread); call .stop() when done."""
    return Emulator(workdir, Options.from_kwargs(**options)).start()


__all__ = ["Emulator", "run", "load_scenario", "UsageError"]
