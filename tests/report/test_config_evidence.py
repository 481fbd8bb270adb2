"""evkit.report.coverage.config_evidence: config and licence pages back from sealed bundles into a TenantConfig."""

from __future__ import annotations

import json

import pytest
from bundlekit import page_files
from readiness_data import E3, E5, config_pages, mailbox, write_readiness_bundle

from evkit.report.coverage.config_evidence import (ADMIN_AUDIT_LOG_CONFIG, BYPASS, ORG_CONFIG,
                                    ConfigEvidenceError, load_tenant_config)


def _pages(**over):
    args = dict(org={"AuditDisabled": False}, admin={"UnifiedAuditLogIngestionEnabled": True},
                mailboxes=[mailbox("alice@contoso.com"), mailbox("team@contoso.com", kind="SharedMailbox")],
                bypass=[{"Name": "svc", "AuditBypassEnabled": True}],
                folders={"alice@contoso.com": [{"FolderPath": "/Inbox", "ItemsInFolder": 12}]},
                users=[{"id": "u1", "userPrincipalName": "alice@contoso.com"}],
                skus=[E5], licence_details={"alice@contoso.com": [E5], "team@contoso.com": []})
    args.update(over)
    return config_pages(**args)


def test_sealed_bundle_round_trip(tmp_path, signing_key):
    root = write_readiness_bundle(tmp_path / "b", _pages(), key=signing_key)
    cfg = load_tenant_config([root])
    assert cfg.missing == ()
    assert cfg.org_config == {"AuditDisabled": False}
    assert [m["UserPrincipalName"] for m in cfg.mailboxes] == ["alice@contoso.com", "team@contoso.com"]
    assert cfg.bypass_associations[0]["Name"] == "svc"
    assert cfg.folder_statistics == {"alice@contoso.com": ({"FolderPath": "/Inbox", "ItemsInFolder": 12},)}
    assert cfg.license_details["team@contoso.com"] == ()
    assert cfg.license_details["alice@contoso.com"][0]["skuPartNumber"] == "SPE_E5"
    assert cfg.snapshot_utc is not None and cfg.snapshot_utc.year == 2026


def test_missing_and_failed_pieces_are_named(tmp_path, signing_key):
    files = _pages(omit=("config.Get-OrganizationConfig",),
                   failed=("config.Get-MailboxAuditBypassAssociation", "licences.licenseDetails"))
    cfg = load_tenant_config([write_readiness_bundle(tmp_path / "b", files, key=signing_key)])
    assert set(cfg.missing) == {ORG_CONFIG, BYPASS}  # licenseDetails is read if present, never expected
    assert ADMIN_AUDIT_LOG_CONFIG not in cfg.missing
    assert cfg.org_config is None and cfg.bypass_associations == ()


def test_newer_bundle_wins_and_subjects_merge(tmp_path, signing_key):
    old = _pages(org={"AuditDisabled": True}, licence_details={"alice@contoso.com": [E3]})
    new = _pages(licence_details={"team@contoso.com": [E5]})
    for rel in list(new):  # the second collection happened a day later
        if rel.endswith(".meta.json"):
            side = json.loads(new[rel])
            side["received_utc"] = "2026-11-30T09:00:00.000000Z"
            new[rel] = json.dumps(side).encode()
    a = write_readiness_bundle(tmp_path / "a", old, key=signing_key)
    b = write_readiness_bundle(tmp_path / "b", new, key=signing_key)
    cfg = load_tenant_config([b, a])
    assert cfg.org_config == {"AuditDisabled": False}
    assert len(cfg.mailboxes) == 2  # replaced, not doubled
    assert cfg.license_details["alice@contoso.com"][0]["skuPartNumber"] == "SPE_E3"
    assert cfg.license_details["team@contoso.com"][0]["skuPartNumber"] == "SPE_E5"
    assert cfg.snapshot_utc.day == 30


def test_retried_page_is_not_counted_twice(tmp_path, signing_key):
    files = _pages()
    body = json.dumps({"value": [mailbox("alice@contoso.com"), mailbox("team@contoso.com", kind="SharedMailbox")]}).encode()
    files.update(page_files("Get-Mailbox", "p000002", body, kind="config.Get-Mailbox", source="config"))
    cfg = load_tenant_config([write_readiness_bundle(tmp_path / "b", files, key=signing_key)])
    assert len(cfg.mailboxes) == 2


def test_unreadable_body_names_the_file(tmp_path):
    files = page_files("Get-Mailbox", "p000001", b"{not json", kind="config.Get-Mailbox", source="config")
    for rel, blob in files.items():
        path = tmp_path / "b" / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    with pytest.raises(ConfigEvidenceError, match=r"data/raw/config/Get-Mailbox/p000001.json.gz: not valid JSON"):
        load_tenant_config([tmp_path / "b"])


def test_bundle_without_config_has_everything_missing(tmp_path):
    (tmp_path / "b" / "data").mkdir(parents=True)
    cfg = load_tenant_config([tmp_path / "b"])
    assert cfg.mailboxes == () and len(cfg.missing) == 6 and cfg.snapshot_utc is None


def test_damaged_compressed_body_names_the_file(tmp_path):
    files = page_files("Get-Mailbox", "p000001", b'{"value": []}', kind="config.Get-Mailbox", source="config")
    for rel, blob in files.items():
        path = tmp_path / "b" / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob[:12] + b"\xff" * 8 + blob[20:] if rel.endswith(".gz") else blob)
    with pytest.raises(ConfigEvidenceError,
                       match=r"data/raw/config/Get-Mailbox/p000001.json.gz: compressed body is damaged"):
        load_tenant_config([tmp_path / "b"])
