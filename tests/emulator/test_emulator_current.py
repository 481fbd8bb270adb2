"""The current service (`--service current`, the default): each test cites the behaviour of
docs/emulator-fidelity.md it checks. The legacy behaviour is what the other contract tests pin."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_fakes import FakeScenario, expected
from emulator_helpers import Api

from evkit.emulator.cli import _options
from evkit.emulator.errors import UsageError
from evkit.emulator.options import Options
from evkit.emulator.testing import RunningEmulator, running_emulator

UTC = dt.timezone.utc
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("current"), scenario=FakeScenario(), seed=7) as running:
        yield running


class TenantApi(Api):
    """Calls the tenant host directly (where the front door's redirect leads, EXO-1)."""

    def __init__(self, emu: RunningEmulator) -> None:
        super().__init__(emu)
        self.c = dict(self.c, exchange=self.c["exchange"].replace("127.0.0.1", "localhost"))


@pytest.fixture(scope="module")
def api(current: RunningEmulator) -> TenantApi:
    return TenantApi(current)


def window(hour: int, hours: int = 3) -> tuple[str, str, dt.datetime, dt.datetime]:
    start = dt.datetime(2026, 6, 25, hour, tzinfo=UTC)
    end = start + dt.timedelta(hours=hours)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}", start, end


def search(api: Api, **params: Any) -> dict[str, Any]:
    """One answer with rows: a first answer that is empty with a warning (UAL-4) is asked again."""
    for _ in range(2):
        r = api.invoke("Search-UnifiedAuditLog", **params)
        assert r.status_code == 200, r.content[:300]
        body = r.json()
        if body["value"] or not body["@adminapi.warnings"]:
            return body
    raise AssertionError("two empty answers")


def test_result_count_is_the_result_size_given_ual_1(api) -> None:
    s, e, start, end = window(0)
    body = search(api, StartDate=s, EndDate=e, ResultSize=7)
    assert len(expected(start, end)) > 7
    assert [r["ResultCount"] for r in body["value"]] == [7] * 7
    default = search(api, StartDate=s, EndDate=e)
    assert {r["ResultCount"] for r in default["value"]} == {100}


def test_truncation_shows_in_more_records_available_and_a_warning_ual_2_ual_3(api) -> None:
    s, e, start, end = window(3)
    body = search(api, StartDate=s, EndDate=e, ResultSize=5)
    assert all(r["AuditSearchRequestMetadata"]["moreRecordsAvailable"] is True for r in body["value"])
    assert any("more results" in w for w in body["@adminapi.warnings"])
    s2, e2 = "2026-06-25T06:00:00Z", "2026-06-25T06:01:00Z"  # 6 records, fewer than asked for
    small = search(api, StartDate=s2, EndDate=e2, ResultSize=50)
    assert len(small["value"]) == 6 and small["@adminapi.warnings"] == []
    assert all(r["AuditSearchRequestMetadata"]["moreRecordsAvailable"] is False for r in small["value"])


def test_some_first_answers_are_empty_with_a_warning_and_a_repeat_succeeds_ual_4(api) -> None:
    empties = 0
    for minute in range(12):
        params = {"StartDate": f"2026-06-26T01:{minute:02d}:00Z", "EndDate": f"2026-06-26T01:{minute + 1:02d}:00Z",
                  "ResultSize": 50}
        first = api.invoke("Search-UnifiedAuditLog", **params).json()
        if not first["value"]:
            empties += 1
            assert first["@adminapi.warnings"] == ["Failed to process request: The task was canceled."]
            again = api.invoke("Search-UnifiedAuditLog", **params).json()
            assert len(again["value"]) == 6 and again["@adminapi.warnings"] == []
    assert 1 <= empties <= 10  # some, not all: one in three on average


def test_high_completeness_answers_slowly_ual_5(api) -> None:
    s, e, _, _ = window(9, 1)
    search(api, StartDate=s, EndDate=e, ResultSize=1)
    began = time.monotonic()
    search(api, StartDate=s, EndDate=e, ResultSize=1, HighCompleteness=True)
    assert time.monotonic() - began >= 1.5


def test_sessions_report_the_result_size_and_more_records_ual_6(api) -> None:
    s, e, start, end = window(12)
    page = search(api, StartDate=s, EndDate=e, ResultSize=10, SessionId="cur-1", SessionCommand="ReturnLargeSet")
    assert {r["ResultCount"] for r in page["value"]} == {10} and len(expected(start, end)) > 10
    assert all(r["AuditSearchRequestMetadata"]["moreRecordsAvailable"] for r in page["value"])


def test_the_front_door_redirects_to_the_tenant_host_exo_1(current) -> None:
    generic = Api(current)
    url = f"/adminapi/beta/{generic.tenant}/InvokeCommand"
    body = {"CmdletInput": {"CmdletName": "Get-OrganizationConfig", "Parameters": {}}}
    r = generic.post("exchange", url, json=body, allow_redirects=False)
    assert r.status_code == 307
    assert r.headers["Location"] == current.connection["exchange"].replace("127.0.0.1", "localhost") + url
    followed = generic.http.post(r.headers["Location"], json=body,
                                 headers={"Authorization": f"Bearer {generic.token('exchange')}"})
    assert followed.status_code == 200 and followed.json()["value"]


def test_routing_headers_are_accepted_and_not_required_exo_3(api) -> None:
    headers = {"X-AnchorMailbox": f"APP:{SYSTEM_MAILBOX}@{api.tenant}", "X-CmdletName": "Get-OrganizationConfig",
               "X-ResponseFormat": "json", "X-ClientApplication": "ExoManagementModule",
               "Prefer": "odata.maxpagesize=1000"}
    assert api.invoke("Get-OrganizationConfig", headers=headers).status_code == 200
    assert api.invoke("Get-OrganizationConfig").status_code == 200


def test_throttling_gives_the_wait_in_the_message_text_exo_2(tmp_path) -> None:
    with running_emulator(tmp_path, scenario=FakeScenario(), seed=7, faults="429=1,retry-after=4") as emu:
        r = TenantApi(emu).invoke("Get-OrganizationConfig")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["error"]["message"].endswith("retry after 4 seconds")


def test_service_option_and_flag() -> None:
    assert Options().service == "current"
    with pytest.raises(UsageError, match="service"):
        Options.from_kwargs(service="2019")
    options, _ = _options(["--workdir", "w", "--service", "legacy"])
    assert options.service == "legacy"
    with pytest.raises(UsageError):
        _options(["--workdir", "w", "--service", "old"])
