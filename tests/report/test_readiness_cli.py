"""evkit readiness end to end on sealed bundles: outputs, determinism, refusal, escaping."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from readiness_data import E5, config_pages, mailbox, with_sqi, write_readiness_bundle

from evkit.report.cli.readiness import main

HOSTILE = "<font color=red>x</font>&amp;@contoso.com"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, signing_key):
    boxes = [with_sqi("alice@contoso.com"), mailbox("dave@contoso.com", default_set=("Admin",),
                                                    owner={"Update"}), with_sqi(HOSTILE)]
    files = config_pages(org={"AuditDisabled": False}, admin={"UnifiedAuditLogIngestionEnabled": True},
                         mailboxes=boxes, bypass=[], folders={}, users=[], skus=[E5],
                         licence_details={m["UserPrincipalName"]: [E5] for m in boxes})
    return write_readiness_bundle(tmp_path_factory.mktemp("b") / "READY-1_R1", files, key=signing_key)


def test_writes_json_and_pdf_deterministically(bundle, tmp_path, capsys, examiner_pub):
    assert main(["readiness", str(bundle), "--out", str(tmp_path / "a"), "--signer-key", str(examiner_pub)]) == 0
    assert main(["readiness", str(bundle), "--out", str(tmp_path / "b"), "--signer-key", str(examiner_pub)]) == 0
    out = capsys.readouterr().out
    assert "blind 1 of 3 mailboxes" in out
    for name in ("readiness.json", "readiness.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    model = json.loads((tmp_path / "a" / "readiness.json").read_text())
    assert model["tenant"]["domain"] == "contoso.onmicrosoft.com"
    assert model["bundles"][0]["path_name"] == "READY-1_R1" and model["bundles"][0]["tagmanifest_sha256"]
    assert (tmp_path / "a" / "readiness.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_pdf_page_one_and_escaping(bundle, tmp_path, examiner_pub):
    assert main(["readiness", str(bundle), "--out", str(tmp_path), "--signer-key", str(examiner_pub)]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "readiness.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    page_one = text.split("\f")[0]
    assert "67% of mailboxes (2 of 3) could be fully investigated today" in " ".join(page_one.split())
    assert "Worst gaps" in page_one and "Set-Mailbox -Identity" in page_one
    assert "<font color=red>x</font>&amp;" in text  # shown literally, not as markup


def test_tampered_bundle_is_refused(bundle, tmp_path, capsys, examiner_pub):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    body = next((copy / "data" / "raw" / "config" / "Get-Mailbox").glob("*.json.gz"))
    body.write_bytes(body.read_bytes() + b"\0")
    assert main(["readiness", str(copy), "--out", str(tmp_path / "out"), "--signer-key", str(examiner_pub)]) == 1
    err = capsys.readouterr().err
    assert "evkit readiness: error:" in err and "refused" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "readiness.pdf").exists()


def test_not_a_bundle_cannot_be_verified(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["readiness", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 3
    assert "cannot be read" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["readiness"], ["readiness", "x", "--out", "o", "--days", "zero"],
                                  ["readiness", "x", "--out", "o", "--days", "0"]])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2


def test_missing_pieces_are_stated_and_exit_4(tmp_path, signing_key, capsys, examiner_pub):
    files = config_pages(org=None, admin={"UnifiedAuditLogIngestionEnabled": True},
                         mailboxes=[with_sqi("a@contoso.com")], bypass=[], folders={}, users=[], skus=[],
                         licence_details={}, omit=("config.Get-OrganizationConfig", "licences.users",
                                                   "licences.licenseDetails"))
    bundle = write_readiness_bundle(tmp_path / "b", files, key=signing_key)
    assert main(["readiness", str(bundle), "--out", str(tmp_path / "out"), "--signer-key", str(examiner_pub)]) == 4
    assert "not collected: config.Get-OrganizationConfig" in capsys.readouterr().err
    model = json.loads((tmp_path / "out" / "readiness.json").read_text())
    assert model["missing_evidence"] == ["config.Get-OrganizationConfig", "licences.users"]
    assert {c["code"] for c in model["mailboxes"][0]["caveats"]} == {"org-config-missing", "licence-unknown"}
