"""The breach-scope PDF: a faithful view of findings.json, with no analysis of its own.

`render_report(findings, out_path)` lays out page 1 (the executive summary, in plain words),
the timeline chart, the detail sections and the appendices. Every string that came from the
evidence goes through `evkit.report.pdf.common.esc`/`para`; every number is one the findings state
(missing numbers are shown as "not stated", never computed here). Same findings, same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab.platypus import CondPageBreak, Flowable, PageBreak, Table, TableStyle

from evkit.report.outputs.model import Findings
from evkit.report.pdf.common import (
    ALERT, FONT_BOLD, FRAME_WIDTH, Column, DocumentInfo, as_dict, as_list, as_rows, build_document, bullet,
    clean, count_text, data_table, esc, fits_one_page, none_found, plural, rich, section,
    show_period, show_time, spacer, stat_block,
)
from evkit.report.pdf.appendix import appendix_flowables
from evkit.report.pdf.mailbox_state import TITLE as MAILBOX_STATE_TITLE
from evkit.report.pdf.signers import STATE_INVALID, STATE_UNTRUSTED, evidence_state, signer_flowables
from evkit.report.pdf.sections import SECTION_TITLES, detail_flowables
from evkit.report.pdf.timeline import timeline_flowables
from evkit.times import parse_iso_or_none

TITLE = "Mailbox breach scope report"
MAX_PROBLEMS = 200


def render_report(findings: Findings, out_path: Path) -> None:
    """Write the breach-scope PDF for `findings` (the findings.json model) to `out_path`.

    Laid out twice: the first pass finds the page of every section so page 1 can point to it.
    Raises only OSError (cannot write `out_path`); malformed or hostile content is shown,
    escaped, with the problem named.
    """
    info = DocumentInfo(
        title=TITLE,
        case_id=_text(_case(findings).get("id")) or "(no case id)",
        created_utc=report_date(findings),
        evidence_valid=evidence_state(findings) != STATE_INVALID,
        evidence_trusted=evidence_state(findings) != STATE_UNTRUSTED,
        subject=f"Breach scope for {_text(_case(findings).get('client'))}",
        content_digest=model_digest(findings),
    )
    pages: dict[str, int] = {}
    build_document(io.BytesIO(), info, report_story(findings, None), pages=pages)
    build_document(Path(out_path), info, report_story(findings, pages))


def model_digest(findings: Mapping[str, Any]) -> str:
    """SHA-256 of the findings as canonical JSON: the PDF's file ID, like its date, comes from
    what it shows, never from the clock, so two reports differ in ID exactly when they differ."""
    text = json.dumps(findings, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def report_story(findings: Findings, pages: Mapping[str, int] | None) -> list[Flowable]:
    """Every page in report order: page 1, the timeline, the detail sections (a list in
    `evkit.report.pdf.sections.SECTIONS`), problems, glossary and appendices."""
    story: list[Flowable] = [*page_one(findings, pages), PageBreak()]
    story.append(section("Timeline of attributed activity"))
    story += timeline_flowables(findings)
    story += detail_flowables(findings)
    story += problems_flowables(findings)
    story += appendix_flowables(findings)
    return story


def report_date(findings: Findings) -> datetime | None:
    """The document's date: `generated_utc` if the model has it, else the latest custody event.

    Taken from the model so the same findings give the same bytes; None (reportlab's fixed
    invariant date) when the model holds no date at all.
    """
    stated = parse_iso_or_none(findings.get("generated_utc"))
    if stated:
        return stated
    times = [parse_iso_or_none(rec.get("time_utc"))
             for bundle in as_rows(findings.get("bundles"))
             for rec in as_rows(bundle.get("custody"))]
    known = [t for t in times if t is not None]
    return max(known) if known else None


# -- page 1 -----------------------------------------------------------------------------------

# (unknown-reason groups, signing keys) shown on page 1, most detailed first; the first that fits
# on one page is used, so page 1 is one page whatever the evidence size.
PAGE_ONE_DETAIL = ((8, 6), (7, 5), (6, 4), (5, 3), (4, 2), (3, 2), (2, 1), (1, 1), (0, 1), (0, 0))
POINTER_SECTION = "Mailboxes"           # where every period without visibility is listed


def page_one(findings: Findings, pages: Mapping[str, int] | None) -> list[Flowable]:
    """Page 1, at the most detail that fits on one page."""
    for groups, signers in PAGE_ONE_DETAIL:
        story = summary_flowables(findings, pages, groups=groups, signers=signers)
        if fits_one_page(story):
            return story
    return story                                    # the least detail: bounded, always fits


def summary_flowables(findings: Findings, pages: Mapping[str, int] | None = None, *,
                      groups: int = PAGE_ONE_DETAIL[0][0],
                      signers: int = PAGE_ONE_DETAIL[0][1]) -> list[Flowable]:
    """Page 1: the answer, cards that add up, why mailboxes cannot be assessed, who signed the
    evidence, where to read more."""
    case, summary = _case(findings), as_dict(findings.get("summary"))
    window = as_list(case.get("window"))
    out: list[Flowable] = [rich(esc(TITLE), "title")]
    sub = f"Case {esc(case.get('id'), 80)}"
    if case.get("client"):
        sub += f" &middot; {esc(case.get('client'), 120)}"
    if len(window) == 2:
        sub += f" &middot; incident window {esc(show_period(window[0], window[1]))}"
    out.append(rich(sub, "subtitle"))
    state = evidence_state(findings)
    if state == STATE_INVALID:
        out += _invalid_box(findings)
    elif state == STATE_UNTRUSTED:
        out += _alert_box(_untrusted_text(findings))
    headline = summary.get("headline")
    out.append(rich(esc(headline, 600) if headline else "No headline was stated in the findings.",
                    "headline"))
    out += _cards(summary)
    out.append(rich("<b>Can the evidence be relied on?</b>", "h2"))
    out.append(_evidence_line(findings))
    out += signer_flowables(findings, limit=signers)
    out += _unknowable(summary, pages, groups)
    out.append(spacer(4))
    out += _who_when(case, summary)
    out.append(_still_in_place(findings, pages))
    problems = as_list(findings.get("problems"))
    if problems:
        out.append(rich(f"{plural(len(problems), 'problem was', 'problems were')} met reading "
                        "the evidence; they are listed in the problems section.", "note"))
    out.append(_contents(pages))
    return out


def _cards(summary: Mapping[str, Any]) -> list[Flowable]:
    """Six numbers: items (confirmed, presumed) and the mailboxes, which add up to the total."""
    named, counted = summary.get("inferred_items"), summary.get("inferred_unnamed_items")
    presumed = f"items presumed read: {count_text(named)} named"
    if _is_count(counted) and counted:
        presumed += f" + about {count_text(counted)} counted in synced folders"
    items = stat_block([
        (count_text(summary.get("confirmed_items")), "items confirmed read or handled by the attacker"),
        (count_text(summary.get("presumed_items")), presumed),
        (count_text(summary.get("attributed_records")), "audit records attributed to the attacker"),
    ])
    mailboxes = stat_block([
        (count_text(summary.get("mailboxes_affected")), "mailboxes affected (accessed or presumed)"),
        (count_text(summary.get("mailboxes_cannot_be_assessed")),
         "mailboxes that cannot be assessed: access may not have been logged"),
        (count_text(summary.get("mailboxes_no_evidence")), "mailboxes with no evidence of access"),
        (count_text(summary.get("mailboxes_total")), "mailboxes in the evidence"),
    ])
    sums = [summary.get(k) for k in ("mailboxes_affected", "mailboxes_cannot_be_assessed",
                                     "mailboxes_no_evidence", "mailboxes_total")]
    line = ""
    if all(_is_count(v) for v in sums):
        line = (f"Mailboxes: {sums[0]:,} affected + {sums[1]:,} cannot be assessed + "
                f"{sums[2]:,} no evidence of access = {sums[3]:,} in the evidence.")
        gaps = summary.get("mailboxes_affected_with_gaps")
        if _is_count(gaps) and gaps:
            line += (f" {plural(gaps, 'affected mailbox also has', 'affected mailboxes also have')}"
                     " periods when access could not be logged: more may have been read there.")
    return [items, spacer(3), mailboxes, *([rich(esc(line, None), "note")] if line else [])]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _page(pages: Mapping[str, int] | None, title: str) -> str:
    if pages is None:
        return "p. 00"                              # first pass: as wide as a real number
    return f"p. {pages[title]}" if title in pages else "-"


def _unknowable(summary: Mapping[str, Any], pages: Mapping[str, int] | None, shown: int) -> list[Flowable]:
    groups = as_rows(summary.get("unknown_groups"))
    count = summary.get("mailboxes_unknown")
    out: list[Flowable] = [rich("<b>What cannot be known</b>", "h2")]
    if not groups:
        if _is_count(count) and count:
            return [*out, rich(f"{count:,} mailboxes have periods when access could not be "
                               f"logged; see Mailboxes ({_page(pages, POINTER_SECTION)}).")]
        return [*out, rich("No mailbox in the evidence has a period when its access could not be "
                           "logged.")]
    out.append(rich(f"For {count_text(count)} mailboxes the records that would show whether mail "
                    "was read were not kept, or are missing from the collection, for some or all "
                    "of the incident window. There, access can be neither confirmed nor ruled "
                    "out. By reason:"))
    see = _page(pages, POINTER_SECTION)
    rows = []
    for g in groups[:shown]:
        names = [n for n in as_list(g.get("mailboxes")) if isinstance(n, str)]
        which = ", ".join(_since(n, g) for n in names[:2]) + (
            f" +{len(names) - 2:,} more" if len(names) > 2 else "")
        period = ("the whole incident window" if g.get("whole_window") is True
                  else ("from " if g.get("count") == 1 else "within ")
                  + show_period(g.get("start"), g.get("end")))
        rows.append([g.get("count"), rich(esc(g.get("plain") or g.get("reason"), 240), "cell"),
                     period, rich(which, "cell"), see])
    out += [] if not rows else data_table([Column("Mailboxes", 0.1, True), Column("Why access cannot be known", 0.37),
                       Column("Period", 0.22), Column("Which mailboxes", 0.23),
                       Column("See", 0.08)], rows, what="reasons")
    if len(groups) > shown:
        out.append(rich(f"... and {plural(len(groups) - shown, 'further reason', 'further reasons')}"
                        f": every period is listed under Mailboxes ({see}).", "note"))
    return out


def _since(mailbox: str, group: Mapping[str, Any]) -> str:
    """A mailbox of an unknown-reason group, with when its period began where that was later
    than the group's first ("alice@contoso.com (from 2023-06-11 10:00)": a bypass added during
    the incident, beside one that was always there)."""
    starts = as_dict(group.get("mailbox_start"))
    if starts.get(mailbox) in (None, group.get("start")):
        return esc(mailbox, 60)
    return f"{esc(mailbox, 60)} (from {esc(show_time(starts[mailbox]))})"


def _who_when(case: Mapping[str, Any], summary: Mapping[str, Any]) -> list[Flowable]:
    accounts = [a for a in as_list(as_dict(case.get("indicators")).get("accounts"))]
    who = ", ".join(esc(a, 80) for a in accounts[:3]) or "none named in the case file"
    if len(accounts) > 3:
        who += f" and {len(accounts) - 3} more"
    first, last = summary.get("first_activity_utc"), summary.get("last_activity_utc")
    when = (f"from {esc(show_period(first, last))}" if first or last
            else "no attributed activity was found")
    return [rich("<b>Who and when.</b> Compromised accounts named in the case file: "
                 f"{who}. Attacker activity seen in the evidence: {when}.")]


def _still_in_place(findings: Findings, pages: Mapping[str, int] | None) -> Any:
    """Whether what an attacker leaves behind (rules, forwarding, grants) was still in place when
    the mailboxes were read: the state block's own sentence, or that it is unknown."""
    block = as_dict(findings.get("mailbox_state"))
    see = f" See {MAILBOX_STATE_TITLE} ({_page(pages, MAILBOX_STATE_TITLE)})."
    if block.get("status") in (None, "not collected"):
        return rich("<b>Still in place?</b> Not known: the mailbox state was not collected, so whether rules, "
                    "forwarding or permissions the attacker set remain is unknown." + see)
    when = show_time(block.get("collected_utc"), " UTC")
    text = block.get("page_one") or block.get("statement") or "What was found is not stated in the findings."
    return rich(f"<b>Still in place when collected ({esc(when)}).</b> {esc(text, 600)}{see}")


