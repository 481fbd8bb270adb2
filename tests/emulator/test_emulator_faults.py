"""Fault injection (issue item 4): strict spec parsing, seed-determinism, and each fault as the
client sees it on the wire (docs/microsoft-365.md §1.5, §1.5, §3.1, §6.5, §7.3)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from emulator_fakes import FakeScenario
from emulator_helpers import Api

from evkit.emulator.errors import FaultSpecError
from evkit.emulator.faults import FaultDice, parse_faults
from evkit.emulator.testing import running_emulator

UTC = dt.timezone.utc
SPEC = ("429=0.05,429-no-retry-after=0.02,503=0.02,504=0.01,reset=0.01,slow=0.02:2.0,truncate=0.01,"
        "token-expiry=120,restart=0.05,cap-window=2026-06-10T00:00:00Z/2026-06-10T01:00:00Z")


def test_full_example_spec_parses():
    plan = parse_faults(SPEC)
    assert plan.rates["429"] == 0.05 and plan.rates["slow"] == 0.02 and plan.slow_seconds == 2.0
    assert plan.token_expiry == 120
    assert plan.cap_windows == ((dt.datetime(2026, 6, 10, tzinfo=UTC), dt.datetime(2026, 6, 10, 1, tzinfo=UTC)),)
    assert plan.in_cap_window(dt.datetime(2026, 6, 9, tzinfo=UTC), dt.datetime(2026, 6, 10, 0, 30, tzinfo=UTC))
    assert not plan.in_cap_window(dt.datetime(2026, 6, 10, 1, tzinfo=UTC), dt.datetime(2026, 6, 11, tzinfo=UTC))


@pytest.mark.parametrize("spec,item", [
    ("429=2", "429=2"), ("429=x", "429=x"), ("bogus=0.1", "bogus=0.1"), ("429", "429"),
    ("slow=0.1", "slow=0.1"), ("slow=0.1:-1", "slow=0.1:-1"), ("token-expiry=0", "token-expiry=0"),
    ("cap-window=2026-06-10", "cap-window=2026-06-10"), ("cap-window=2026-06-10T01:00Z/2026-06-10T00:00Z",
                                                         "cap-window=2026-06-10T01:00Z/2026-06-10T00:00Z"),
    ("429=0.1,,503=0.1", "empty item"), ("429=0.1,429=0.2", "429=0.2"), ("retry-after=1.5", "retry-after=1.5"),
])
def test_malformed_specs_name_the_item_in_one_line(spec, item):
    with pytest.raises(FaultSpecError) as err:
        parse_faults(spec)
    assert item in str(err.value) and "\n" not in str(err.value)


def test_decisions_depend_only_on_seed_and_request():
    plan = parse_faults("429=0.3,503=0.2")
    keys = [f"GET /graph/v1.0/users?n={i}#x" for i in range(200)]
    runs = []
    for seed in (1, 1, 2):
        dice = FaultDice(plan, seed)
        runs.append([dice.response_fault(k, dice.attempt(k), "graph") for k in keys])
    assert runs[0] == runs[1] != runs[2]
    assert 30 < sum(1 for f in runs[0] if f == "429") < 90
    # a retried request is a new attempt, so a fault does not repeat forever
    dice = FaultDice(parse_faults("503=0.5"), 1)
    outcomes = [dice.response_fault("k", dice.attempt("k"), "graph") for _ in range(20)]
    assert None in outcomes and "503" in outcomes


def _statuses(tmp_path, seed):
    with running_emulator(tmp_path / str(seed), scenario=FakeScenario(), seed=seed, faults="429=0.3,503=0.2",
                          service="legacy") as emu:
        api = Api(emu)
        return [api.get("graph", f"/v1.0/users?$top={n}").status_code for n in range(1, 30)]


def test_same_seed_same_faults_on_the_wire(tmp_path):
    a, b = _statuses(tmp_path / "a", 5), _statuses(tmp_path / "b", 5)
    assert a == b and {429, 503, 200} <= set(a)


@pytest.fixture
def faulty(tmp_path):
    def start(faults, **options):
        return running_emulator(tmp_path, scenario=FakeScenario(), seed=3, faults=faults, service="legacy", **options)
    return start


def test_429_with_and_without_retry_after(faulty):
    with faulty("429=1,retry-after=3") as emu:
        api = Api(emu)
        r = api.get("graph", "/v1.0/subscribedSkus")
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        assert r.json()["error"]["code"] == "TooManyRequests"
        r = api.get("manage", api.mgmt_url("subscriptions/list"))
        assert r.status_code == 429 and "Retry-After" not in r.headers  # none observed live (1.8)
        assert r.json()["error"]["code"] == "AF429" and "PublisherId=" in r.json()["error"]["message"]
        r = api.invoke("Get-OrganizationConfig")
        assert r.status_code == 429 and "Retry-After" not in r.headers
    with faulty("429-no-retry-after=1") as emu:
        r = Api(emu).get("graph", "/v1.0/subscribedSkus")
        assert r.status_code == 429 and "Retry-After" not in r.headers


def test_af429_as_403_on_management_only(faulty):
    with faulty("af429-403=1") as emu:
        api = Api(emu)
        r = api.get("manage", api.mgmt_url("subscriptions/list"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "AF429"
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == 200


@pytest.mark.parametrize("status", [503, 504])
def test_5xx(faulty, status):
    with faulty(f"{status}=1") as emu:
        api = Api(emu)
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == status
        r = api.get("manage", api.mgmt_url("subscriptions/list"))
        assert r.status_code == status and r.json()["error"]["code"] == "AF50000"


def test_truncated_json_with_matching_length(faulty):
    with faulty("truncate=1") as emu:
        r = Api(emu).get("graph", "/v1.0/subscribedSkus")
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
        with pytest.raises(ValueError):
            r.json()


def test_connection_reset_mid_body(faulty):
    with faulty("reset=1") as emu:
        with pytest.raises(requests.RequestException):
            Api(emu).get("graph", "/v1.0/users")


def test_slow_and_latency(faulty):
    with faulty("slow=1:0.4", latency_ms=100) as emu:
        api = Api(emu)
        api.token("graph")
        t = time.monotonic()
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == 200
        assert time.monotonic() - t >= 0.5


class SteppedClock:
    """A wall clock the test moves by hand, so token expiry never races the machine's load."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_expiry_mid_run(faulty):
    clock = SteppedClock(1_800_000_000.9)  # late in a second: `iat` (whole seconds) lies 0.9 s back
    with faulty("token-expiry=1") as emu:
        emu.state.clock = clock
        api = Api(emu)
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == 200
        clock.now += 0.5  # past iat + 1, not past the issue time + 1: still valid
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == 200
        clock.now += 0.5
        r = api.get("graph", "/v1.0/subscribedSkus")
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_token_lifetime_option(faulty):
    with faulty(None, token_lifetime=120) as emu:
        assert Api(emu).token_response("https://graph.microsoft.com/.default").json()["expires_in"] == 120


