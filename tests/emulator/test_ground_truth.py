"""Ground truth agrees with what was logged, and with the day-one attribution rules.

Attribution as the report applies it (docs/methodology.md §1-2): a record in the incident window is
attributed when it matches an indicator (IP/CIDR, app id, session id, user agent); every record
sharing a session (SessionId, AppAccessContext.AADSessionId, sign-in SessionId) with an
attributed record is attributed too (one step here: the scenarios promise one step suffices).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections import Counter

import pytest

from evkit.emulator.scenarios import build_scenario


@pytest.fixture(scope="module")
def bec(tmp_path_factory):
    return build_scenario("bec-basic", 7, tmp_path_factory.mktemp("bec"))


@pytest.fixture(scope="module")
def throttled(tmp_path_factory):
    return build_scenario("throttled", 7, tmp_path_factory.mktemp("thr"))


@pytest.fixture(scope="module")
def misconfigured(tmp_path_factory):
    return build_scenario("misconfigured", 7, tmp_path_factory.mktemp("mis"),
                          {"ingestion_off": True})


def _all(sc):
    return list(sc.records(sc.start, sc.end))


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip()
    if v.startswith("["):
        return v[1:].split("]", 1)[0]
    if v.count(":") == 1:
        return v.split(":", 1)[0]
    return v


def _sessions(r: dict) -> set[str]:
    out = {r.get("SessionId"), (r.get("AppAccessContext") or {}).get("AADSessionId")}
    out.update(p["Value"] for p in r.get("DeviceProperties", []) if p["Name"] == "SessionId")
    return {s.lower() for s in out if s}


def attributed_ids(records: list[dict], case: dict, extra_ips: tuple[str, ...] = ()) -> set[str]:
    start, end = (w.replace("Z", "")[:19] for w in case["case"]["window"])
    nets = [ipaddress.ip_network(i, strict=False) for i in [*case["indicators"]["ips"], *extra_ips]]
    apps = {a.lower() for a in case["indicators"]["app_ids"]}
    in_window = [r for r in records if start <= r["CreationTime"] < end]

    def direct(r):
        for f in ("ClientIP", "ClientIPAddress", "ActorIpAddress"):
            ip = _ip(r.get(f))
            if ip and any(ipaddress.ip_address(ip) in n for n in nets):
                return True
        ids = {r.get("AppId"), r.get("ClientAppId"), (r.get("AppAccessContext") or {}).get("ClientAppId")}
        return bool(apps & {i.lower() for i in ids if i})

    hits = [r for r in in_window if direct(r)]
    sessions = set().union(*(_sessions(r) for r in hits)) if hits else set()
    return {r["Id"] for r in in_window if direct(r) or _sessions(r) & sessions}


def named_items(r: dict) -> set[tuple[str, str]]:
    """(folder, InternetMessageId) named by an item-level record (Bind, Send, Move...)."""
    out = set()
    if r["Operation"] == "MailItemsAccessed":
        if r["OperationProperties"][0]["Value"] == "Bind":
            out |= {(f["Path"], i["InternetMessageId"]) for f in r["Folders"] for i in f["FolderItems"]}
    for item in [r.get("Item")] + list(r.get("AffectedItems", [])):
        if item and item.get("InternetMessageId"):
            out.add((item["ParentFolder"]["Path"], item["InternetMessageId"]))
    return out


def _case(sc) -> dict:
    return tomllib.loads(sc.case_path.read_text(encoding="utf-8"))


def _box(gt: dict, upn: str) -> dict:
    return next(m for m in gt["mailboxes"] if m["mailbox"] == upn)


@pytest.mark.parametrize("name", ["bec", "throttled", "misconfigured"])
def test_day_one_attribution_reaches_exactly_the_attackers_day_one_records(name, request):
    sc = request.getfixturevalue(name)
    gt = sc.ground_truth
    got = attributed_ids(_all(sc), _case(sc))
    assert got == set(gt["attacker_record_ids"]["day1"])


@pytest.mark.parametrize("name", ["bec", "throttled", "misconfigured"])
def test_confirmable_items_are_exactly_those_named_by_attributed_records(name, request):
    sc = request.getfixturevalue(name)
    gt = sc.ground_truth
    records = _all(sc)
    ids = attributed_ids(records, _case(sc))
    named: dict[str, set[str]] = {}
    for r in records:
        if r["Id"] in ids and r.get("MailboxOwnerUPN"):
            named.setdefault(r["MailboxOwnerUPN"], set()).update(i for _, i in named_items(r))
    for box in gt["mailboxes"]:
        assert set(box["confirmable"]) == named.get(box["mailbox"], set()), box["mailbox"]


@pytest.mark.parametrize("name", ["bec", "throttled", "misconfigured"])
def test_no_owner_only_inferable_or_unknowable_item_is_named_by_an_attributed_record(name, request):
    sc = request.getfixturevalue(name)
    gt = sc.ground_truth
    records = _all(sc)
    ids = attributed_ids(records, _case(sc))
    attributed_named = {(r["MailboxOwnerUPN"], i) for r in records
                        if r["Id"] in ids and r.get("MailboxOwnerUPN") for _, i in named_items(r)}
    for box in gt["mailboxes"]:
        mb = box["mailbox"]
        others = set(box["owner_only"])
        others |= {i["imid"] for i in box["inferable"] if i["imid"]}
        others |= {imid for u in box["unknowable"] for imid in u["imids"]}
        assert not {(mb, i) for i in others} & attributed_named, mb
        assert not set(box["owner_only"]) & set(box["confirmable"])


def test_bec_plants_every_kind_of_finding(bec):
    gt = bec.ground_truth
    alice = _box(gt, "alice@contoso.com")
    reasons = Counter(i["reason"] for i in alice["inferable"])
    assert len(alice["confirmable"]) >= 40 and reasons["sync"] > 3 and reasons["search"] >= 1
    assert any(i["imid"] is None and i["count"] > 0 for i in alice["inferable"])
    unknown = {(m["mailbox"], u["reason"]) for m in gt["mailboxes"] for u in m["unknowable"]}
    assert unknown >= {("alice@contoso.com", "bypass"),
                       ("bob@contoso.com", "audit-set-lacks-MailItemsAccessed"),
                       ("carol@contoso.com", "licence-lacks-advanced-auditing"),
                       ("erin@contoso.com", "licence-lacks-advanced-auditing"),
                       ("finance@contoso.com", "licence-lacks-advanced-auditing")}
    assert {t["operation"] for t in gt["tampering"]} == {
        "Set-Mailbox", "Change user license.", "Set-MailboxAuditBypassAssociation"}
    assert _box(gt, "bob@contoso.com")["confirmable"] and alice["owner_only"]


def test_suggested_only_activity_is_reachable_only_with_the_suggested_ip(bec):
    gt = bec.ground_truth
    records = _all(bec)
    case = _case(bec)
    (entry,) = gt["requires_suggested"]
    assert entry["kind"] == "ip" and entry["confirmable"]
    day1 = attributed_ids(records, case)
    wider = attributed_ids(records, case, (entry["value"],))
    assert not set(entry["record_ids"]) & day1
    assert set(entry["record_ids"]) <= wider
    assert set(gt["attacker_record_ids"][f"suggested:ip:{entry['value']}"]) <= wider
    # the signals that suggest it: the day-one session X1 also used the suggested address
    by_id = {r["Id"]: r for r in records}
    session_ips: dict[str, set[str]] = {}
    for rid in day1:
        r = by_id[rid]
        if r.get("SessionId") and r.get("ClientIPAddress"):
            session_ips.setdefault(r["SessionId"], set()).add(r["ClientIPAddress"])
    assert any(entry["value"] in ips and len(ips) > 1 for ips in session_ips.values())


def test_malicious_app_is_new_in_the_window_and_first_used_from_the_day_one_ip(bec):
    gt = bec.ground_truth
    (app,) = gt["indicators"]["app_ids"]
    start = gt["incident_window"][0].rstrip("Z")
    uses = [r for r in _all(bec) if r.get("ClientAppId") == app]
    assert uses and min(r["CreationTime"] for r in uses) >= start
    first = min(uses, key=lambda r: r["CreationTime"])
    assert first["ClientIPAddress"] == gt["day_one"]["ips"][0]
    assert {r["AppId"] for r in uses if r["Operation"] == "MailItemsAccessed"} == {
        "00000003-0000-0000-c000-000000000000"}


def test_sync_inferences_match_logged_sync_records_and_folder_statistics(bec):
    gt = bec.ground_truth
    by_id = {r["Id"]: r for r in _all(bec)}
    alice = _box(gt, "alice@contoso.com")
    stats = {r["FolderPath"].replace("/", "\\"): r["ItemsInFolder"]
             for r in bec.folder_statistics("alice@contoso.com")}
    for entry in (i for i in alice["inferable"] if i["reason"] == "sync"):
        rec = by_id[entry["record_id"]]
        assert rec["OperationProperties"][0]["Value"] == "Sync"
        assert rec["Folders"][0]["Path"] == entry["folder"]
        if entry["imid"] is None:
            named = sum(1 for i in alice["inferable"] if i["reason"] == "sync" and i["imid"]
                        and i["record_id"] == entry["record_id"])
            assert entry["count"] >= 0 and entry["items_in_folder_at_sync"] <= stats[entry["folder"]] + 1
            assert entry["count_from_folder_statistics"] == max(0, stats[entry["folder"]] - (
                entry["items_in_folder_at_sync"] - entry["count"]))
            assert named <= entry["items_in_folder_at_sync"] - entry["count"]


def test_throttled_window_has_one_flag_record_then_no_binds_for_24_hours(throttled):
    gt = throttled.ground_truth
    records = _all(throttled)
    alice = [r for r in records if r.get("MailboxOwnerUPN") == "alice@contoso.com"
             and r["Operation"] == "MailItemsAccessed"]
    flags = [r for r in alice if r["OperationProperties"][1]["Value"] == "True"]
    assert len(flags) == 1
    box = _box(gt, "alice@contoso.com")
    inferred = [i for i in box["inferable"] if i["reason"] == "throttled"]
    assert len(inferred) > 100
    start, end = inferred[0]["start"].rstrip("Z"), inferred[0]["end"].rstrip("Z")
    assert flags[0]["CreationTime"] == start
    binds = [r for r in alice if start < r["CreationTime"] < end
             and r["OperationProperties"][0]["Value"] == "Bind"]
    assert binds == []
    prior = [r for r in alice if r["CreationTime"] <= start]
    day_before = [r for r in prior if r["CreationTime"] > _minus_day(start)]
    assert len(day_before) == 1001                     # 1,000 in the 24 h, then the flag
    ids = attributed_ids(records, _case(throttled))
    assert any(start < by["CreationTime"] < end for by in records if by["Id"] in ids)
    logged = {i["InternetMessageId"] for r in alice if r["Id"] in ids for f in r["Folders"]
              for i in f.get("FolderItems", [])}
    assert not {i["imid"] for i in inferred} & logged


def _minus_day(ct: str) -> str:
    from datetime import datetime, timedelta
    return (datetime.fromisoformat(ct) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")


def test_misconfigured_records_every_gap_with_its_reason(misconfigured):
    gt = misconfigured.ground_truth
    unknown = {(m["mailbox"], u["reason"]) for m in gt["mailboxes"] for u in m["unknowable"]}
    assert unknown == {("alice@contoso.com", "ingestion-off"),
                       ("carol@contoso.com", "licence-lacks-advanced-auditing"),
                       ("dave@contoso.com", "audit-set-lacks-MailItemsAccessed"),
                       ("finance@contoso.com", "licence-lacks-advanced-auditing"),
                       ("svc-backup@contoso.com", "bypass")}
    alice = _box(gt, "alice@contoso.com")
    assert alice["unlogged_searches"][0]["reason"] == "audit-set-lacks-SearchQueryInitiated"
    assert misconfigured.admin_audit_log_config["UnifiedAuditLogIngestionEnabled"] is False
    last = max(r["CreationTime"] for r in _all(misconfigured))
    assert last == next(t["time"] for t in gt["tampering"]
                        if t["operation"] == "Set-AdminAuditLogConfig").rstrip("Z")


def test_org_switch_off_leaves_only_sign_ins_and_admin_records(tmp_path):
    sc = build_scenario("misconfigured", 3, tmp_path, {"org_audit_disabled": True})
    ops = Counter(r["Operation"] for r in _all(sc))
    assert set(ops) == {"UserLoggedIn"}
    assert sc.org_config["AuditDisabled"] is True
    reasons = {u["reason"] for m in sc.ground_truth["mailboxes"] for u in m["unknowable"]}
    assert reasons == {"org-audit-disabled"}


@pytest.mark.parametrize("name", ["bec", "throttled"])
def test_logged_counts_match_the_store(name, request):
    sc = request.getfixturevalue(name)
    gt = sc.ground_truth
    ops = Counter(r["Operation"] for r in _all(sc))
    assert dict(ops) == gt["logged"]["by_operation"]
    assert sum(ops.values()) == gt["logged"]["total"] == sc.count(sc.start, sc.end)
    assert gt["logged"]["default_operations"]["total"] == gt["logged"]["total"]
    ids = [r["Id"] for r in _all(sc)]
    assert len(ids) == len(set(ids))
