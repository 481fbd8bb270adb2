"""The PDF reading rules, checked on a rendered report as a reader meets it (poppler: pdftotext,
pdffonts; the content streams for text sizes), shared by the fixture tests and the emulator
scenario tests (tests/e2e/test_report_scenarios.py).

Each `check_*` raises AssertionError naming the rule and what broke it; `check_report` applies
all of them to one report directory (report.pdf and findings.json side by side).

1. page 1 is one page: its last line ("In this report:") is on page 1 and nowhere on page 2;
2. no text smaller than 7 pt (read from the content streams' Tf operators);
3. every font is embedded and none is one of the 14 standard fonts (pdffonts);
4. page 1's numbers are findings.json's, and the mailbox cards add up;
5. no address or other evidence token is broken mid-token (a line may end only after a separator
   such as '@', '.', '-', '_', '/' or '\\', or between a lower-case letter and a capital), and no
   long value is cut mid-word before its "[... N more characters" marker;
6. no orphan pages (every page carries at least 8 lines under its header);
7. the glossary is there, and the organisation's audit switch reads "on (AuditDisabled = False)";
8. suggestions never name a Microsoft first-party app, and suggested session ids are GUIDs;
9. given strings (Cyrillic, Japanese folder names) come out as text, or as code points when no
   CJK font is installed;
10. no "?" stands in for a character (no U+FFFD, no "?" inside or glued to a word);
11. the headline leads with what cannot be known when that dominates (most mailboxes cannot be
    assessed, or nothing was found while some could not have shown it), never with "0 items";
12. rendered (pdftoppm), the PDF has as many pages as its text says, and none is blank.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evkit.report.pdf.typefaces import CJK_FONT_PATH
from evkit.report.rules.first_party import is_first_party

MIN_POINTS = 7.0
MIN_BODY_LINES = 8
SEPARATORS = "@.-_/\\:;,=&"          # evkit.report.pdf.common wraps long tokens after these
PAGE_ONE_KEYS = ("confirmed_items", "presumed_items", "mailboxes_affected", "mailboxes_cannot_be_assessed",
                 "mailboxes_no_evidence", "mailboxes_total")
GLOSSARY_TERMS = ("Glossary", "Bind:", "Sync:", "Throttling:", "Audit set:", "Audit bypass:",
                  "Audit (Premium) / Audit (Standard):")
SESSION_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NULL_GUID = "00000000-0000-0000-0000-000000000000"


# ---------------------------------------------------------------------------------- reading
def page_text(pdf: Path, page: int | None = None, layout: bool = False) -> str:
    """pdftotext of one page (or all pages, form feeds between them)."""
    args = ["pdftotext", *(["-f", str(page), "-l", str(page)] if page else []),
            *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, capture_output=True, check=True).stdout.decode("utf-8")


def pages(pdf: Path, layout: bool = False) -> list[str]:
    """Every page's text, in order."""
    return page_text(pdf, layout=layout).split("\f")[:-1]


def flat(text: str) -> str:
    """Whitespace-insensitive text: line breaks from wrapping do not matter."""
    return re.sub(r"\s+", " ", text).strip()


def content_streams(pdf: Path) -> list[bytes]:
    """Every stream of the PDF, decoded (reportlab writes Flate, or ASCII85 then Flate)."""
    data = pdf.read_bytes()
    out = []
    for m in re.finditer(rb"<<([^<>]*)>>\s*stream\r?\n", data):
        length = re.search(rb"/Length (\d+)", m.group(1))
        assert length, m.group(1)
        body = data[m.end():m.end() + int(length.group(1))]
        if b"/ASCII85Decode" in m.group(1):
            body = base64.a85decode(body.strip().removesuffix(b"~>").removeprefix(b"<~"))
        if b"/FlateDecode" in m.group(1):
            body = zlib.decompress(body)
        out.append(body)
    return out


def text_sizes(pdf: Path) -> set[float]:
    """Every font size set in the PDF's content streams (Tf operators)."""
    return {float(s) for body in content_streams(pdf) for s in re.findall(rb"/F[0-9+]+ ([0-9.]+) Tf", body)}


# ------------------------------------------------------------------------------------ rules
def check_page_one_is_one_page(pdf: Path) -> None:
    first, second = page_text(pdf, 1), page_text(pdf, 2)
    assert "In this report:" in first, "page 1 does not end on page 1"
    assert "In this report:" not in second, "page 1 runs onto page 2"


def check_text_sizes(pdf: Path) -> None:
    sizes = text_sizes(pdf)
    assert sizes, "no text found in the content streams"
    assert min(sizes) >= MIN_POINTS, f"text under {MIN_POINTS} pt: {sorted(sizes)[:5]}"