def test_login_is_never_faulted(faulty):
    with faulty("503=1,reset=1,truncate=1") as emu:
        assert Api(emu).token_response("https://graph.microsoft.com/.default").status_code == 200


def test_restart_gives_result_index_minus_one(faulty):
    with faulty("restart=1") as emu:
        rows = Api(emu).invoke("Search-UnifiedAuditLog", StartDate="2026-06-25", EndDate="2026-06-25T01:00",
                               SessionId="r", SessionCommand="ReturnLargeSet", ResultSize=50).json()["value"]
        assert rows and {(r["ResultIndex"], r["ResultCount"]) for r in rows} == {(-1, 0)}


def test_foreign_answers_hold_rows_from_before_the_window_and_every_row_of_it(faulty):
    def dates(emu, start, end, size=5000):
        rows = Api(emu).invoke("Search-UnifiedAuditLog", StartDate=start, EndDate=end, ResultSize=size).json()["value"]
        return [r["CreationDate"][:19] for r in rows]
    with faulty(None) as emu:
        own = dates(emu, "2026-06-25T01:00:00Z", "2026-06-25T01:10:00Z")
    with faulty("foreign=1") as emu:
        got = dates(emu, "2026-06-25T01:00:00Z", "2026-06-25T01:10:00Z")
        capped = dates(emu, "2026-06-25T01:00:00Z", "2026-06-25T01:10:00Z", size=len(own))
    assert own and all("2026-06-25T01:00:00" <= d < "2026-06-25T01:10:00" for d in own)
    before = [d for d in got if d < "2026-06-25T01:00:00"]
    assert before and all(d >= "2026-06-25T00:50:00" for d in before)  # as far again before, no further
    assert sorted(set(got) - set(before)) == sorted(set(own))  # the window's own rows all there
    assert capped == got[:len(own)] and sorted(capped) == sorted(own)  # newest first: its own rows first


def test_cap_window_reports_over_50000_at_any_split(faulty):
    with faulty("cap-window=2026-06-25T00:00:00Z/2026-06-25T01:00:00Z") as emu:
        api = Api(emu)
        for start, end in [("2026-06-24", "2026-06-26"), ("2026-06-25T00:10", "2026-06-25T00:11"),
                           ("2026-06-25T00:59:40", "2026-06-25T00:59:41")]:  # one second, two records
            for session in ({}, {"SessionId": f"cap{start}", "SessionCommand": "ReturnLargeSet"}):
                rows = api.invoke("Search-UnifiedAuditLog", StartDate=start, EndDate=end, ResultSize=1,
                                  **session).json()["value"]
                assert rows[0]["ResultCount"] > 50_000, (start, end)
        rows = api.invoke("Search-UnifiedAuditLog", StartDate="2026-06-25T01:00", EndDate="2026-06-25T02:00",
                          ResultSize=1).json()["value"]
        assert rows[0]["ResultCount"] == 360


def test_concurrency_cap_answers_429(faulty):
    with faulty(None, max_concurrency=1, latency_ms=300) as emu:
        api = Api(emu)
        api.token("graph")
        sessions = [Api(emu) for _ in range(3)]
        for s in sessions:
            s._tokens = dict(api._tokens)
        barrier = threading.Barrier(3)

        def call(s):
            barrier.wait()
            return s.get("graph", "/v1.0/subscribedSkus").status_code

        with ThreadPoolExecutor(3) as pool:
            statuses = sorted(pool.map(call, sessions))
        assert statuses[0] == 200 and 429 in statuses