def _contents(pages: Mapping[str, int] | None) -> Any:
    """Where to read more: every section with its page (first pass: placeholders)."""
    titles = list(pages) if pages else ["Timeline of attributed activity", *SECTION_TITLES]
    parts = [f"{esc(t)} {_page(pages, t)}" for t in titles]
    return rich("<b>In this report:</b> " + " &middot; ".join(parts), "contents")


VERDICT_WORDS = {
    "valid": "verified as unaltered since collection and signed by a trusted key",
    "cannot verify": "NOT verified against a key you trust: anyone could have made or altered it",
    "invalid": "FAILED verification: it may have been altered",
}


def _evidence_line(findings: Findings) -> Any:
    """One line on what the evidence is and how far it verified, by verdict."""
    bundles = as_rows(findings.get("bundles"))
    if not bundles:
        return rich("No evidence bundle is listed in the findings.", "note")
    verdicts: dict[str, int] = {}
    for b in bundles:
        stated = b.get("verdict")
        verdict = stated if isinstance(stated, str) else "not stated"
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    parts = [f"{n:,} {esc(VERDICT_WORDS.get(v, 'verdict: ' + clean(v, 40)))}"
             for v, n in sorted(verdicts.items())]
    return rich(f"Based on {plural(len(bundles), 'evidence bundle', 'evidence bundles')}: "
                + "; ".join(parts) + " (details in the evidence appendix).", "note")