def check_fonts_embedded(pdf: Path) -> None:
    rows = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                          check=True).stdout.splitlines()[2:]
    assert rows, "no font listed"
    for row in rows:
        name, emb = row.split()[0], row.split()[-5]
        assert emb == "yes", f"font not embedded: {row}"
        assert "Helvetica" not in name and "Courier" not in name and "Times" not in name, row


def check_page_one_numbers(pdf: Path, findings: dict[str, Any]) -> None:
    """Page 1 states the findings' own numbers, and the mailbox cards add up."""
    summary = findings["summary"]
    first = flat(page_text(pdf, 1))
    for key in PAGE_ONE_KEYS:
        assert f"{summary[key]:,}" in first, f"page 1 lacks {key} = {summary[key]:,}"
    assert (summary["mailboxes_affected"] + summary["mailboxes_cannot_be_assessed"]
            + summary["mailboxes_no_evidence"]) == summary["mailboxes_total"], "the mailbox cards do not add up"
    assert (f"Mailboxes: {summary['mailboxes_affected']:,} affected + "
            f"{summary['mailboxes_cannot_be_assessed']:,} cannot be assessed + "
            f"{summary['mailboxes_no_evidence']:,} no evidence of access = "
            f"{summary['mailboxes_total']:,} in the evidence.") in first
    named = f"{summary['inferred_items']:,} named"
    counted = f" + about {summary['inferred_unnamed_items']:,} counted"
    assert named + (counted if summary["inferred_unnamed_items"] else "") in first, \
        "presumed items are not named + counted"
    assert summary["inferred_items"] + summary["inferred_unnamed_items"] == summary["presumed_items"]
    assert flat(summary["headline"]) in first, "the headline is not on page 1"


def broken_tokens(text: str, tokens: Iterable[str]) -> list[str]:
    """Places where a line break splits one of `tokens` other than after a separator."""
    wanted = {t for t in tokens if t}
    lines = [ln.strip() for ln in text.splitlines()]
    out = []
    for before, after in zip(lines, lines[1:], strict=False):
        if not before or not after:
            continue
        head, tail = before.split()[-1], after.split()[0]
        if head[-1] in SEPARATORS or head in wanted or (head[-1].islower() and tail[0].isupper()):
            continue
        if any(head + tail in token for token in wanted):
            out.append(f"{head} | {tail}")
    return out


def check_no_token_broken(pdf: Path, tokens: Iterable[str]) -> None:
    broken = broken_tokens(page_text(pdf), tokens)
    assert not broken, f"broken mid-token: {broken[:5]}"


CUT = re.compile(r"(\S+ \S+) \[\.\.\. [\d,]+ more characters")


def check_no_word_cut(pdf: Path, findings: dict[str, Any]) -> None:
    """A value cut for length ends on a whole word of the value: its last two words stand in
    findings.json (which holds every value whole) as words, not as the start of a longer one."""
    source = " ".join(json.dumps(findings, ensure_ascii=False).split())
    for words in CUT.findall(flat(page_text(pdf))):
        assert re.search(r"(?<!\w)" + re.escape(words) + r"(?!\w)", source), f"cut mid-word: {words!r}"


REPLACED = re.compile(r"\ufffd|\?\?|(?<=[\w\\])\?(?=\w)")


def check_no_replacement_marks(pdf: Path) -> None:
    """No character was replaced by "?" (or U+FFFD) on its way to the page."""
    for number, page in enumerate(pages(pdf), start=1):
        found = REPLACED.search(page)
        assert not found, f"page {number}: replacement mark near {page[max(0, found.start() - 40):found.end() + 40]!r}"


UNKNOWN_LEADS = ("Whether mail was read cannot be known", "The evidence that could be read holds no activity")


def check_headline_leads_with_unknown(findings: dict[str, Any]) -> None:
    """When what cannot be known dominates, the headline says so first."""
    s = findings["summary"]
    blind = s["mailboxes_cannot_be_assessed"]
    found = s["confirmed_items"] or s["presumed_items"]
    if 2 * blind > s["mailboxes_total"] or (blind and not found):
        assert s["headline"].startswith(UNKNOWN_LEADS), f"headline does not lead with the unknown: {s['headline']}"
    if not found:
        assert not re.search(r"\b0 items? (was|were)", s["headline"]), f"headline leads with zero: {s['headline']}"


MIN_INK = {1: 0.02}                   # share of dark pixels: page 1 is dense; any page has some
PAGE_INK = 0.005


