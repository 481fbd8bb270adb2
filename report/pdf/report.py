"""The breach-scope PDF: a faithful view of findings.json, with no analysis of its own.

`render_report(findings, out_path)` lays out page 1 (the executive summary, in plain words),
the timeline chart, the detail sections and the appendices. Every string that came from the
evidence goes through `evkit.report.pdf.common.esc`/`para`; every number is one the findings state
(missing numbers are shown as "not stated", never computed here). Same findings, same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Table, TableStyle

from evkit.report.pdf.common import (
    ALERT, FONT_BOLD, FRAME_WIDTH, Column, DocumentInfo, as_dict, as_list, as_rows, build_document, bullet,
    clean, count_text, data_table, esc, none_found, parse_utc, plural, rich, section, show_period,
    spacer, stat_block,
)
from evkit.report.pdf.appendix import appendix_flowables
from evkit.report.pdf.signers import STATE_INVALID, STATE_UNTRUSTED, evidence_state, signer_flowables
from evkit.report.pdf.sections import detail_flowables, reason_words
from evkit.report.pdf.timeline import timeline_flowables

TITLE = "Mailbox breach scope report"
SUMMARY_UNKNOWN_ROWS = 5
SUMMARY_POINTS = 8
MAX_PROBLEMS = 200


def render_report(findings: dict, out_path: Path) -> None:
    """Write the breach-scope PDF for `findings` (the findings.json model) to `out_path`.

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
    )
    story: list = summary_flowables(findings)
    story.append(PageBreak())
    story += more_points(as_dict(findings.get("summary")))
    story.append(section("Timeline of attributed activity"))
    story += timeline_flowables(findings)
    story += detail_flowables(findings)
    story += problems_flowables(findings)
    story += appendix_flowables(findings)
    build_document(Path(out_path), info, story)


def report_date(findings: Mapping[str, Any]) -> datetime | None:
    """The document's date: `generated_utc` if the model has it, else the latest custody event.

    Taken from the model so the same findings give the same bytes; None (reportlab's fixed
    invariant date) when the model holds no date at all.
    """
    stated = parse_utc(findings.get("generated_utc"))
    if stated:
        return stated
    times = [parse_utc(rec.get("time_utc"))
             for bundle in as_rows(findings.get("bundles"))
             for rec in as_rows(bundle.get("custody"))]
    known = [t for t in times if t is not None]
    return max(known) if known else None


# -- page 1 -----------------------------------------------------------------------------------

def summary_flowables(findings: Mapping[str, Any]) -> list:
    """Page 1: who, what, when; the numbers; what is known, inferred and unknowable."""
    case, summary = _case(findings), as_dict(findings.get("summary"))
    window = as_list(case.get("window"))
    out: list = [rich(esc(TITLE), "title")]
    sub = f"Case {esc(case.get('id'), 80)}"
    if case.get("client"):
        sub += f" &middot; {esc(case.get('client'), 120)}"
    if len(window) == 2:
        sub += f" &middot; incident window {esc(show_period(window[0], window[1]))}"
    out.append(rich(sub, "subtitle"))
    state = evidence_state(findings)
    if state == STATE_INVALID:
        out.append(_invalid_box(findings))
    elif state == STATE_UNTRUSTED:
        out.append(_alert_box(_untrusted_text(findings)))
    headline = summary.get("headline")
    out.append(rich(esc(headline, 600) if headline else "No headline was stated in the findings.",
                    "headline"))
    out.append(stat_block([
        (count_text(summary.get("confirmed_items")), "items confirmed accessed by the attacker"),
        (count_text(summary.get("inferred_items")), _inferred_label(summary)),
        (count_text(summary.get("mailboxes_affected")),
         f"mailboxes affected, of {count_text(summary.get('mailboxes_in_scope'))} in scope"),
        (count_text(summary.get("mailboxes_unknown")), "mailboxes that cannot be fully assessed"),
    ]))
    out.append(spacer(6))
    out.append(_evidence_line(findings))
    out += signer_flowables(findings)
    out.append(spacer(4))
    out += _who_when(case, summary)
    out += _known_inferred(summary)
    out += _unknowable(findings, summary)
    out += _points(summary)
    problems = as_list(findings.get("problems"))
    if problems:
        out.append(rich(f"{plural(len(problems), 'problem was', 'problems were')} met reading "
                        "the evidence; they are listed at the end of this report.", "note"))
    return out


def _inferred_label(summary: Mapping[str, Any]) -> str:
    unnamed = summary.get("inferred_unnamed_items")
    if isinstance(unnamed, int) and not isinstance(unnamed, bool) and unnamed:
        return f"further items that must be presumed read, plus about {unnamed:,} unnamed"
    return "further items that must be presumed read"


def _who_when(case: Mapping[str, Any], summary: Mapping[str, Any]) -> list:
    accounts = [a for a in as_list(as_dict(case.get("indicators")).get("accounts"))]
    who = ", ".join(esc(a, 80) for a in accounts[:5]) or "none named in the case file"
    if len(accounts) > 5:
        who += f" and {len(accounts) - 5} more"
    first, last = summary.get("first_activity_utc"), summary.get("last_activity_utc")
    when = (f"from {esc(show_period(first, last))}" if first or last
            else "no attributed activity was found")
    return [rich("<b>Who and when.</b> Compromised accounts named in the case file: "
                 f"{who}. Attacker activity seen in the evidence: {when}.")]


