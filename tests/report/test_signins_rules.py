"""Pure rules for sign-ins and mail-reading apps (report.rules.signins, report.rules.apps)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from evkit.report.rules import apps, signins
from evkit.report.rules.suggest import Suggestion

W = datetime(2023, 6, 8, tzinfo=timezone.utc)
APP = "4f2c9d8e-1111-4222-9333-444455556666"


def logon(i: int, ts: datetime, ip: str, app: str = "9199bf20-a13f-4107-85dc-02114787ef48", *,
          account: str = "alice@contoso.com", session: str | None = "s1", ok: bool = True) -> signins.Logon:
    return signins.Logon(f"id{i}", ts, account, ip, app, None, session, "UA", None, "Windows10", "Chrome",
                         "interactiveUser", ok)


def test_new_address_and_app_need_history_and_skip_first_party_and_known():
    history = [logon(1, W - timedelta(days=3), "10.0.0.1"), logon(2, W + timedelta(hours=1), "10.0.0.1"),
               logon(3, W + timedelta(hours=2), "198.51.100.23", APP),
               logon(4, W + timedelta(hours=3), "203.0.113.7", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
               logon(5, W + timedelta(hours=4), "192.0.2.9", ok=False)]
    found = signins.new_values(history, ["alice@contoso.com"], W, {("ip", "203.0.113.7")}, "Entra sign-in log")
    assert [(s.kind, s.value, s.record_ids) for s in found] == [("app", APP, ("id3",)), ("ip", "198.51.100.23", ("id3",))]
    assert "none among its 1 earlier sign-in(s)" in found[0].why
    # no history before the window: nothing can be called new
    assert signins.new_values(history[1:], ["alice@contoso.com"], W, set(), "audit log") == []


def test_sessions_join_mail_access_by_session_else_address():
    rows = [logon(1, W, "203.0.113.7"), logon(2, W, "203.0.113.7", session=None, ok=False)]
    access = {"records": 5, "mailboxes": ["bob@contoso.com"], "first": W, "last": W, "record_ids": ["r1"]}
    out = signins.sessions(rows, {"s1": access}, {"203.0.113.7": {**access, "records": 7}})
    by = {s["session_id"]: s for s in out}
    assert by["s1"]["joined_by"] == "session" and by["s1"]["mail_access"]["records"] == 5
    assert by[None]["joined_by"] == "address" and by[None]["mail_access"]["records"] == 7 and by[None]["failed"] == 1
    assert by["s1"]["devices"] == ["Windows10 / Chrome"]


def test_merge_joins_reasons():
    a = Suggestion("ip", "1.2.3.4", "touched 2 mailboxes", 3, ("r",))
    b = Suggestion("ip", "1.2.3.4", "a new address", 1, ("s",))
    assert signins.merge([a], [b]) == [Suggestion("ip", "1.2.3.4", "touched 2 mailboxes; a new address", 3, ("r",))]


def test_mail_permissions_by_resource():
    assert apps.mail_permissions(apps.GRAPH, ["User.Read", "Mail.Read", "offline_access"]) == ["Mail.Read"]
    assert apps.mail_permissions(apps.EXCHANGE, ["full_access_as_app", "EWS.AccessAsUser.All"]) == [
        "EWS.AccessAsUser.All", "full_access_as_app"]
    assert apps.mail_permissions("other", ["Mail.Read"]) == []


def test_a_grant_without_a_consent_record_has_an_unknown_time():
    grant = {"id": "g", "client_id": "sp", "app_id": APP, "name": "Tool", "consent_type": "Principal",
             "principal_id": "u1", "resource_app_id": apps.GRAPH, "scope": "Mail.ReadWrite User.Read"}
    window = (W, W + timedelta(days=7))
    (row,) = apps.mail_apps([grant], [], [], {"u1": "alice@contoso.com"}, {}, window)
    assert row["consented_utc"] is None and not row["consent_time_known"] and not row["recent"]
    assert row["consented_by"] == "alice@contoso.com" and "unknown" in row["consent_time_basis"]
    consent = {"id": "c1", "ts": datetime(2023, 5, 20), "account": "alice@contoso.com", "object_id": "sp", "targets": []}
    (row,) = apps.mail_apps([grant], [], [consent], {}, {}, window)
    assert row["recent"] and row["consented_utc"] == "2023-05-20T00:00:00Z" and row["record_ids"] == ["c1"]
    old = {**consent, "ts": datetime(2022, 1, 1)}
    assert not apps.mail_apps([grant], [], [old], {}, {}, window)[0]["recent"]


def test_the_collecting_app_is_listed_but_never_recent():
    assignment = {"id": "a", "app_id": "collector", "name": "evkit", "resource_app_id": apps.EXCHANGE,
                  "permission": "Exchange.ManageAsApp", "created": "2023-06-09T00:00:00Z"}
    (row,) = apps.mail_apps([], [assignment], [], {}, {}, (W, W + timedelta(days=7)), collectors={"collector"})
    assert row["collecting_app"] and not row["recent"] and "collected with" in row["consent_time_basis"]