def _invalid_box(findings: Findings) -> list[Flowable]:
    bad = [f"{esc(b.get('path_name') or b.get('collection_id'), 80)} ({esc(b.get('verdict'), 40)})"
           for b in as_rows(findings.get("bundles")) if b.get("verdict") == "invalid"]
    if bad or findings.get("evidence_valid") is False:
        text = ("<b>INVALID EVIDENCE.</b> This report was produced from evidence that failed "
                "verification" + (": " + ", ".join(bad) if bad else "") + ". It may have been "
                "altered after collection and must not be relied on.")
    else:
        text = ("<b>INVALID EVIDENCE.</b> The findings do not state that the evidence was "
                "verified, so nothing here can be relied on until the bundles are verified.")
    return _alert_box(text)


def _untrusted_text(findings: Findings) -> str:
    stated = [esc(w, 600) for w in as_list(findings.get("evidence_warnings"))
              if isinstance(w, str) and w.startswith("UNTRUSTED")]
    return "<b>UNTRUSTED EVIDENCE.</b> " + (stated[0].removeprefix("UNTRUSTED EVIDENCE: ") if stated else (
        "The evidence was not verified against a key you trust, so anyone could have made or "
        "altered it; do not rely on this report until it is verified with the examiner's key."))


def _alert_box(text: str) -> list[Flowable]:
    """A boxed alert on page 1 (evkit's own markup)."""
    box = Table([[rich(text, "alert")]], colWidths=[FRAME_WIDTH])
    box.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT_BOLD, 10),
                             ("BOX", (0, 0), (-1, -1), 1.2, ALERT),
                             ("LEFTPADDING", (0, 0), (-1, -1), 8),
                             ("TOPPADDING", (0, 0), (-1, -1), 6),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return [box, spacer(8)]


