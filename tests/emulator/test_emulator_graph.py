"""Microsoft Graph contract: licences (docs/microsoft-365.md §5.1-§5.1) and the audit log query API (2.1-2.6, 9)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from emulator_fakes import ADV_AUDIT, N_GRAPH_USERS, USERS, FakeScenario, expected
from emulator_helpers import Api

from evkit.emulator.testing import running_emulator

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def legacy_api(api):
    """The session emulator (tests/emulator/conftest.py) serves the legacy service."""
    return api


@pytest.fixture(scope="module")
def current_api(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("graph-current"), scenario=FakeScenario(), seed=7,
                          service="current") as running:
        yield Api(running)


def test_subscribed_skus_shape_and_select(api):
    r = api.get("graph", "/v1.0/subscribedSkus")
    body = r.json()
    assert r.status_code == 200 and body["@odata.context"].endswith("/v1.0/$metadata#subscribedSkus")
    plans = body["value"][0]["servicePlans"]
    assert {p["servicePlanId"] for p in plans} == {ADV_AUDIT}
    r = api.get("graph", "/v1.0/subscribedSkus?$select=skuPartNumber")
    assert set(r.json()["value"][0]) == {"id", "skuPartNumber"}


def test_users_page_with_absolute_next_link(api):
    seen, url, pages = [], "/v1.0/users?$select=id,userPrincipalName,assignedLicenses,assignedPlans", 0
    while url:
        r = api.get("graph", url)
        assert r.status_code == 200
        body = r.json()
        assert len(body["value"]) <= 100  # Graph's default page for users
        seen += body["value"]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(api.c["graph"] + "/v1.0/users?") and "$skiptoken=" in url
        pages += 1
    assert pages == 3 and len(seen) == N_GRAPH_USERS == len({u["id"] for u in seen})
    assert seen[0]["assignedPlans"][0]["servicePlanId"] == ADV_AUDIT


def test_users_top_bounds(api):
    assert api.get("graph", "/v1.0/users?$top=999").status_code == 200
    r = api.get("graph", "/v1.0/users?$top=1000")
    assert r.status_code == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"
    r = api.get("graph", "/v1.0/users?$skiptoken=bogus")
    assert r.status_code == 400


def test_license_details_refused_app_only_under_current(current_api):
    api = current_api
    """current: licenseDetails has no application permission (docs/emulator-fidelity.md)."""
    users = api.get("graph", "/v1.0/users?$top=1").json()["value"]
    r = api.get("graph", f"/v1.0/users/{users[0]['id']}/licenseDetails")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"


def test_license_details_by_id_and_upn(legacy_api):
    api = legacy_api
    users = api.get("graph", "/v1.0/users?$top=1").json()["value"]
    for key in (users[0]["id"], USERS[0]):
        r = api.get("graph", f"/v1.0/users/{key}/licenseDetails")
        body = r.json()
        assert r.status_code == 200
        assert body["@odata.context"].endswith(f"/v1.0/$metadata#users('{users[0]['id']}')/licenseDetails")
        assert body["value"][0]["servicePlans"][0]["servicePlanName"] == "M365_ADVANCED_AUDITING"
    r = api.get("graph", "/v1.0/users/nobody@contoso.onmicrosoft.com/licenseDetails")
    assert r.status_code == 404 and r.json()["error"]["code"] == "Request_ResourceNotFound"
    assert {"request-id", "date"} <= set(r.json()["error"]["innerError"])


def test_v1_audit_queries_answer_404_unknown_error_under_legacy(legacy_api):
    """2.1 (legacy): POST /v1.0/... -> 404 UnknownError with an empty message."""
    api = legacy_api
    r = api.post("graph", "/v1.0/security/auditLog/queries", json={"displayName": "x"})
    assert r.status_code == 404 and r.json()["error"] == {**r.json()["error"], "code": "UnknownError", "message": ""}


def test_v1_audit_queries_are_served_under_current(current_api):
    api = current_api
    """current: the query API is documented on v1.0 as well as beta."""
    r = api.post("graph", "/v1.0/security/auditLog/queries", json={"displayName": "x"})
    assert r.status_code == 201 and r.json()["id"]


def _create(api, **body):
    r = api.post("graph", "/beta/security/auditLog/queries", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _wait(api, query_id):
    statuses = []
    for _ in range(10):
        q = api.get("graph", f"/beta/security/auditLog/queries/{query_id}").json()
        statuses.append(q["status"])
        if q["status"] == "succeeded":
            return q, statuses
    raise AssertionError(statuses)


WINDOW = ("2026-06-25T00:00:00Z", "2026-06-25T03:00:00Z")
W_START, W_END = dt.datetime(2026, 6, 25, tzinfo=UTC), dt.datetime(2026, 6, 25, 3, tzinfo=UTC)


def test_query_lifecycle_not_started_running_succeeded(api):
    q = _create(api, displayName="t", filterStartDateTime=WINDOW[0], filterEndDateTime=WINDOW[1],
                operationFilters=["MailItemsAccessed"])
    assert q["status"] == "notStarted" and q["operationFilters"] == ["MailItemsAccessed"]
    r = api.get("graph", f"/beta/security/auditLog/queries/{q['id']}/records")
    assert r.status_code == 400  # not finished yet
    done, statuses = _wait(api, q["id"])
    assert statuses == ["running", "succeeded"]
    want = expected(W_START, W_END, lambda r: r["Operation"] == "MailItemsAccessed")
    assert done["approximateReturnedRecordCount"] == len(want)
    listed = api.get("graph", "/beta/security/auditLog/queries").json()["value"]
    assert q["id"] in {x["id"] for x in listed}


def _all_records(api, query_id, top):
    url, out, pages = f"/beta/security/auditLog/queries/{query_id}/records?$top={top}", [], 0
    while url:
        body = api.get("graph", url).json()
        assert len(body["value"]) <= top
        out += body["value"]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(api.c["graph"] + "/beta/security/auditLog/queries/")
            assert "$skiptoken" in parse_qs(urlsplit(url).query)
        pages += 1
    return out, pages


def test_records_page_to_exactly_the_window(api):
    """Ties (two records per second) across page boundaries lose and repeat nothing."""
    q = _create(api, filterStartDateTime=WINDOW[0], filterEndDateTime=WINDOW[1])
    _wait(api, q["id"])
    got, pages = _all_records(api, q["id"], top=37)
    want = expected(W_START, W_END)
    assert [g["id"] for g in got] == [w["Id"] for w in want]
    assert pages == -(-len(want) // 37)


def test_record_wire_quirks(api):
    """2.6: PascalCase enums, crossed userId/userPrincipalName, clientIp null, [""] admin units,
    auditData object with @odata.type and #Int64 / #Collection annotations, CreationTime with Z."""
    q = _create(api, filterStartDateTime=WINDOW[0], filterEndDateTime=WINDOW[1],
                recordTypeFilters=["exchangeItemAggregated"])
    _wait(api, q["id"])
    r = api.get("graph", f"/beta/security/auditLog/queries/{q['id']}/records?$top=1").json()["value"][0]
    src = expected(W_START, W_END, lambda x: x["RecordType"] == 50)[0]
    assert r["auditLogRecordType"] == "ExchangeItemAggregated" and r["userType"] == "Regular"
    assert r["userId"] == src["UserKey"] and r["userPrincipalName"] == src["UserId"]
    assert r["clientIp"] is None and r["administrativeUnits"] == [""]
    assert r["createdDateTime"] == src["CreationTime"] + "Z"
    data = r["auditData"]
    assert data["@odata.type"] == "#microsoft.graph.security.defaultAuditData"
    assert data["RecordType@odata.type"] == "#Int64" and data["RecordType"] == 50
    assert data["CreationTime"].endswith("Z")
    assert data["OperationProperties@odata.type"] == "#Collection(microsoft.graph.security.defaultAuditData)"
    keys = list(data)
    assert keys.index("RecordType@odata.type") == keys.index("RecordType") - 1


def test_service_filter_singular_and_plural(api):
    """2.3 / 10: accept serviceFilter (string) and serviceFilters (array)."""
    counts = []
    for body in ({"serviceFilter": "SharePoint"}, {"serviceFilters": ["SharePoint"]}):
        q = _create(api, filterStartDateTime=WINDOW[0], filterEndDateTime=WINDOW[1], **body)
        counts.append(_wait(api, q["id"])[0]["approximateReturnedRecordCount"])
    assert counts[0] == counts[1] == len(expected(W_START, W_END, lambda r: r["Workload"] == "SharePoint"))


def test_user_filter_and_bad_record_type(api):
    q = _create(api, filterStartDateTime=WINDOW[0], filterEndDateTime=WINDOW[1],
                userPrincipalNameFilters=[USERS[1].upper()])
    got, _ = _all_records(api, q["id"] if _wait(api, q["id"]) else q["id"], top=1000)
    assert got and {g["userPrincipalName"] for g in got} == {USERS[1]}
    r = api.post("graph", "/beta/security/auditLog/queries", json={"recordTypeFilters": ["noSuchType"]})
    assert r.status_code == 400
    r = api.post("graph", "/beta/security/auditLog/queries", data="{not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
