"""ApiClient against a scripted fake transport: retries, budget, evidence hook, paging."""

from __future__ import annotations

import json
from typing import Any

import pytest
from collector_fakes import StaticTokens

from evkit.collector.client import ApiClient, RawReply, TransportError
from evkit.collector.errors import ApiError, AuthError, NetworkError, ThrottledError
from evkit.collector.retry import RetryPolicy


class Script:
    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[str, str, dict]] = []

    def __call__(self, method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        self.sent.append((method, url, dict(headers)))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def ok(obj: Any, **headers: str) -> RawReply:
    return RawReply(200, headers, json.dumps(obj).encode())


def client(script: Script, attempts: int = 4, tokens: StaticTokens | None = None) -> tuple[ApiClient, list[float]]:
    sleeps: list[float] = []
    return ApiClient(tokens or StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=attempts),
                     sleep=sleeps.append, transport=script), sleeps


def test_retries_429_honouring_retry_after_and_records_every_response() -> None:
    script = Script(RawReply(429, {"Retry-After": "3"}, b'{"error":{"code":"TooManyRequests"}}'),
                    RawReply(200, {"Content-Length": "99"}, b'{"value":[1]}'),
                    TransportError("reset"),
                    ok({"value": [1, 2]}))
    api, sleeps = client(script)
    seen = []
    resp = api.request("GET", "https://h/x", scope="s", record=seen.append)
    assert resp.data == {"value": [1, 2]} and resp.retries == 3
    assert sleeps[0] == 3.0 and len(sleeps) == 3
    assert [e.status for e in seen] == [429, 200, 200]
    assert seen[0].rejected.startswith("HTTP 429") and "truncated" in seen[1].rejected
    assert seen[2].rejected is None and seen[2].attempt == 4
    assert script.sent[0][2]["Authorization"].startswith("Bearer ")


def test_unparseable_json_is_retried() -> None:
    api, _ = client(Script(RawReply(200, {}, b'{"value":['), ok({"value": []})))
    assert api.request("GET", "https://h/x", scope="s").retries == 1


def test_401_refreshes_the_token_then_succeeds() -> None:
    tokens = StaticTokens()
    api, sleeps = client(Script(RawReply(401, {}, b""), ok({})), tokens=tokens)
    api.request("GET", "https://h/x", scope="graph")
    assert tokens.invalidated == ["graph"]


def test_budget_exhaustion_raises_the_right_error() -> None:
    api, sleeps = client(Script(*[RawReply(503, {}, b"{}")] * 3), attempts=3)
    with pytest.raises(ThrottledError, match="gave up after 3 tries"):
        api.request("GET", "https://h/x", scope="s")
    assert len(sleeps) == 2
    api, _ = client(Script(*[TransportError("reset")] * 2), attempts=2)
    with pytest.raises(NetworkError):
        api.request("GET", "https://h/x", scope="s")
    api, _ = client(Script(*[RawReply(200, {}, b"<html>")] * 2), attempts=2)
    with pytest.raises(ApiError, match="not valid JSON"):
        api.request("GET", "https://h/x", scope="s")


def test_af429_on_403_is_throttling_not_auth() -> None:
    api, _ = client(Script(RawReply(403, {}, b'{"error":{"code":"AF429","message":"Too many"}}'), ok([])))
    assert api.request("GET", "https://h/x", scope="s").data == []


def test_client_errors_are_translated_without_retry() -> None:
    body = json.dumps({"error": {"code": "BadRequest", "message": "Invalid Operation",
                                 "innererror": {"internalexception": {"message": "bad parameter X"}}}}).encode()
    api, sleeps = client(Script(RawReply(400, {"request-id": "rid"}, body)))
    with pytest.raises(ApiError, match="bad parameter X") as err:
        api.request("POST", "https://h/x", scope="s", json_body={})
    assert err.value.status == 400 and err.value.request_id == "rid" and not sleeps
    api, _ = client(Script(RawReply(403, {}, b"\x00" * 16)))
    with pytest.raises(AuthError):
        api.request("GET", "https://h/x", scope="s")


def test_accept_hook_takes_a_known_error_as_success() -> None:
    api, _ = client(Script(RawReply(400, {}, b'{"error":{"code":"AF20024","message":"already"}}')))
    resp = api.request("POST", "https://h/start", scope="s", accept=lambda status, body: b"AF20024" in body)
    assert resp.status == 400


def test_paginate_odata_and_next_page_uri() -> None:
    api, _ = client(Script(ok({"value": [1], "@odata.nextLink": "https://h/p2"}), ok({"value": [2]})))
    names = []
    pages = list(api.paginate_odata("https://h/p1", scope="s",
                                    record_page=lambda n: (lambda ex, n=n: names.append((n, ex.url)))))
    assert [p.data["value"] for p in pages] == [[1], [2]]
    assert names == [(1, "https://h/p1"), (2, "https://h/p2")]
    api, _ = client(Script(ok([1], NextPageUri="https://h/c?nextPage=2"), ok([2])))
    pages = list(api.paginate_next_page_uri("https://h/c", scope="s", record_page=lambda n: lambda ex: None))
    assert [p.data for p in pages] == [[1], [2]]


def test_a_cut_json_error_body_is_retried_not_final() -> None:
    cut = RawReply(400, {"Content-Type": "application/json"}, b'{"error":{"code":"AF200')
    whole = RawReply(400, {"Content-Type": "application/json"}, b'{"error":{"code":"AF20024","message":"on"}}')
    api, _ = client(Script(cut, whole))
    resp = api.request("POST", "https://h/start", scope="s", accept=lambda st, body: b"AF20024" in body)
    assert resp.status == 400 and resp.retries == 1
    api, _ = client(Script(RawReply(403, {"Content-Type": "application/json"}, b"\x00" * 8)))
    with pytest.raises(AuthError):  # adminapi's NUL-byte 403 is an answer, not a cut body
        api.request("POST", "https://h/x", scope="s")


def test_a_token_endpoint_without_answer_is_retried() -> None:
    class Flaky(StaticTokens):
        def token(self, scope: str) -> str:
            self.issued += 1
            if self.issued == 1:
                raise NetworkError("token request got no answer")
            return "tok"
    api, sleeps = client(Script(ok({})), tokens=Flaky())
    assert api.request("GET", "https://h/x", scope="s").retries == 1 and len(sleeps) == 1