LIST_FIELDS = ("problems", "limitations", "bundles", "mailboxes", "timeline", "syncs", "throttled",
               "searches", "sends",
               "tampering", "suggested_indicators", "attribution", "coverage", "completeness")


def model_problems(findings: Findings) -> list[str]:
    """Where the findings do not have the documented shape, in one sentence each.

    The renderer shows what it can and names the rest, so a malformed model gives a report
    that says so rather than a traceback or a silently shorter table.
    """
    problems = []
    if findings.get("schema") != "evkit.findings/1":
        problems.append(f"schema is {clean(findings.get('schema'), 60) or 'missing'}, "
                        "not evkit.findings/1")
    for name in ("case", "summary"):
        if not isinstance(findings.get(name), dict):
            problems.append(f"'{name}' is missing or not an object")
    for name in LIST_FIELDS:
        value = findings.get(name)
        if not isinstance(value, list):
            problems.append(f"'{name}' is missing or not a list; shown as none found")
            continue
        kind = str if name in ("problems", "limitations") else dict
        odd = sum(1 for v in value if not isinstance(v, kind))
        if odd:
            problems.append(f"{plural(odd, 'entry', 'entries')} of '{name}' not an object, "
                            "so not shown")
    for m in as_rows(findings.get("mailboxes")):
        if "unknown" in m and not isinstance(m["unknown"], list):
            problems.append(f"the 'unknown' periods of mailbox {clean(m.get('mailbox'), 80)} "
                            "are not a list and are not shown")
    return problems


def problems_flowables(findings: Findings) -> list[Flowable]:
    """The problems the analysis met in the evidence, then any shape problems of the findings."""
    stated = as_list(findings.get("problems"))
    shape = model_problems(findings)
    out: list[Flowable] = [CondPageBreak(120), section("Problems found while reading the evidence")]
    if stated:
        out.append(rich("Records or files that could not be read as expected. They remain in the "
                        "sealed bundles; what they would have shown is not in this report."))
        out += [bullet(esc(p, 600)) for p in stated[:MAX_PROBLEMS]]
        if len(stated) > MAX_PROBLEMS:
            out.append(rich(f"... and {len(stated) - MAX_PROBLEMS:,} more, listed in "
                            "findings.json.", "note"))
    else:
        out.append(none_found("None found."))
    if shape:
        out.append(rich("<b>Problems with the findings data.</b> The report was drawn from "
                        "findings that do not fully match the documented shape. What could be "
                        "shown is shown; these parts could not be:"))
        out += [bullet(esc(p, 400)) for p in shape]
    return out


def _case(findings: Findings) -> dict[str, Any]:
    return as_dict(findings.get("case"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
