"""Contract of the Entra endpoints (docs/microsoft-365.md §7, §8): the sign-in log agrees with the
audit log's STS logon records, pages newest first, filters by time and (beta only) event type;
AuditLog.Read.All and Entra ID P1 are enforced with Microsoft's errors; enterprise apps, their
delegated grants and app role assignments page with @odata.nextLink."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from emulator_helpers import Api

from evkit.emulator.testing import running_emulator

WINDOW = "createdDateTime ge 2023-06-08T00:00:00Z and createdDateTime lt 2023-06-15T00:00:00Z"


@pytest.fixture(scope="module")
def bec(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("entra"), "bec-basic", signin_page_size=40) as emu:
        yield emu


def _all(api: Api, path: str) -> tuple[list[dict], int]:
    rows, pages, url = [], 0, path
    while url:
        r = api.get("graph", url)
        assert r.status_code == 200, r.text
        rows.extend(r.json()["value"])
        url = r.json().get("@odata.nextLink")
        pages += 1
    return rows, pages


def _signins(api: Api, flt: str, version: str = "beta") -> tuple[list[dict], int]:
    return _all(api, f"/{version}/auditLogs/signIns?$filter={quote(flt)}")


def test_signins_match_the_audit_logs_logon_records(bec):
    api = Api(bec)
    interactive, pages = _signins(api, WINDOW)
    non, _ = _signins(api, WINDOW + " and signInEventTypes/any(t: t eq 'nonInteractiveUser')")
    assert pages > 1                                           # paged at signin_page_size
    times = [r["createdDateTime"] for r in interactive]
    assert times == sorted(times, reverse=True)                # newest first, as documented
    assert all(r["signInEventTypes"] == ["interactiveUser"] for r in interactive)
    assert non and all(r["signInEventTypes"] == ["nonInteractiveUser"] and not r["isInteractive"] for r in non)
    truth = bec.state.scenario.ground_truth["indicators"]
    by_id = {r["id"]: r for r in interactive + non}
    logons = [rec for rec in bec.state.scenario.records(bec.state.scenario.incident_window[0],
                                                         bec.state.scenario.incident_window[1])
              if rec["Operation"] in ("UserLoggedIn", "UserLoginFailed")]
    assert len(logons) == len(by_id)
    for rec in logons:
        row = by_id[rec["Id"]]
        session = next(p["Value"] for p in rec["DeviceProperties"] if p["Name"] == "SessionId")
        assert (row["ipAddress"], row["sessionId"], row["appId"]) == (rec["ActorIpAddress"], session,
                                                                     rec["ApplicationId"])
        assert row["status"]["errorCode"] == int(rec["ErrorNumber"])
    attacker = [r for r in by_id.values() if r["ipAddress"] in truth["ips"]]
    assert {r["sessionId"] for r in attacker} <= set(truth["session_ids"])
    assert any(r["appId"] in truth["app_ids"] and r["userAgent"] in truth["user_agents"] for r in attacker)


def test_signin_filters_and_versions(bec):
    api = Api(bec)
    early, _ = _signins(api, "createdDateTime ge 2023-06-08T09:00:00Z and createdDateTime le 2023-06-08T10:00:00Z")
    assert early and all("2023-06-08T09:00:00Z" <= r["createdDateTime"] <= "2023-06-08T10:00:00Z" for r in early)
    v1, _ = _signins(api, WINDOW, "v1.0")
    assert v1 and all("sessionId" not in r and "signInEventTypes" not in r for r in v1)
    r = api.get("graph", "/v1.0/auditLogs/signIns?$filter=" + quote("signInEventTypes/any(t: t eq 'nonInteractiveUser')"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
    r = api.get("graph", "/beta/auditLogs/signIns?$filter=" + quote("city eq 'Paris'"))
    assert r.status_code == 400
    assert api.get("graph", "/beta/auditLogs/signIns?$top=1001").status_code == 400


def test_signins_need_auditlog_read_all_and_entra_p1(tmp_path):
    with running_emulator(tmp_path / "a", "bec-basic", withhold=("AuditLog.Read.All",)) as emu:
        r = Api(emu).get("graph", "/beta/auditLogs/signIns")
        assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    with running_emulator(tmp_path / "b", "bec-basic", entra_p1=False) as emu:
        r = Api(emu).get("graph", "/beta/auditLogs/signIns")
        assert r.status_code == 403
        assert r.json()["error"] == {**r.json()["error"], "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                     "message": "Neither tenant is B2C or tenant doesn't have premium license"}


def test_signins_older_than_30_days_before_now_are_gone_whatever_the_filter(bec, tmp_path):
    # Microsoft Entra data retention: sign-ins are kept 30 days with P1/P2 (docs/microsoft-365.md §10.4)
    import datetime as dt

    every, _ = _signins(Api(bec), WINDOW)  # the virtual now is the scenario's end: all within 30 days
    times = sorted(r["createdDateTime"] for r in every)
    cut = dt.datetime.fromisoformat(times[len(times) // 2].replace("Z", "+00:00"))
    with running_emulator(tmp_path, "bec-basic", signin_page_size=40, now=cut + dt.timedelta(days=30)) as emu:
        kept, _ = _signins(Api(emu), WINDOW)
    assert kept and len(kept) < len(every)
    assert {r["id"] for r in kept} == {r["id"] for r in every if r["createdDateTime"] >= times[len(times) // 2][:19]}


def test_apps_grants_and_role_assignments(bec):
    api = Api(bec)
    sps, _ = _all(api, "/v1.0/servicePrincipals?$top=2")
    by_app = {sp["appId"]: sp for sp in sps}
    graph = by_app["00000003-0000-0000-c000-000000000000"]
    assert bec.connection["client_id"] in by_app      # the investigator's own app is listed too
    assert {"Mail.Read", "Mail.Send"} <= {r["value"] for r in graph["appRoles"]}
    grants, _ = _all(api, "/v1.0/oauth2PermissionGrants?$top=1")
    assigned, _ = _all(api, f"/v1.0/servicePrincipals/{graph['id']}/appRoleAssignedTo")
    truth = {a["app_id"]: a for a in bec.state.scenario.ground_truth["apps"]}
    bad = next(a for a in truth.values() if a["attacker"])
    grant = next(g for g in grants if g["clientId"] == by_app[bad["app_id"]]["id"])
    assert "Mail.Read" in grant["scope"].split() and grant["consentType"] == "Principal"
    assert "createdDateTime" not in grant and "startTime" not in grant     # v1.0 carries no consent time
    roles = {r["id"]: r["value"] for r in graph["appRoles"]}
    benign = next(a for a in truth.values() if not a["attacker"])
    row = next(a for a in assigned if a["principalId"] == by_app[benign["app_id"]]["id"])
    assert roles[row["appRoleId"]] in benign["permissions"] and row["createdDateTime"] == benign["consented_at"]
    consent = [rec for rec in bec.state.scenario.records(bec.state.scenario.start, bec.state.scenario.end)
               if rec["Operation"] == "Consent to application."]
    assert [c["ObjectId"] for c in consent] == [by_app[bad["app_id"]]["id"]]
    assert consent[0]["CreationTime"].startswith(bad["consented_at"].rstrip("Z")[:16])


def test_apps_need_application_read_all(tmp_path):
    withheld = ("Application.Read.All", "DelegatedPermissionGrant.Read.All")
    with running_emulator(tmp_path, "bec-basic", withhold=withheld) as emu:
        api = Api(emu)
        for path in ("/v1.0/servicePrincipals", "/v1.0/oauth2PermissionGrants"):
            r = api.get("graph", path)
            assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
