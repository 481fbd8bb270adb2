"""The breach-scope PDF rendered from hand-written findings fixtures and read back with poppler.

Fixtures (synthetic, no tenant data): `findings_bec.json` a business-email-compromise case
with six mailboxes (confirmed, inferred, unknown, no evidence), syncs, a throttled window,
searches, sends, tampering, suggestions, gaps and custody; `findings_invalid.json` the same
with a bundle that failed verification; `findings_empty.json` a case with nothing found;
`findings_hostile.json` markup, control characters, a 10,000-character folder name,
right-to-left text, emoji and malformed rows.

Set EVKIT_PDF_PREVIEW=DIR to keep each rendered PDF and a PNG of its page 1 in DIR for a person
to look at (for example `EVKIT_PDF_PREVIEW=/tmp/preview pytest tests/report/test_pdf.py`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evkit.report.pdf.report import model_problems, render_report

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(p.stem.removeprefix("findings_") for p in FIXTURES.glob("findings_*.json"))

pytestmark = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                reason="poppler-utils missing: run `make tools`")


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"findings_{name}.json").read_text(encoding="utf-8"))


def pdftotext(pdf: Path, page: int | None = None, layout: bool = False) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    pages += ["-layout"] if layout else []
    out = subprocess.run(["pdftotext", *pages, str(pdf), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def flat(text: str) -> str:
    """Whitespace-insensitive text: line breaks from wrapping do not matter."""
    return re.sub(r"\s+", " ", text).strip()


def page_count(pdf: Path) -> int:
    return pdftotext(pdf).count("\f")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each fixture rendered once for the read-back tests."""
    out = tmp_path_factory.mktemp("pdf")
    paths = {}
    for name in NAMES:
        paths[name] = out / f"{name}.pdf"
        render_report(load(name), paths[name])
    return paths


def test_fixtures_cover_the_cases_the_issue_names():
    assert {"bec", "empty", "hostile", "invalid"} <= set(NAMES)


def test_fixtures_match_the_documented_shape():
    for name in ("bec", "empty", "invalid"):
        assert model_problems(load(name)) == [], name


@pytest.mark.parametrize("name", NAMES)
def test_render_is_a_pdf_and_byte_identical_twice(name, rendered, tmp_path):
    again = tmp_path / "again.pdf"
    render_report(load(name), again)
    first = rendered[name].read_bytes()
    assert first.startswith(b"%PDF-")
    assert again.read_bytes() == first


# Page 1's numbers, groups and one-page rule: tests/report/test_pdf_page_one.py.


def test_page_one_of_a_quiet_case_says_so(rendered):
    page1 = flat(pdftotext(rendered["empty"], 1))
    assert flat(load("empty")["summary"]["headline"]) in page1
    assert "no attributed activity was found" in page1


def test_every_section_is_present_and_empty_ones_say_none_found(rendered):
    text = flat(pdftotext(rendered["empty"]))
    for heading in ("Timeline of attributed activity", "Mailboxes", "Folder synchronisation",
                    "Throttled windows", "Searches", "Messages sent by the attacker",
                    "Audit tampering", "Indicators", "Audit coverage",
                    "Completeness of the collection", "Methodology and limitations",
                    "Evidence appendix"):
        assert heading in text
    assert text.count("None found") >= 9


def test_detail_sections_show_the_findings(rendered):
    findings = load("bec")
    text = flat(pdftotext(rendered["bec"]))
    for search in findings["searches"]:
        assert search["query"] in text
    for send in findings["sends"]:
        assert send["subject"] in text
    for bundle in findings["bundles"]:
        assert bundle["tagmanifest_sha256"] in text
        assert bundle["signer_fingerprint"] in text
    assert findings["tampering"][0]["record_ids"][0] in text
    gaps = [c for c in findings["completeness"] if c["status"] != "complete"]
    assert f"{len(gaps)} collection units are not complete" in text
    for gap in gaps:
        assert gap["reason"] in text
    for limit in ("2-minute interval", "one hour", "24 hours", "2023-2024",
                  "cannot show"):
        assert limit in text


def test_hostile_strings_render_literally(rendered):
    text = flat(pdftotext(rendered["hostile"]))
    for literal in ("<b>Invoice</b> & <font color=red>overdue</font>",
                    "Headline with <i>markup</i> & an unclosed <para tag",
                    'subject:"wire" AND <script>alert(1)</script>',
                    "Contoso <font size=40>Ltd</font> & Sons",
                    "RTL subject [U+202E]gnp.exe",
                    "Payment due [U+1F4B8][U+1F525]",
                    "<b>evil</b>@contoso.com",
                    "IR-<b>9</b>&amp;"):
        assert literal in text, literal
    assert "9,707 more characters; full value in findings.json" in text
    assert "A" * 10_000 not in text.replace(" ", "")


def test_hostile_model_problems_are_named_in_the_report(rendered):
    text = flat(pdftotext(rendered["hostile"]))
    assert "Problems with the findings data" in text
    assert "1 entry of 'mailboxes' not an object" in text
    assert "1 timeline entry without a readable mailbox or hour not drawn" in text


@pytest.mark.parametrize("broken", [
    {}, {"summary": "x", "case": [], "mailboxes": {"a": 1}, "timeline": None},
    {"timeline": [{"mailbox": 1, "hour_utc": 2}], "bundles": [{"custody": "no"}]},
    {"summary": {"confirmed_items": True, "points": "not a list", "headline": 7}},
])
def test_malformed_models_still_render(broken, tmp_path):
    render_report(broken, tmp_path / "r.pdf")
    text = flat(pdftotext(tmp_path / "r.pdf"))
    assert "Problems with the findings data" in text