def ink(pgm: Path) -> float:
    """Share of dark pixels (< 160 of 255) on a binary PGM page image."""
    data = pgm.read_bytes()
    magic, width, height, depth, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and depth == b"255", data[:20]
    body = pixels[:int(width) * int(height)]
    return sum(body.count(bytes([v])) for v in range(160)) / len(body)


def check_rendered(pdf: Path, dpi: int = 30) -> None:
    """Every page renders; as many pages as the text has; page 1 (and every page) not blank."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(pdf), f"{tmp}/p"], check=True,
                       capture_output=True)
        images = sorted(Path(tmp).glob("p-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        assert len(images) == len(pages(pdf)), f"{len(images)} pages rendered, {len(pages(pdf))} in the text"
        for number, image in enumerate(images, start=1):
            share = ink(image)
            assert share >= MIN_INK.get(number, PAGE_INK), f"page {number} is (nearly) blank: {share:.4f}"


def check_no_orphan_pages(pdf: Path) -> None:
    """No page carries only a line or two (a heading, a table's tail) under its header."""
    for number, page in enumerate(pages(pdf, layout=True), start=1):
        body = [ln for ln in page.splitlines() if ln.strip()][1:-1]     # without header and footer
        assert len(body) >= MIN_BODY_LINES, f"page {number} is nearly empty: {body}"


def check_glossary_and_wording(pdf: Path) -> None:
    shown = flat(page_text(pdf))
    for term in GLOSSARY_TERMS:
        assert term in shown, f"glossary lacks {term}"
    assert "(AuditDisabled): on" not in shown and "AuditDisabled = on" not in shown


def check_suggestions(findings: dict[str, Any]) -> None:
    """No Microsoft first-party app id suggested; every suggested session id is a real GUID."""
    for suggestion in findings.get("suggested_indicators", []):
        kind, value = suggestion.get("kind"), str(suggestion.get("value", ""))
        if kind in ("app", "app_id"):
            assert not is_first_party(value), f"first-party app suggested: {value}"
        if kind in ("session", "session_id"):
            assert SESSION_GUID.match(value.lower()) and value != NULL_GUID, f"placeholder session: {value}"


def shown_as(text: str) -> str:
    """`text` as the report shows it: CJK as code points when no CJK font is installed."""
    if CJK_FONT_PATH is not None:
        return text
    return "".join(f"[U+{ord(ch):04X}]" if ("\u3000" <= ch <= "\u9fff" or "\uf900" <= ch <= "\uffef") else ch
                   for ch in text)


def check_shown_as_text(pdf: Path, strings: Iterable[str]) -> None:
    shown = page_text(pdf)
    for value in strings:
        assert shown_as(value) in shown, f"{value!r} not shown as text"


def addresses(findings: dict[str, Any]) -> list[str]:
    """The mailbox addresses the report prints."""
    return sorted({str(m.get("mailbox", "")) for m in findings.get("mailboxes", [])}
                  | {str(c.get("mailbox", "")) for c in findings.get("coverage", [])})


def tokens(findings: dict[str, Any]) -> list[str]:
    """Evidence tokens the tables print: folders, message ids, suggested values, actors."""
    out = {str(r.get("folder", "")) for r in findings.get("syncs", [])}
    out |= {str(r.get("internet_message_id", "")) for r in findings.get("sends", [])}
    out |= {str(r.get("value", "")) for r in findings.get("suggested_indicators", [])}
    out |= {str(r.get(k, "")) for r in findings.get("tampering", []) for k in ("actor", "target")}
    return sorted(t for t in out if t and " " not in t)


def check_report(out: Path, *, strings: Iterable[str] = ()) -> None:
    """Every rule on one report directory (report.pdf, findings.json)."""
    pdf = out / "report.pdf"
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    check_page_one_is_one_page(pdf)
    check_page_one_numbers(pdf, findings)
    check_any_pdf(pdf, [*addresses(findings), *tokens(findings), *strings], model=findings)
    check_glossary_and_wording(pdf)
    check_suggestions(findings)
    check_shown_as_text(pdf, strings)
    check_headline_leads_with_unknown(findings)


def check_any_pdf(pdf: Path, tokens: Iterable[str], *, model: dict[str, Any]) -> None:
    """The rules every evkit PDF keeps (the breach report, the readiness report): text sizes,
    embedded fonts, tokens and words whole, no orphan or blank page, no "?" for a character."""
    check_text_sizes(pdf)
    check_fonts_embedded(pdf)
    check_no_token_broken(pdf, tokens)
    check_no_word_cut(pdf, model)
    check_no_orphan_pages(pdf)
    check_no_replacement_marks(pdf)
    check_rendered(pdf)
