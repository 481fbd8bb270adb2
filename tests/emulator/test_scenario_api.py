"""The scenario object the server consumes: API, errors, streaming ranges, determinism and
record/config shapes matching the reference examples (docs/microsoft-365.md §4.2, §5.1, §6.1-§6.4)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from evkit.emulator.errors import UsageError
from evkit.emulator.scenarios import SCENARIOS, ScenarioParamError, UnknownScenarioError, build_scenario
from evkit.emulator.scenarios.model import MailboxSpec, make_mailbox
from evkit.emulator.scenarios.records import RecordFactory

REPO = Path(__file__).resolve().parents[2]
UTC = timezone.utc
CT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Reference example A (Bind by the owner via OWA): every field and its JSON type.
EXAMPLE_A = {"CreationTime": str, "Id": str, "Operation": str, "OrganizationId": str,
             "RecordType": int, "ResultStatus": str, "UserKey": str, "UserType": int,
             "Version": int, "Workload": str, "UserId": str, "AppId": str,
             "ClientIPAddress": str, "ClientInfoString": str, "ExternalAccess": bool,
             "InternalLogonType": int, "LogonType": int, "LogonUserSid": str,
             "MailboxGuid": str, "MailboxOwnerSid": str, "MailboxOwnerUPN": str,
             "OperationProperties": list, "OrganizationName": str, "OriginatingServer": str,
             "SessionId": str, "Folders": list, "OperationCount": int}


@pytest.fixture(scope="module")
def sc(tmp_path_factory):
    return build_scenario("bec-basic", 1, tmp_path_factory.mktemp("bec1"))


def _digest(workdir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(workdir.rglob("*")):
        if path.is_file() and path.name != "scenario.json":
            h.update(path.relative_to(workdir).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


# ---- API -----------------------------------------------------------------------------------
def test_scenario_attributes(sc):
    assert SCENARIOS == ("bec-basic", "throttled", "misconfigured", "large", "negatives")
    assert sc.name == "bec-basic" and sc.seed == 1
    assert GUID.match(sc.tenant_id) and sc.tenant_domain == "contoso.onmicrosoft.com"
    assert sc.organization_name == "contoso.onmicrosoft.com"
    assert sc.start.tzinfo is not None and sc.end - sc.start == timedelta(days=14)
    assert sc.org_config["AuditDisabled"] is False
    assert sc.admin_audit_log_config["UnifiedAuditLogIngestionEnabled"] is True
    kinds = {m["RecipientTypeDetails"] for m in sc.mailboxes}
    assert kinds == {"UserMailbox", "SharedMailbox"}
    assert (sc.workdir / "ground-truth.json").is_file() and (sc.workdir / "case.toml").is_file()


def test_unknown_scenario_is_a_one_line_usage_error(tmp_path):
    with pytest.raises(UnknownScenarioError) as exc:
        build_scenario("bec-advanced", 1, tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and "bec-advanced" in msg
    assert all(name in msg for name in SCENARIOS)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, UsageError)
    assert exc.value.exit_status == 2


@pytest.mark.parametrize("params, fragment", [
    ({"mailboxes": 3}, "unknown parameter 'mailboxes'"),
    ({"extra_mailboxes": "many"}, "must be an integer"),
    ({"extra_mailboxes": -1}, "must be >= 0"),
])
def test_bad_params_name_the_parameter(tmp_path, params, fragment):
    with pytest.raises(ScenarioParamError, match=re.escape(fragment)):
        build_scenario("bec-basic", 1, tmp_path, params)


def test_large_records_param_is_bounded(tmp_path):
    with pytest.raises(ScenarioParamError, match="records must be between"):
        build_scenario("large", 1, tmp_path, {"records": 10})


def test_records_are_a_half_open_ascending_range(sc):
    start = datetime(2023, 6, 8, 9, 13, 20, tzinfo=UTC)
    end = datetime(2023, 6, 8, 14, 30, 0, tzinfo=UTC)
    got = list(sc.records(start, end))
    assert got and got[0]["CreationTime"] >= "2023-06-08T09:13:20"
    assert all(r["CreationTime"] < "2023-06-08T14:30:00" for r in got)
    times = [r["CreationTime"] for r in got]
    assert times == sorted(times)
    assert got[0]["CreationTime"] == "2023-06-08T09:13:20"      # the attacker's sign-in
    assert sc.count(start, end) == len(got)
    everything = list(sc.records(sc.start, sc.end))
    assert len(everything) == sc.count(sc.start, sc.end) == sc.store.total
    assert sum(1 for r in everything if start <= _dt(r) < end) == len(got)


def test_operations_filter_and_count_agree(sc):
    ops = {"Send", "New-InboxRule"}
    got = list(sc.records(sc.start, sc.end, operations=ops))
    assert {r["Operation"] for r in got} == ops
    assert sc.count(sc.start, sc.end, ops) == len(got)
    mid = datetime(2023, 6, 8, 9, 31, tzinfo=UTC)
    assert sc.count(mid, mid + timedelta(minutes=1), {"New-InboxRule"}) == 1
    lines = list(sc.record_lines(mid, mid + timedelta(minutes=1), {"New-InboxRule"}))
    assert json.loads(lines[0])["Operation"] == "New-InboxRule"


def _dt(r: dict) -> datetime:
    return datetime.fromisoformat(r["CreationTime"]).replace(tzinfo=UTC)


def test_reuse_of_an_identical_generation_and_regeneration_on_change(tmp_path):
    first = build_scenario("bec-basic", 2, tmp_path)
    before = _digest(tmp_path)
    again = build_scenario("bec-basic", 2, tmp_path)
    assert _digest(tmp_path) == before and again.store.total == first.store.total
    other = build_scenario("bec-basic", 2, tmp_path, {"extra_mailboxes": 1})
    assert other.store.total != first.store.total and _digest(tmp_path) != before


# ---- determinism ---------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_output_across_processes(tmp_path, sc):
    code = ("import sys; from pathlib import Path; from evkit.emulator.scenarios import build_scenario; "
            "build_scenario('bec-basic', 1, Path(sys.argv[1]))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other")], check=True, env=env,
                   cwd=REPO, timeout=120)
    assert _digest(tmp_path / "other") == _digest(sc.workdir)


def test_different_seed_gives_different_records(tmp_path, sc):
    other = build_scenario("bec-basic", 2, tmp_path)
    mine = {r["Id"] for r in sc.records(sc.start, sc.end)}
    theirs = {r["Id"] for r in other.records(other.start, other.end)}
    assert not mine & theirs
    assert other.tenant_id != sc.tenant_id


# ---- shapes --------------------------------------------------------------------------------
def test_bind_records_have_the_reference_fields_and_types(sc):
    binds = [r for r in sc.records(sc.start, sc.end)
             if r["Operation"] == "MailItemsAccessed" and "Bind" in json.dumps(r["OperationProperties"])]
    assert binds
    for r in binds[:200]:
        for key, kind in EXAMPLE_A.items():
            assert isinstance(r[key], kind), (key, r[key])
        assert CT.match(r["CreationTime"]) and GUID.match(r["Id"])
        assert r["RecordType"] == 50 and r["Workload"] == "Exchange"
        assert r["OperationProperties"][0] == {"Name": "MailAccessType", "Value": "Bind"}
        assert r["OperationProperties"][1]["Value"] in ("True", "False")
        items = [i for f in r["Folders"] for i in f["FolderItems"]]
        assert len(items) == r["OperationCount"]
        assert all(i["InternetMessageId"].startswith("<") and i["Subject"] for i in items)
        assert r["OriginatingServer"].endswith("\r\n")


def test_stored_json_is_compact_so_documented_filters_match(sc):
    lines = list(sc.record_lines(sc.start, sc.end, {"MailItemsAccessed"}))
    assert any('"MailAccessType","Value":"Sync"' in line for line in lines)
    assert any('"IsThrottled","Value":"False"' in line for line in lines)
    assert all(line.startswith('{"CreationTime":"') and ": " not in line[:60] for line in lines)


def test_sync_send_signin_and_admin_records_have_their_shapes(sc):
    recs = list(sc.records(sc.start, sc.end))
    sync = next(r for r in recs if '"Sync"' in json.dumps(r.get("OperationProperties")))
    assert sync["ClientInfoString"] == "Client=MSExchangeRPC"
    assert all("FolderItems" not in f for f in sync["Folders"]) and len(sync["Folders"]) == 1
    send = next(r for r in recs if r["Operation"] == "Send")
    assert send["RecordType"] == 2 and send["Item"]["ParentFolder"]["Path"] == "\\Sent Items"
    assert send["Item"]["InternetMessageId"] and send["Item"]["Subject"]
    login = next(r for r in recs if r["Operation"] == "UserLoggedIn")
    assert login["RecordType"] == 15 and login["Workload"] == "AzureActiveDirectory"
    assert login["ResultStatus"] == "Success" and login["IntraSystemId"] == login["Id"]
    assert {p["Name"] for p in login["DeviceProperties"]} >= {"SessionId", "OS"}
    rule = next(r for r in recs if r["Operation"] == "New-InboxRule")
    assert rule["RecordType"] == 1 and rule["ResultStatus"] == "True"
    assert {p["Name"] for p in rule["Parameters"]} >= {"Name", "MoveToFolder"}
    search = next(r for r in recs if r["Operation"] == "SearchQueryInitiatedExchange")
    assert search["RecordType"] == 101 and search["QueryText"]
    lic = next(r for r in recs if r["Operation"] == "Change user license.")
    assert lic["RecordType"] == 8 and "ClientIP" not in lic


def test_fast_record_path_equals_the_dict_builder():
    import random
    m = make_mailbox("s", "contoso.com", MailboxSpec("alice", "A"), random.Random(1))
    f = RecordFactory("tid", "org", {m.upn: m})
    from evkit.emulator.scenarios.activity import Context
    c = Context(m.upn, 0, "192.0.2.1", "Client=OWA;Action=ViaProxy", "s", "a", "c", "n", "aad", "u")
    folders = [("\\Inbox", "f1", [("<a@b>", 'He said "hi" \u00e9', 12)]), ("\\Archive", "f2", [])]
    for access in ("Bind", "Sync"):
        fast = f.mail_items_accessed_line(99, "rid", m, c, access, folders, 2, True)
        slow = json.dumps(f.mail_items_accessed(99, "rid", m, c, access, folders, 2, True),
                          separators=(",", ":"))
        assert fast == slow
    for op in ("Send", "SendAs"):
        item = ("<i@d>", 'Sub "x" \u00e9', 12)
        fast = f.send_line(99, "rid", op, m, c, item, "AAA=")
        slow = json.dumps(f.send(99, "rid", op, m, c, item, "AAA="), separators=(",", ":"))
        assert fast == slow


def test_configuration_snapshots(sc):
    by_upn = {m["UserPrincipalName"]: m for m in sc.mailboxes}
    alice = by_upn["alice@contoso.com"]
    for key in ("AuditEnabled", "AuditOwner", "AuditDelegate", "AuditAdmin", "DefaultAuditSet",
                "AuditLogAgeLimit", "RecipientTypeDetails", "PrimarySmtpAddress",
                "ExternalDirectoryObjectId", "Guid", "Identity", "DisplayName"):
        assert key in alice
    assert "SearchQueryInitiated" in alice["AuditOwner"] and "Owner" not in alice["DefaultAuditSet"]
    assert "MailItemsAccessed" not in by_upn["dave@contoso.com"]["AuditOwner"]
    assert "MailItemsAccessed" not in by_upn["bob@contoso.com"]["AuditDelegate"]  # tampered
    assert "MailItemsAccessed" not in by_upn["carol@contoso.com"]["AuditOwner"]   # E3, 2023
    bypass = {b["Name"]: b["AuditBypassEnabled"] for b in sc.bypass_associations}
    assert bypass["alice"] is True and bypass["svc-backup"] is True and bypass["bob"] is False
    skus = {s["skuPartNumber"]: s for s in sc.subscribed_skus}
    assert "M365_ADVANCED_AUDITING" in {p["servicePlanName"] for p in skus["SPE_E5"]["servicePlans"]}
    assert "M365_ADVANCED_AUDITING" not in {p["servicePlanName"] for p in skus["SPE_E3"]["servicePlans"]}
    erin = next(u for u in sc.users if u["userPrincipalName"] == "erin@contoso.com")
    assert erin["assignedLicenses"][0]["disabledPlans"] == ["2f442157-a11c-46b9-ae5b-6e39ff4e5849"]
    plan = next(p for p in erin["assignedPlans"]
                if p["servicePlanId"] == "2f442157-a11c-46b9-ae5b-6e39ff4e5849")
    assert plan["capabilityStatus"] == "Deleted" and plan["assignedDateTime"].startswith("2023-06-11")
    details = sc.license_details(erin["id"])
    status = {p["servicePlanName"]: p["provisioningStatus"] for p in details[0]["servicePlans"]}
    assert status["M365_ADVANCED_AUDITING"] == "Disabled"
    assert sc.license_details("finance@contoso.com") == []
    stats = sc.folder_statistics("alice")
    inbox = next(r for r in stats if r["FolderPath"] == "/Inbox")
    assert inbox["ItemsInFolder"] > 0 and inbox["FolderId"].startswith("LgAAAA")
    with pytest.raises(KeyError):
        sc.folder_statistics("nobody@contoso.com")


def test_case_file_holds_only_day_one_indicators(sc):
    case = tomllib.loads(sc.case_path.read_text(encoding="utf-8"))
    assert set(case) == {"case", "indicators"}
    assert case["indicators"]["accounts"] == ["alice@contoso.com"]
    assert case["indicators"]["ips"] == ["203.0.113.7"]
    assert not any(case["indicators"][k] for k in ("app_ids", "session_ids", "user_agents"))
    assert case["case"]["window"] == sc.ground_truth["incident_window"]


def test_large_sizes_the_tenant_to_the_requested_volume(tmp_path):
    sc = build_scenario("large", 1, tmp_path, {"records": 30_000})
    assert 0.6 * 30_000 <= sc.store.total <= 1.4 * 30_000
    assert sc.end - sc.start == timedelta(days=30)
    assert sc.ground_truth["logged"]["total"] == sc.store.total
    assert sc.ground_truth["mailboxes"][0]["confirmable"]          # the attack is there too