def _known_inferred(summary: Mapping[str, Any]) -> list:
    unnamed = summary.get("inferred_unnamed_items")
    extra = ""
    if isinstance(unnamed, int) and not isinstance(unnamed, bool) and unnamed:
        extra = (f" In addition, about {unnamed:,} items in folders the attacker synchronised "
                 "are presumed read; no record names them individually, so they are counted, "
                 "not listed.")
    return [
        rich(f"<b>What is known.</b> Microsoft's access records show the attacker opened, sent "
             f"or changed {count_text(summary.get('confirmed_items'))} items, each named by its "
             "message id in the evidence."),
        rich("<b>What is inferred.</b> A further "
             f"{count_text(summary.get('inferred_items'))} items "
             "must be presumed read: they sat in folders the attacker synchronised, in periods "
             "when Microsoft stopped logging individual opens (throttling), or matched the "
             f"attacker's searches.{extra}"),
    ]


def _unknowable(findings: Mapping[str, Any], summary: Mapping[str, Any]) -> list:
    rows = [(m.get("mailbox"), gap) for m in as_rows(findings.get("mailboxes"))
            for gap in as_rows(m.get("unknown"))]
    count = count_text(summary.get("mailboxes_unknown"))
    if not rows:
        return [rich(f"<b>What cannot be known.</b> {count} mailboxes lack the records needed "
                     "to tell whether mail was read; no period without visibility is listed.")]
    out: list = [rich(f"<b>What cannot be known.</b> For {count} mailboxes the records that "
                      "would show whether mail was read were never kept, or are missing from "
                      "the collection, for some or all of the period. Access there can be "
                      "neither confirmed nor ruled out:")]
    table_rows = [[mbx, show_period(g.get("start"), g.get("end")),
                   reason_words(g.get("reason"))] for mbx, g in rows[:SUMMARY_UNKNOWN_ROWS]]
    out += data_table([Column("Mailbox", 0.26), Column("Period", 0.36), Column("Why", 0.38)],
                      table_rows)
    if len(rows) > SUMMARY_UNKNOWN_ROWS:
        out.append(rich(f"... and {len(rows) - SUMMARY_UNKNOWN_ROWS} more periods without "
                        "visibility, listed under Mailboxes and Coverage.", "note"))
    return out


def _points(summary: Mapping[str, Any]) -> list:
    points = as_list(summary.get("points"))
    if not points:
        return []
    out: list = [rich("<b>Key points</b>", "h2")]
    out += [bullet(esc(p, 500)) for p in points[:SUMMARY_POINTS]]
    if len(points) > SUMMARY_POINTS:
        more = plural(len(points) - SUMMARY_POINTS, "further point continues",
                      "further points continue")
        out.append(rich(f"{more} on the next page.", "note"))
    return out


def more_points(summary: Mapping[str, Any]) -> list:
    """The summary points that did not fit on page 1, at the top of page 2."""
    points = as_list(summary.get("points"))[SUMMARY_POINTS:]
    if not points:
        return []
    return [section("Key points, continued"), *(bullet(esc(p, 500)) for p in points)]


VERDICT_WORDS = {
    "valid": "verified as unaltered since collection and signed by a trusted key",
    "cannot verify": "NOT verified against a key you trust: anyone could have made or altered it",
    "invalid": "FAILED verification: it may have been altered",
}


def _evidence_line(findings: Mapping[str, Any]) -> Any:
    """One line on what the evidence is and how far it verified, by verdict."""
    bundles = as_rows(findings.get("bundles"))
    if not bundles:
        return rich("No evidence bundle is listed in the findings.", "note")
    verdicts: dict[str, int] = {}
    for b in bundles:
        verdict = b.get("verdict") if isinstance(b.get("verdict"), str) else "not stated"
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    parts = [f"{n:,} {esc(VERDICT_WORDS.get(v, 'verdict: ' + clean(v, 40)))}"
             for v, n in sorted(verdicts.items())]
    return rich(f"Based on {plural(len(bundles), 'evidence bundle', 'evidence bundles')}: "
                + "; ".join(parts) + " (details in the evidence appendix).", "note")


def _invalid_box(findings: Mapping[str, Any]) -> KeepTogether:
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


def _untrusted_text(findings: Mapping[str, Any]) -> str:
    stated = [esc(w, 600) for w in as_list(findings.get("evidence_warnings"))
              if isinstance(w, str) and w.startswith("UNTRUSTED")]
    return "<b>UNTRUSTED EVIDENCE.</b> " + (stated[0].removeprefix("UNTRUSTED EVIDENCE: ") if stated else (
        "The evidence was not verified against a key you trust, so anyone could have made or "
        "altered it; do not rely on this report until it is verified with the examiner's key."))


def _alert_box(text: str) -> KeepTogether:
    """A boxed alert on page 1 (evkit's own markup)."""
    box = Table([[rich(text, "alert")]], colWidths=[FRAME_WIDTH])
    box.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT_BOLD, 10),
                             ("BOX", (0, 0), (-1, -1), 1.2, ALERT),
                             ("LEFTPADDING", (0, 0), (-1, -1), 8),
                             ("TOPPADDING", (0, 0), (-1, -1), 6),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return KeepTogether([box, spacer(8)])


LIST_FIELDS = ("problems", "limitations", "bundles", "mailboxes", "timeline", "syncs", "throttled",
               "searches", "sends",
               "tampering", "suggested_indicators", "attribution", "coverage", "completeness")


def model_problems(findings: Mapping[str, Any]) -> list[str]:
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


def problems_flowables(findings: Mapping[str, Any]) -> list:
    """The problems the analysis met in the evidence, then any shape problems of the findings."""
    stated = as_list(findings.get("problems"))
    shape = model_problems(findings)
    out: list = [CondPageBreak(120), section("Problems found while reading the evidence")]
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


def _case(findings: Mapping[str, Any]) -> dict[str, Any]:
    return as_dict(findings.get("case"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
