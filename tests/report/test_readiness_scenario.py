"""evkit readiness against the emulator's `misconfigured` scenario: every planted gap found,
with the right fix, and no clean mailbox (bob, erin, the E5 extras) named in any fix.

Planted (emulator/scenarios/catalog.py): dave's customised owner/delegate sets without
MailItemsAccessed, carol on Audit (Standard) with no MailItemsAccessed in her sets, the
unlicensed shared mailbox finance, svc-backup's bypass association, SearchQueryInitiated off
(alice), and optionally the organisation's AuditDisabled switch.
"""

from __future__ import annotations

import json

import pytest
from readiness_data import scenario_pages, write_readiness_bundle

from evkit.report.cli.readiness import main

build = pytest.importorskip("evkit.emulator.scenarios.build")


def _run(tmp_path, signing_key, **params):
    sc = build.build_scenario("misconfigured", 1, tmp_path / "sc", params=params or None)
    bundle = write_readiness_bundle(tmp_path / "READY_1", scenario_pages(sc), key=signing_key)
    pub = tmp_path / "examiner.pub"
    pub.write_text(signing_key.openssh_line + "\n", encoding="utf-8")
    assert main(["readiness", str(bundle), "--out", str(tmp_path / "out"), "--signer-key", str(pub)]) == 0
    return json.loads((tmp_path / "out" / "readiness.json").read_text())


def _by_target(model):
    out: dict[str, list[dict]] = {}
    for f in model["fixes"]:
        out.setdefault(f["target"], []).append(f)
    return out


NAMED = ("alice", "bob", "carol", "dave", "erin", "finance", "svc-backup")


def test_planted_gaps_found_with_their_fixes(tmp_path, signing_key):
    model = _run(tmp_path, signing_key)
    verdicts = {r["mailbox"]: r["verdict"] for r in model["mailboxes"]}
    extras = {r["mailbox"]: r for r in model["mailboxes"] if r["mailbox"].split("@")[0] not in NAMED}
    for name, row in extras.items():  # baseline users: E5 clean, E3 with the pre-expansion sets
        assert (row["licence"], row["verdict"]) in (("premium", "investigable"), ("standard", "blind")), name
        verdicts.pop(name)
    assert verdicts == {"alice@contoso.com": "investigable", "bob@contoso.com": "investigable",
                        "erin@contoso.com": "investigable", "carol@contoso.com": "blind",
                        "dave@contoso.com": "blind", "finance@contoso.com": "blind",
                        "svc-backup@contoso.com": "blind"}
    fixes = _by_target(model)
    clean = ["bob@contoso.com", "erin@contoso.com"] + [m for m, r in extras.items() if r["licence"] == "premium"]
    assert len(clean) > 2
    for fix in model["fixes"]:  # no clean mailbox is named anywhere in any fix
        text = json.dumps(fix)
        assert not [m for m in clean if m in text or f'"{m.split("@")[0]}"' in text], fix
    assert [f["command"] for f in fixes["dave@contoso.com"]] == [
        'Set-Mailbox -Identity "dave@contoso.com" -DefaultAuditSet Admin,Delegate,Owner']
    assert [f["command"] for f in fixes["svc-backup"]] == [
        'Set-MailboxAuditBypassAssociation -Identity "svc-backup" -AuditBypassEnabled $false']
    assert [f["finding"] for f in fixes["finance@contoso.com"]] == ["no-audit-licence"]
    assert fixes["finance@contoso.com"][0]["command"].startswith('Set-MgUserLicense -UserId "finance@contoso.com"')
    carol = fixes["carol@contoso.com"]
    assert [f["finding"] for f in carol] == ["audit-set-lacks-MailItemsAccessed"]
    assert '-AuditOwner @{Add="MailItemsAccessed","Send"}' in carol[0]["command"]
    (search,) = [f for f in model["fixes"] if f["finding"] == "audit-set-lacks-SearchQueryInitiated"]
    standard = [m for m, r in extras.items() if r["licence"] == "standard"]
    assert sorted(search["why"].split(": ", 1)[1].split(", ")) == sorted(
        ["alice@contoso.com", "carol@contoso.com", "dave@contoso.com", "finance@contoso.com",
         "svc-backup@contoso.com"] + standard)  # the rest have planted gaps of their own, or E3
    assert 'Set-Mailbox -AuditOwner @{Add="SearchQueryInitiated"}' in search["command"]
    assert model["switches"]["audit_disabled"] is False and model["switches"]["bypassed_accounts"] == ["svc-backup"]
    assert model["missing_evidence"] == []


def test_org_switch_off_is_found_first(tmp_path, signing_key):
    model = _run(tmp_path, signing_key, org_audit_disabled=True)
    assert model["fixes"][0]["command"] == "Set-OrganizationConfig -AuditDisabled $false"
    assert {r["verdict"] for r in model["mailboxes"]} == {"blind"}
    assert model["switches"]["audit_disabled"] is True