def test_invalid_evidence_is_on_every_page(rendered):
    pdf = rendered["invalid"]
    pages = page_count(pdf)
    assert pages >= 3
    for page in range(1, pages + 1):
        assert "INVALID EVIDENCE" in pdftotext(pdf, page), page
    assert "IR-2023-042-import-client-export (invalid)" in flat(pdftotext(pdf, 1))
    assert "INVALID EVIDENCE" not in pdftotext(rendered["bec"])


def test_long_tables_split_with_the_header_repeated(tmp_path):
    findings = load("bec")
    sync = findings["syncs"][0]
    findings["syncs"] = [dict(sync, folder=f"\\Inbox\\Project {i:03d}") for i in range(300)]
    render_report(findings, tmp_path / "long.pdf")
    pages = [pdftotext(tmp_path / "long.pdf", p)
             for p in range(1, page_count(tmp_path / "long.pdf") + 1)]
    holding = [p for p in pages if "Project " in p]
    assert len(holding) >= 3
    assert all("Synced (UTC)" in p for p in holding)
    assert "Project 299" in "".join(pages)


def test_many_mailboxes_give_several_timeline_charts(tmp_path):
    findings = load("bec")
    entry = findings["timeline"][0]
    findings["timeline"] = [dict(entry, mailbox=f"user{i:02d}@contoso.com") for i in range(25)]
    render_report(findings, tmp_path / "many.pdf")
    text = pdftotext(tmp_path / "many.pdf")
    assert all(f"user{i:02d}" in text for i in range(25))


def test_report_date_comes_from_the_findings(rendered, tmp_path):
    findings = load("bec")
    assert b"D:20230717110542+00'00'" in rendered["bec"].read_bytes()
    findings["generated_utc"] = "2023-08-01T09:00:00Z"
    render_report(findings, tmp_path / "dated.pdf")
    assert b"D:20230801090000+00'00'" in (tmp_path / "dated.pdf").read_bytes()


def test_the_same_findings_in_a_different_key_order_give_the_same_bytes(rendered, tmp_path):
    findings = load("bec")
    shuffled = copy.deepcopy(dict(reversed(list(findings.items()))))
    render_report(shuffled, tmp_path / "shuffled.pdf")
    assert (tmp_path / "shuffled.pdf").read_bytes() == rendered["bec"].read_bytes()


@pytest.mark.parametrize("name", ["bec", "invalid"])
def test_page_one_converts_to_png(name, rendered, tmp_path):
    out = Path(os.environ.get("EVKIT_PDF_PREVIEW") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    if out != tmp_path:
        shutil.copyfile(rendered[name], out / f"{name}.pdf")
    prefix = out / f"{name}-page1"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(rendered[name]), str(prefix)], check=True, capture_output=True)
    png = prefix.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000          # a blank page compresses to far less


def test_problems_met_reading_the_evidence_are_named(rendered):
    findings = load("bec")
    assert "1 problem was met reading the evidence" in flat(pdftotext(rendered["bec"], 1))
    text = flat(pdftotext(rendered["bec"]))
    assert "Problems found while reading the evidence" in text
    assert flat(findings["problems"][0]) in text
    assert "None found." in flat(pdftotext(rendered["empty"]).split("Problems found")[-1])


def test_failed_verification_findings_appear_in_the_appendix(rendered):
    bundle = load("invalid")["bundles"][1]
    assert flat(bundle["verification_findings"][0]) in flat(pdftotext(rendered["invalid"]))


def test_page_one_says_how_far_the_evidence_verified(rendered):
    assert ("Based on 2 evidence bundles: 2 verified as unaltered since collection and signed "
            "by a trusted key") in flat(pdftotext(rendered["bec"], 1))
    invalid = flat(pdftotext(rendered["invalid"], 1))
    assert "1 FAILED verification: it may have been altered" in invalid


@pytest.mark.parametrize("change", [
    {"evidence_valid": None},                                     # flag missing: not assumed
    {"bundles": [{"path_name": "b1", "verdict": "invalid"}]},     # a bundle says otherwise
])
def test_unestablished_validity_also_carries_the_banner(change, tmp_path):
    findings = load("bec") | change
    if change.get("evidence_valid", 1) is None:
        del findings["evidence_valid"]
    render_report(findings, tmp_path / "r.pdf")
    for page in range(1, page_count(tmp_path / "r.pdf") + 1):
        assert "INVALID EVIDENCE" in pdftotext(tmp_path / "r.pdf", page)


def test_bytes_do_not_depend_on_hash_seed_or_timezone(rendered, tmp_path):
    script = ("import json, sys; from pathlib import Path; from evkit.report.pdf.report import render_report; "
              "render_report(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))")
    for seed, tz in (("1", "Asia/Tokyo"), ("2", "America/Los_Angeles")):
        out = tmp_path / f"{seed}.pdf"
        env = dict(os.environ, PYTHONHASHSEED=seed, TZ=tz, SOURCE_DATE_EPOCH="999")
        subprocess.run([sys.executable, "-c", script, str(FIXTURES / "findings_bec.json"),
                        str(out)], check=True, env=env)
        assert out.read_bytes() == rendered["bec"].read_bytes()


def test_a_flood_of_problems_is_cut_with_the_remainder_stated(tmp_path):
    findings = load("bec") | {"problems": [f"row {i}: unreadable" for i in range(250)]}
    render_report(findings, tmp_path / "r.pdf")
    text = flat(pdftotext(tmp_path / "r.pdf"))
    assert "row 199: unreadable" in text and "row 200: unreadable" not in text
    assert "and 50 more, listed in findings.json" in text
