"""Management Activity API contract (docs/microsoft-365.md §1.2-§1.5). The virtual now is the
scenario end, 2026-06-30T00:00Z; blobs become available 30 minutes after their hour ends.
Most tests run `--service legacy` (subscriptions already on, a fixed 30-minute lag); the
current service's differences (docs/emulator-fidelity.md) are tested at the end."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from emulator_fakes import END, FakeScenario
from emulator_helpers import Api

from evkit.emulator.testing import running_emulator

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A legacy emulator for this module (the session one serves the current service)."""
    with running_emulator(tmp_path_factory.mktemp("mgmt-legacy"), scenario=FakeScenario(), seed=7,
                          service="legacy", mgmt_page_size=10) as running:
        yield Api(running)


def test_subscriptions_list_and_start_already_enabled(api):
    subs = api.get("manage", api.mgmt_url("subscriptions/list")).json()
    assert {s["contentType"] for s in subs} == {"Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint",
                                                "Audit.General", "DLP.All"}
    assert all(s["status"] == "enabled" and s["webhook"] is None for s in subs)
    r = api.post("manage", api.mgmt_url("subscriptions/start?contentType=Audit.Exchange"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "AF20024"


def _list(api, query):
    return api.get("manage", api.mgmt_url(f"subscriptions/content?{query}"))


def test_content_default_window_is_last_24h_with_next_page_uri(api):
    """1.5: omitted start/end = last 24 h; truncated pages carry an absolute NextPageUri header
    with the same interval and nextPage=; pagination is never in the body."""
    r = _list(api, "contentType=Audit.Exchange")
    assert r.status_code == 200
    items, pages = list(r.json()), 1
    assert len(items) == 10
    next_uri = r.headers["NextPageUri"]
    q = parse_qs(urlsplit(next_uri).query)
    assert next_uri.startswith(api.c["manage"] + f"/api/v1.0/{api.tenant}/activity/feed/subscriptions/content?")
    assert q["startTime"] == ["2026-06-29T00:00:00"] and q["endTime"] == ["2026-06-30T00:00:00"] and q["nextPage"]
    while "NextPageUri" in r.headers:
        r = api.get("manage", r.headers["NextPageUri"])
        assert r.status_code == 200
        items += r.json()
        pages += 1
    assert pages == 3 and len(items) == 24   # one blob per hour in the 24 h of availability
    created = [dt.datetime.fromisoformat(i["contentCreated"].replace("Z", "+00:00")) for i in items]
    assert created == sorted(created)
    assert all(END - dt.timedelta(days=1) <= c < END for c in created)
    first = items[0]
    assert set(first) == {"contentType", "contentId", "contentUri", "contentCreated", "contentExpiration"}
    assert "$" in first["contentId"] and first["contentUri"].endswith("/audit/" + first["contentId"])
    assert first["contentExpiration"] > first["contentCreated"]


def test_content_filter_is_on_content_created_inclusive_exclusive(api):
    r = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T10:30:00.113Z&endTime=2026-06-29T12:30:00.113Z")
    created = [i["contentCreated"] for i in r.json()]
    assert created == ["2026-06-29T10:30:00.113Z", "2026-06-29T11:30:00.113Z"]
    for fmt in ("2026-06-29", "2026-06-29T10:30", "2026-06-29T10:30:00"):
        assert _list(api, f"contentType=Audit.Exchange&startTime={fmt}&endTime=2026-06-29T23:00").status_code == 200


@pytest.mark.parametrize("query,code", [
    ("", "AF20001"),
    ("contentType=Audit.Nope", "AF20020"),
    ("contentType=Audit.Exchange&startTime=2026-06-29T00:00:00", "AF20055"),           # start without end
    ("contentType=Audit.Exchange&startTime=2026-06-28T00:00&endTime=2026-06-29T00:01", "AF20055"),  # > 24 h
    ("contentType=Audit.Exchange&startTime=2026-06-21T00:00&endTime=2026-06-21T12:00", "AF20055"),  # > 7 days back
    ("contentType=Audit.Exchange&startTime=2026-06-29T12:00&endTime=2026-06-29T11:00", "AF20055"),  # start after end
    ("contentType=Audit.Exchange&nextPage=garbage", "AF20031"),
])
def test_content_listing_errors(api, query, code):
    r = _list(api, query)
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert set(r.json()["error"]) == {"code", "message"}


def test_blob_is_array_of_classic_records_unsorted_with_duplicates(api):
    items = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T05:00&endTime=2026-06-29T07:00").json()
    r = api.get("manage", items[0]["contentUri"] + "?PublisherIdentifier=" + api.tenant)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    records = r.json()
    hour = dt.datetime(2026, 6, 29, 4, tzinfo=UTC)
    want = [x for x in FakeScenario().records(hour, hour + dt.timedelta(hours=1)) if x["Workload"] == "Exchange"]
    in_hour = [x for x in records if x["CreationTime"].startswith("2026-06-29T04")]
    assert sorted(x["Id"] for x in in_hour) == sorted(x["Id"] for x in want)
    assert [x["CreationTime"] for x in in_hour] != sorted(x["CreationTime"] for x in in_hour)  # not chronological
    assert all(len(x["CreationTime"]) == 19 and not x["CreationTime"].endswith("Z") for x in records)
    assert all(x["CreationTime"].startswith("2026-06-29T03") for x in records if x not in in_hour)  # duplicates
    assert json.loads(r.content) == records


def test_blob_errors(api):
    base = api.c["manage"] + api.mgmt_url("audit/")
    r = api.get("manage", base + "not-a-content-id")
    assert r.status_code == 400 and r.json()["error"]["code"] == "AF20052"
    missing = "20260629043000000000009$20260629043000000000009$audit_exchange$Audit_Exchange"
    r = api.get("manage", base + "20260629040000000000009$20260629040000000000009$audit_exchange$Audit_Exchange")
    assert r.json()["error"]["code"] == "AF20050"
    old = "20260621040000000000000$20260621040000000000000$audit_exchange$Audit_Exchange"
    r = api.get("manage", base + old)
    assert r.status_code == 400 and r.json()["error"]["code"] == "AF20051"
    assert missing


def test_concurrent_blob_downloads(api):
    from concurrent.futures import ThreadPoolExecutor
    items = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T00:00&endTime=2026-06-29T12:00").json()
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda i: api.get("manage", i["contentUri"]).status_code, items))
    assert statuses == [200] * len(items) == [200] * 10  # first page of the listing


