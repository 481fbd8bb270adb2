"""Page 1 as an executive reads it, and the rules every page keeps, checked on rendered PDFs.

- page 1 is one page whatever the evidence size: the hand-written case, and a synthetic one with
  300 mailboxes, 50 reasons why access cannot be known, many signing keys and untrusted evidence
  (the `large` emulator scenario takes minutes; this model is what it stresses on page 1);
- the numbers on page 1 are the findings' own, and the mailbox cards add up;
- no text on any page is smaller than 7 pt (read from the PDF's content streams).

The rules themselves live in tests/report/pdfrules.py, which the emulator scenarios share.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from pdfrules import (
    check_no_orphan_pages, check_page_one_is_one_page, check_page_one_numbers, check_text_sizes, flat,
    page_text,
)

from evkit.report.outputs.overview import mailbox_cards, unknown_groups
from evkit.report.pdf.report import render_report

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"findings_{name}.json").read_text(encoding="utf-8"))


def large_findings() -> dict:
    """300 mailboxes, 50 distinct reasons, 8 signing keys, untrusted: the worst page 1."""
    findings = load("bec")
    window = findings["case"]["window"]
    base = findings["mailboxes"][0]
    mailboxes = []
    for i in range(300):
        gaps = [{"start": window[0], "end": window[1],
                 "reason": f"collection window capped (ual): service limit reached on shard {i % 50:02d} "
                           "while the records of this period were being collected"}]
        mailboxes.append(dict(copy.deepcopy(base), mailbox=f"user{i:03d}@contoso.com",
                              verdict="accessed" if i < 40 else "cannot be assessed", unknown=gaps,
                              confirmed=3 if i < 40 else 0, inferred=0, inferred_unnamed=0))
    findings["mailboxes"] = mailboxes
    findings["bundles"] = [dict(findings["bundles"][0], path_name=f"bundle-{i}", verdict="cannot verify",
                                signer=f"examiner{i}@firm.example", signer_fingerprint=f"SHA256:{i:043d}")
                           for i in range(8)]
    findings["evidence_state"] = "untrusted"
    findings["evidence_warnings"] = ["UNTRUSTED EVIDENCE: " + "not verified against a key you trust. " * 12]
    findings["case"]["indicators"]["accounts"] = [m["mailbox"] for m in mailboxes]
    findings["problems"] = [f"row {i}: unreadable" for i in range(500)]
    summary = findings["summary"]
    summary.update(mailbox_cards(mailboxes, 5000))
    summary["unknown_groups"] = unknown_groups(mailboxes, (window[0], window[1]))
    summary["mailboxes_unknown"] = 300
    summary["headline"] = "Whether mail was read cannot be known for most mailboxes " * 8
    summary["points"] = [f"point {i}" for i in range(300)]
    return findings


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("page1")
    paths = {}
    for name, findings in (("bec", load("bec")), ("large", large_findings()), ("empty", load("empty"))):
        paths[name] = out / f"{name}.pdf"
        render_report(findings, paths[name])
    return paths


def test_large_model_has_many_reasons():
    assert len(large_findings()["summary"]["unknown_groups"]) == 50


@pytest.mark.parametrize("name", ["bec", "large", "empty"])
def test_page_one_is_one_page(name, rendered):
    check_page_one_is_one_page(rendered[name])
    assert flat(page_text(rendered[name], 2)).split("Page 2 of")[0].find("Timeline of attributed activity") >= 0


def test_page_one_points_to_sections_with_their_pages(rendered):
    first = flat(page_text(rendered["bec"], 1))
    pointer = re.search(r"Mailboxes p\. (\d+)", first)
    assert pointer, first
    assert "Mailboxes" in page_text(rendered["bec"], int(pointer.group(1)))


def test_page_one_numbers_are_the_findings_and_add_up(rendered):
    check_page_one_numbers(rendered["bec"], load("bec"))


def test_unknown_mailboxes_are_grouped_by_reason_with_their_period(rendered):
    summary = load("bec")["summary"]
    layout = page_text(rendered["bec"], 1, layout=True)
    for group in summary["unknown_groups"]:
        assert group["mailboxes"][0] in layout
    first = flat(page_text(rendered["bec"], 1))
    assert "the whole incident window" in first or "2023-" in first.split("What cannot be known")[1]


def test_large_page_one_names_what_it_left_for_later_pages(rendered):
    first = flat(page_text(rendered["large"], 1))
    assert re.search(r"\.\.\. and \d+ further reasons: every period is listed under Mailboxes \(p\. \d+\)",
                     first), first
    assert "UNTRUSTED EVIDENCE" in first
    assert "more signing keys, listed in the evidence appendix" in first


def test_no_key_points_repeat_the_unknown_table(rendered):
    assert "Key points" not in flat(page_text(rendered["bec"], 1))
    assert "point 299" not in page_text(rendered["large"])


@pytest.mark.parametrize("name", ["bec", "large"])
def test_no_text_is_smaller_than_7_points(name, rendered):
    check_text_sizes(rendered[name])


@pytest.mark.parametrize("name", ["bec", "large", "empty"])
def test_no_orphan_pages(name, rendered):
    check_no_orphan_pages(rendered[name])


def test_a_mailbox_whose_period_began_later_says_when(tmp_path):
    findings = load("bec")
    findings["summary"]["unknown_groups"] = [{
        "reason": "bypass", "plain": "the account was exempted from auditing (audit bypass)",
        "mailboxes": ["alice@contoso.com", "svc-backup@contoso.com"], "count": 2,
        "start": "2023-06-08T00:00:00Z", "end": "2023-06-15T00:00:00Z", "whole_window": False,
        "mailbox_start": {"alice@contoso.com": "2023-06-11T10:00:00Z", "svc-backup@contoso.com": "2023-06-08T00:00:00Z"}}]
    render_report(findings, tmp_path / "r.pdf")
    first = flat(page_text(tmp_path / "r.pdf", 1))
    assert "alice@contoso.com (from 2023-06-11 10:00)" in first
    assert "svc-backup@contoso.com (from" not in first


def test_page_one_says_whether_what_the_attacker_left_is_still_in_place(rendered, tmp_path):
    # Without the mailbox source, page 1 says the state is unknown (never silent, never "none").
    unknown = "Still in place? Not known: the mailbox state was not collected, so whether rules"
    assert unknown in flat(page_text(rendered["bec"], 1))
    findings = load("bec")
    findings["mailbox_state"] = {
        "status": "partial", "collected_utc": "2023-06-15T08:00:00Z",
        "page_one": "1 inbox rule of the kinds an attacker leaves behind was still in place in the 13 mailboxes "
                    "read (1 sending mail outside the organisation; 1 set by the attacker). 1 part could not be "
                    "read: more may be in place there.",
        "statement": "s", "findings": [], "gaps": []}
    render_report(findings, tmp_path / "r.pdf")
    first = flat(page_text(tmp_path / "r.pdf", 1))
    assert ("Still in place when collected (2023-06-15 08:00 UTC). 1 inbox rule of the kinds an attacker leaves "
            "behind was still in place") in first, first
    pointer = re.search(r"See Mailbox state at collection \(p\. (\d+)\)", first)
    assert pointer, first
    assert "Mailbox state at collection" in page_text(tmp_path / "r.pdf", int(pointer.group(1)))
    check_page_one_is_one_page(tmp_path / "r.pdf")
