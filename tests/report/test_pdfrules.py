"""The PDF reading rules themselves (tests/report/pdfrules.py) catch what they are for: each is
shown a PDF or a findings model that breaks it, so a rule that passes the scenarios cannot be one
that passes everything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pdfrules import (
    broken_tokens, check_headline_leads_with_unknown, check_no_replacement_marks, check_no_word_cut,
    check_rendered, check_suggestions,
)
from reportlab.platypus import PageBreak

from evkit.report.pdf.common import DocumentInfo, build_document, esc, rich

pytestmark = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                reason="poppler-utils missing: run `make tools`")
GRAPH = "00000003-0000-0000-c000-000000000000"


def pdf_of(tmp_path: Path, *texts: str, blank_page: bool = False) -> Path:
    out = tmp_path / "t.pdf"
    story: list = [rich(esc(t, None)) for t in texts for _ in range(12)]
    if blank_page:
        story.append(PageBreak())
        story.append(rich(" "))
    build_document(out, DocumentInfo(title="t", case_id="c", created_utc=None), story)
    return out


def summary(**kw) -> dict:
    base = {"mailboxes_cannot_be_assessed": 3, "mailboxes_total": 3, "confirmed_items": 0, "presumed_items": 0,
            "headline": "Whether mail was read cannot be known for 3 of the 3 mailboxes in the evidence."}
    return {"summary": {**base, **kw}}


def test_a_first_party_app_or_a_placeholder_session_fails_the_suggestion_rule():
    with pytest.raises(AssertionError, match="first-party"):
        check_suggestions({"suggested_indicators": [{"kind": "app", "value": GRAPH}]})
    with pytest.raises(AssertionError, match="placeholder"):
        check_suggestions({"suggested_indicators": [{"kind": "session",
                                                     "value": "00000000-0000-0000-0000-000000000000"}]})
    check_suggestions({"suggested_indicators": [{"kind": "app", "value": "4f2c9d8e-1111-4222-9333-444455556666"}]})


def test_a_headline_leading_with_zero_items_fails_when_the_unknown_dominates():
    check_headline_leads_with_unknown(summary())
    with pytest.raises(AssertionError, match="does not lead"):
        check_headline_leads_with_unknown(summary(headline="0 items were confirmed read and 0 must be presumed."))
    with pytest.raises(AssertionError, match="leads with zero"):
        check_headline_leads_with_unknown(summary(
            headline="Whether mail was read cannot be known for 3 of the 3 mailboxes; 0 items were confirmed."))


def test_question_marks_standing_for_characters_fail(tmp_path):
    check_no_replacement_marks(pdf_of(tmp_path, "Can the evidence be relied on? Yes (see p. 2)?"))
    for bad in ("folder \\?????????", "d?j? vu", "x\ufffdy"):
        with pytest.raises(AssertionError, match="replacement mark"):
            check_no_replacement_marks(pdf_of(tmp_path, bad))


def test_a_value_cut_mid_word_fails(tmp_path):
    findings = {"reason": "owner access not logged at all"}
    check_no_word_cut(pdf_of(tmp_path, "owner access not [... 14 more characters; full value in findings.json]"),
                      findings)
    with pytest.raises(AssertionError, match="cut mid-word"):
        check_no_word_cut(pdf_of(tmp_path, "owner access not l [... 12 more characters; full value in findings.json]"),
                          findings)


def test_a_blank_page_fails_the_rendering_rule(tmp_path):
    check_rendered(pdf_of(tmp_path, "A page of words. " * 40))
    with pytest.raises(AssertionError, match="blank"):
        check_rendered(pdf_of(tmp_path, "A page of words. " * 40, blank_page=True))


def test_a_break_before_the_at_sign_is_mid_token_and_one_between_case_is_not():
    assert broken_tokens("alice\n@contoso.com", ["alice@contoso.com"]) == ["alice | @contoso.com"]
    assert broken_tokens("alice@\ncontoso.com", ["alice@contoso.com"]) == []
    assert broken_tokens("Set-MailboxAudit\nBypassAssociation", ["Set-MailboxAuditBypassAssociation"]) == []
