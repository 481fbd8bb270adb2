"""Exchange transport as the service behaves today (docs/emulator-fidelity.md EXO-1..EXO-3):
redirects to a tenant host followed (and remembered) only within the same service, waits given
only in a 429's message text honoured, routing headers sent on every InvokeCommand."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from collector_fakes import StaticTokens, config_dict

from evkit.collector.check import check
from evkit.collector.client import FIRST_ANSWER_WAIT, ApiClient, RawReply, redirect_allowed
from evkit.collector.config import parse_config
from evkit.collector.errors import ApiError
from evkit.collector.retry import RetryPolicy, wait_in_text
from evkit.collector.sources.base import routing_headers
from evkit.collector.sources.ual import SEARCH_TIMEOUT

URL = "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
TENANT_HOST = "https://nam12b.outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"


class Script:
    def __init__(self, *replies: RawReply) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[str, str, dict, Any]] = []

    def __call__(self, method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        self.sent.append((method, url, dict(headers), data))
        return self.replies.pop(0)


def make(script: Script) -> tuple[ApiClient, list[float]]:
    sleeps: list[float] = []
    return ApiClient(StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=4), sleep=sleeps.append,
                     transport=script), sleeps


def ok() -> RawReply:
    return RawReply(200, {}, json.dumps({"value": [1]}).encode())


def test_a_redirect_to_the_tenant_host_is_followed_with_the_same_body_and_remembered() -> None:
    script = Script(RawReply(307, {"Location": TENANT_HOST}, b""), ok(), ok())
    api, _ = make(script)
    seen: list[Any] = []
    first = api.request("POST", URL, scope="s", json_body={"a": 1}, record=seen.append)
    assert first.data == {"value": [1]} and first.retries == 0
    assert [s[1] for s in script.sent] == [URL, TENANT_HOST]
    assert script.sent[1][0] == "POST" and script.sent[1][3] == script.sent[0][3]  # same method and body
    assert [e.status for e in seen] == [307, 200]  # the redirect is kept as evidence
    api.request("POST", URL, scope="s", json_body={"a": 1})
    assert script.sent[2][1] == TENANT_HOST  # no second trip through the front door


def test_calls_made_while_the_first_is_out_wait_for_its_redirect_and_take_it_once() -> None:
    """EXO-1: concurrent first calls each took the front door's redirect (one wasted round trip
    per thread); now the first call's answer is awaited, so only it meets the redirect."""
    sent: list[str] = []
    lock = threading.Lock()

    def transport(method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        with lock:
            sent.append(url)
        time.sleep(0.2)  # the round trip: the other threads have called by then
        return RawReply(307, {"Location": TENANT_HOST}, b"") if url == URL else ok()
    api = ApiClient(StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=4), transport=transport)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: api.request("POST", URL, scope="s", json_body={}), range(4)))
    assert [a.data for a in answers] == [{"value": [1]}] * 4
    assert sent.count(URL) == 1 and sent.count(TENANT_HOST) == 4


def test_without_a_redirect_the_calls_that_waited_go_once_the_first_is_answered() -> None:
    """The wait is for the first answer only (and at most FIRST_ANSWER_WAIT): afterwards, and
    for GETs, calls to one URL run side by side."""
    started: list[float] = []
    lock = threading.Lock()

    def transport(method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.3)
        return ok()
    api = ApiClient(StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=4), transport=transport)
    for method, waits in (("POST", 1), ("POST", 0), ("GET", 0)):
        started.clear()
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda m: api.request(m, URL, scope="s"), [method] * 3))
        late = sorted(started)[1:]
        assert sum(t - min(started) > 0.25 for t in late) == 2 * waits, (method, started)
    assert FIRST_ANSWER_WAIT <= 10


