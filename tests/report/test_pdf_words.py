"""Plain words and legible tables, read back from rendered PDFs: the glossary, coverage per
logon type, readiness switches that cannot be misread, addresses never broken mid-word."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pdfrules import broken_tokens, check_glossary_and_wording

from evkit.report.pdf.common import Column, DocumentInfo, build_document, data_table
from evkit.report.pdf.readiness import _org_audit
from evkit.report.pdf.report import render_report

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")


def text(pdf: Path, layout: bool = False) -> str:
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def bec(tmp_path_factory) -> Path:
    findings = json.loads((FIXTURES / "findings_bec.json").read_text(encoding="utf-8"))
    findings["coverage"][0]["mail_items_accessed_logons"] = {"owner": True, "delegate": False, "admin": True}
    findings["coverage"][0]["mail_items_accessed_audited"] = False
    out = tmp_path_factory.mktemp("words") / "r.pdf"
    render_report(findings, out)
    return out


def test_the_glossary_explains_the_report_s_terms(bec):
    check_glossary_and_wording(bec)


def test_coverage_says_for_which_logon_types_mail_reading_is_logged(bec):
    shown = " ".join(text(bec).split("Audit coverage")[-1].split())
    assert "owner, admin; NOT delegate" in shown


def test_org_audit_switch_cannot_be_misread():
    assert _org_audit(False) == "on (AuditDisabled = False)"
    assert _org_audit(True) == "OFF (AuditDisabled = True)"
    assert _org_audit(None) == "not collected"


def test_addresses_in_narrow_columns_wrap_after_separators_not_mid_word(tmp_path):
    address = "alice.longname-example@subsidiary.contoso-holdings.com"
    out = tmp_path / "t.pdf"
    build_document(out, DocumentInfo(title="t", case_id="c", created_utc=None),
                   data_table([Column("Mailbox", 0.16), Column("Other", 0.84)], [[address, "x"]]))
    body = text(out, layout=True).split("Other", 1)[1]
    pieces = [ln.split()[0] for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("Page")]
    assert len(pieces) > 1 and "".join(pieces) == address, pieces
    assert all(re.search(r"[@.\-]$", piece) for piece in pieces[:-1]), pieces
    assert broken_tokens(text(out), [address]) == []


def test_the_broken_token_rule_sees_a_mid_word_break():
    assert broken_tokens("Mailbox alice@contoso.co\nm Other", ["alice@contoso.com"]) == ["alice@contoso.co | m"]
    assert broken_tokens("alice@contoso.\ncom", ["alice@contoso.com"]) == []


def test_a_long_reason_is_cut_once_between_words(tmp_path):
    findings = json.loads((FIXTURES / "findings_bec.json").read_text(encoding="utf-8"))
    reason = "; ".join(f"action{i} is missing from the mailbox's audit set" for i in range(30))
    findings["coverage"][0]["reason"] = reason
    findings["mailboxes"][0]["unknown"] = [{"start": "2023-06-08T00:00:00Z", "end": "2023-06-15T00:00:00Z",
                                            "reason": reason + "; " + reason}]
    out = tmp_path / "r.pdf"
    render_report(findings, out)
    shown = " ".join(text(out).split())
    assert "[... [..." not in shown
    cuts = re.findall(r"(\S+) \[\.\.\. [\d,]+ more characters", shown)
    assert cuts and all(c in ("audit", "set;", "mailbox's", "the", "from", "missing", "is") or
                        re.fullmatch(r"action\d+", c) for c in cuts), cuts
