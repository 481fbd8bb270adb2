"""evkit.report.readiness.model: gaps -> verdicts, prioritised fixes with exact commands and CIS titles."""

from __future__ import annotations

import json

import pytest
from readiness_data import E3, E5, mailbox, tenant, with_sqi

from evkit.report.coverage.assess import DEFAULT_ACTIONS
from evkit.report.readiness.model import build_readiness

NO_MIA = {logon: set(DEFAULT_ACTIONS[logon]) - {"MailItemsAccessed"} for logon in DEFAULT_ACTIONS}


def _planted(**kw):
    """The emulator's misconfigured tenant in miniature: one mailbox per planted gap, two clean."""
    boxes = [
        mailbox("alice@contoso.com"),                                         # search not audited
        with_sqi("bob@contoso.com"), with_sqi("erin@contoso.com"),            # clean
        mailbox("dave@contoso.com", default_set=("Admin",), owner=NO_MIA["owner"] | {"SearchQueryInitiated"},
                 delegate=NO_MIA["delegate"]),                                 # customised, no MIA
        with_sqi("svc-backup@contoso.com"),                                   # bypass
        with_sqi("finance@contoso.com", kind="SharedMailbox"),                # unlicensed shared
    ]
    licences = {m["UserPrincipalName"]: [E5] for m in boxes}
    licences["finance@contoso.com"] = []
    return tenant(boxes, licences=licences, bypass=("svc-backup",), **kw)


def _fixes(model, target):
    return [f for f in model["fixes"] if f["target"] == target]


def _rows(model):
    return {r["mailbox"]: r for r in model["mailboxes"]}


def test_every_planted_gap_has_its_fix_and_clean_mailboxes_have_none():
    model = build_readiness(_planted())
    rows = _rows(model)
    assert {m: r["verdict"] for m, r in rows.items()} == {
        "alice@contoso.com": "investigable", "bob@contoso.com": "investigable",
        "erin@contoso.com": "investigable", "dave@contoso.com": "blind",
        "svc-backup@contoso.com": "blind", "finance@contoso.com": "blind"}
    assert _fixes(model, "bob@contoso.com") == [] and _fixes(model, "erin@contoso.com") == []
    (dave,) = _fixes(model, "dave@contoso.com")
    assert dave["command"] == 'Set-Mailbox -Identity "dave@contoso.com" -DefaultAuditSet Admin,Delegate,Owner'
    assert dave["cis"]["title"] == "(L1) Ensure mailbox audit actions are configured"
    (svc,) = _fixes(model, "svc-backup")
    assert svc["command"] == 'Set-MailboxAuditBypassAssociation -Identity "svc-backup" -AuditBypassEnabled $false'
    assert svc["cis"]["title"] == "(L1) Ensure 'AuditBypassEnabled' is not enabled on mailboxes"
    (fin,) = _fixes(model, "finance@contoso.com")
    assert fin["finding"] == "no-audit-licence" and fin["command"].startswith(
        'Set-MgUserLicense -UserId "finance@contoso.com" -AddLicenses @{SkuId="06ebc4ee-')
    (alice,) = _fixes(model, "alice@contoso.com")
    assert alice["command"] == 'Set-Mailbox -Identity "alice@contoso.com" -AuditOwner @{Add="SearchQueryInitiated"}'
    assert [f["severity"] for f in model["fixes"]] == ["high", "high", "high", "medium"]
    assert model["switches"] == {"audit_disabled": False, "unified_audit_log_ingestion_enabled": True,
                                 "bypassed_accounts": ["svc-backup"], "ok": False}


def test_summary_states_the_share_and_worst_gaps():
    s = build_readiness(_planted())["summary"]
    assert (s["mailboxes"], s["investigable"], s["blind"], s["investigable_percent"]) == (6, 3, 3, 50)
    assert s["headline"].startswith("50% of mailboxes (3 of 6) could be fully investigated today; 3 would")
    assert {g["code"] for g in s["worst_gaps"][:3]} == {
        "audit-set-lacks-MailItemsAccessed", "bypass", "no-audit-licence"}


@pytest.mark.parametrize("switch, command, title", [
    ({"audit_disabled": True}, "Set-OrganizationConfig -AuditDisabled $false",
     "(L1) Ensure 'AuditDisabled' organizationally is set to 'False'"),
    ({"ingestion": False}, "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true",
     "(L1) Ensure Microsoft 365 audit log search is Enabled"),
])
def test_org_switch_off_is_the_first_fix_and_the_headline(switch, command, title):
    model = build_readiness(_planted(**switch))
    first = model["fixes"][0]
    assert (first["priority"], first["severity"], first["command"], first["cis"]["title"]) == (
        1, "critical", command, title)
    assert command in model["summary"]["headline"]
    assert all(r["verdict"] == "blind" for r in model["mailboxes"])


def test_many_mailboxes_without_search_audit_get_one_command():
    model = build_readiness(tenant([mailbox("a@contoso.com"), mailbox("b@contoso.com")]))
    (fix,) = model["fixes"]
    assert fix["target"] == "2 mailboxes" and fix["command"].startswith("Get-Mailbox -ResultSize Unlimited")


def test_managed_set_without_mia_because_of_licence_gets_the_licence_fix_only():
    standard = {logon: set(DEFAULT_ACTIONS[logon]) - {"MailItemsAccessed", "Send"} for logon in DEFAULT_ACTIONS}
    cfg = tenant([mailbox("carol@contoso.com", owner=standard["owner"], delegate=standard["delegate"],
                          admin=standard["admin"])], licences={"carol@contoso.com": [E3]},
                 snapshot=__import__("datetime").datetime(2023, 6, 15, tzinfo=__import__("datetime").timezone.utc))
    model = build_readiness(cfg)
    assert [f["finding"] for f in model["fixes"]] == ["audit-standard-before-expansion",
                                                      "audit-set-lacks-SearchQueryInitiated"]
    assert model["mailboxes"][0]["verdict"] == "blind"


def test_clean_tenant_says_so():
    model = build_readiness(tenant([with_sqi("a@contoso.com")]))
    assert model["fixes"] == [] and model["summary"]["investigable_percent"] == 100
    assert model["summary"]["headline"].startswith("All 1 mailboxes could be investigated today")


def test_model_is_json_and_deterministic():
    a = json.dumps(build_readiness(_planted()), sort_keys=True)
    assert a == json.dumps(build_readiness(_planted()), sort_keys=True)


def test_hostile_identity_cannot_break_out_of_the_powershell_string():
    evil = 'x"; Remove-Mailbox -Identity ceo $(whoami)`@contoso.com'
    model = build_readiness(tenant([mailbox(evil, default_set=("Admin", "Delegate"), owner={"Update"})]))
    cmd = next(f["command"] for f in model["fixes"] if f["finding"] == "audit-set-lacks-MailItemsAccessed")
    inner = cmd[len('Set-Mailbox -Identity "'):cmd.rindex('" -DefaultAuditSet')]
    assert '`"' in inner and '`$' in inner and '``' in inner
    assert all(c != '"' or inner[i - 1] == "`" for i, c in enumerate(inner))


def test_system_mailboxes_are_listed_not_judged():
    boxes = [with_sqi("a@contoso.com"),
             mailbox("DiscoverySearchMailbox@contoso.com", kind="DiscoveryMailbox", AuditEnabled=False)]
    model = build_readiness(tenant(boxes))
    assert [r["mailbox"] for r in model["mailboxes"]] == ["a@contoso.com"]
    assert any("discoverysearchmailbox@contoso.com (DiscoveryMailbox)" in t for t in model["limitations"])