def test_a_first_call_that_hangs_delays_the_others_once_not_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first search can take minutes (collector/sources/ual.py SEARCH_TIMEOUT): the calls made
    meanwhile wait FIRST_ANSWER_WAIT once, then go as before, not each call again."""
    from evkit.collector import client as client_module

    monkeypatch.setattr(client_module, "FIRST_ANSWER_WAIT", 0.3)
    release = threading.Event()

    def transport(method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        if data == b'{"first":true}':
            release.wait(10)
        return ok()
    api = ApiClient(StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=4), transport=transport)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(api.request, "POST", URL, scope="s", json_body={"first": True})
        time.sleep(0.05)
        began = time.monotonic()
        for _ in range(6):
            api.request("POST", URL, scope="s", json_body={})
        took = time.monotonic() - began
        release.set()
        assert first.result().data == {"value": [1]}
    assert took < 0.3 * 2, took  # was 6 waits (1.8 s)


@pytest.mark.parametrize("target", [
    "https://evil.example/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
    "http://nam12b.outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
    "https://nam12b.outlook.office365.com/adminapi/beta/other-tenant/InvokeCommand",
    "https://outlook.office365.com.evil.example/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
])
def test_a_redirect_elsewhere_is_refused_and_the_token_not_sent(target: str) -> None:
    script = Script(RawReply(302, {"Location": target}, b""))
    api, _ = make(script)
    with pytest.raises(ApiError, match="not followed"):
        api.request("POST", URL, scope="s", json_body={})
    assert len(script.sent) == 1


def test_redirect_rule_allows_loopback_aliases_and_same_suffix_only() -> None:
    assert redirect_allowed("https://127.0.0.1:4443/x", "https://localhost:4443/x")
    assert not redirect_allowed("https://127.0.0.1:4443/x", "https://10.0.0.1:4443/x")
    assert redirect_allowed("https://outlook.office365.us/x", "https://a.outlook.office365.us/x")
    assert not redirect_allowed("https://outlook.office365.us/x", "https://outlook.office365.com/x")


def test_a_429_wait_given_only_in_the_message_text_is_honoured() -> None:
    body = json.dumps({"error": {"code": "TooManyRequests",
                                 "message": "The request was throttled. Please retry after 17 seconds"}}).encode()
    api, sleeps = make(Script(RawReply(429, {}, body), ok()))
    api.request("POST", URL, scope="s", json_body={})
    assert sleeps == [17.0]
    assert wait_in_text("Too many requests. Try again in 2.5 seconds.") == 2.5
    assert wait_in_text("Too many requests. Please try again later.") is None


def test_invoke_command_sends_routing_headers() -> None:
    headers = routing_headers("Search-UnifiedAuditLog", "contoso.onmicrosoft.com")
    assert headers["X-AnchorMailbox"] == ("APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
                                          "@contoso.onmicrosoft.com")
    assert headers["X-CmdletName"] == "Search-UnifiedAuditLog" and headers["X-ResponseFormat"] == "json"
    assert headers["X-ClientApplication"] == "ExoManagementModule"


def test_the_check_sends_its_probes_as_the_collection_does() -> None:
    """`evkit collect --check` waits as long for its search as the collection does (a slow search
    is not a missing permission: emulator-fidelity UAL-5) and sends the routing headers."""
    sent: list[tuple[str, dict, float]] = []

    def transport(method: str, url: str, headers: Any, data: Any, timeout: float) -> RawReply:
        sent.append((json.loads(data)["CmdletInput"]["CmdletName"], dict(headers), timeout))
        return ok()
    cfg = parse_config(config_dict(sources=["ual", "config"]), Path("/nonexistent/collect.toml"))
    report = check(cfg, StaticTokens(), transport=transport)
    assert report.ok, report.render()
    timeouts = {cmdlet: timeout for cmdlet, _, timeout in sent}
    assert timeouts["Search-UnifiedAuditLog"] >= SEARCH_TIMEOUT
    assert timeouts["Get-OrganizationConfig"] == cfg.tuning.timeout_seconds
    assert all(h["X-AnchorMailbox"].startswith("APP:SystemMailbox{") and h["X-CmdletName"] == c for c, h, _ in sent)