def test_no_subscription_stop_and_restart(tmp_path):
    """AF20022 before start; start -> enabled with webhook null; stop -> 200 empty body; a
    stopped subscription lists AF20023; a restart sees only content from the restart on (1.4)."""
    with running_emulator(tmp_path, scenario=FakeScenario(), mgmt_subscriptions="none", service="legacy") as emu:
        api = Api(emu)
        r = _list(api, "contentType=Audit.Exchange")
        assert r.status_code == 400 and r.json()["error"]["code"] == "AF20022"
        assert api.get("manage", api.mgmt_url("subscriptions/list")).json() == []
        r = api.post("manage", api.mgmt_url("subscriptions/start?contentType=Audit.Exchange"))
        assert r.status_code == 200
        assert r.json() == {"contentType": "Audit.Exchange", "status": "enabled", "webhook": None}
        assert len(_list(api, "contentType=Audit.Exchange").json()) == 20  # default mgmt_page_size
        r = api.post("manage", api.mgmt_url("subscriptions/stop?contentType=Audit.Exchange"))
        assert r.status_code == 200 and r.content == b""
        assert _list(api, "contentType=Audit.Exchange").json()["error"]["code"] == "AF20023"
        assert api.post("manage", api.mgmt_url("subscriptions/start?contentType=Audit.Exchange")).status_code == 200
        assert _list(api, "contentType=Audit.Exchange").json() == []


def test_tenant_in_url_must_be_guid(api):
    r = api.get("manage", f"/api/v1.0/{api.c['tenant_domain']}/activity/feed/subscriptions/list")
    assert r.status_code == 400 and r.json()["error"]["code"] == "AF20013"


def test_friendly_names_accept_one_language(api):
    url = api.mgmt_url("resources/dlpSensitiveTypes")
    assert api.get("manage", url, headers={"Accept-Language": "en-US"}).status_code == 200
    assert api.get("manage", url, headers={"Accept-Language": "en-US, de-DE"}).json()["error"]["code"] == "AF20053"
    assert api.get("manage", url, headers={"Accept-Language": "??"}).json()["error"]["code"] == "AF20054"


def test_blob_id_with_percent_encoded_dollars(api):
    items = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T05:00&endTime=2026-06-29T06:00").json()
    encoded = items[0]["contentUri"].replace("$", "%24")
    assert api.get("manage", encoded).status_code == 200


def test_current_service_starts_with_no_subscription_and_lists_only_later_content(tmp_path):
    """current: a tenant nobody subscribed answers AF20022; a fresh start lists only content made
    available after it, so the earlier days stay empty (docs/emulator-fidelity.md)."""
    with running_emulator(tmp_path, scenario=FakeScenario(), seed=7) as emu:
        api = Api(emu)
        r = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T00:00:00&endTime=2026-06-29T23:59:00")
        assert r.status_code == 400 and r.json()["error"]["code"] == "AF20022"
        assert api.post("manage", api.mgmt_url("subscriptions/start?contentType=Audit.Exchange")).status_code == 200
        r = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T00:00:00&endTime=2026-06-29T23:59:00")
        assert r.status_code == 200 and r.json() == []


def test_current_service_content_lags_60_to_90_minutes(tmp_path):
    with running_emulator(tmp_path, scenario=FakeScenario(), seed=7, mgmt_subscriptions="enabled") as emu:
        api = Api(emu)
        r = _list(api, "contentType=Audit.Exchange&startTime=2026-06-29T00:00:00&endTime=2026-06-29T23:59:59")
        assert r.status_code == 200
        items = list(r.json())
        while "NextPageUri" in r.headers:
            r = api.get("manage", r.headers["NextPageUri"])
            items += r.json()
        assert items
        for item in items:
            created = dt.datetime.strptime(item["contentCreated"][:19], "%Y-%m-%dT%H:%M:%S")
            hour_end = dt.datetime.strptime(item["contentId"][:10], "%Y%m%d%H") + dt.timedelta(hours=1)
            assert dt.timedelta(minutes=60) <= created - hour_end <= dt.timedelta(minutes=91)
