"""The report's detail sections: one function per findings.json list, each a titled table.

A section with no rows says "None found" rather than vanishing, so a reader can tell "looked and
found nothing" from "did not look". Record ids are counted in the PDF; the ids themselves are
in findings.json next to every row (audit-tampering rows show them, as lawyers ask for those).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reportlab.platypus import CondPageBreak, Flowable

from evkit.report.outputs.model import Findings
from evkit.report.coverage.assess import explain
from evkit.report.pdf import entra
from evkit.report.pdf.common import (
    Column, as_dict, as_list, as_rows, clean, count_text, data_table, esc, none_found, plural, rich,
    section,
    show_period, show_time,
)
from evkit.report.pdf.mailbox_state import TITLE as MAILBOX_STATE_TITLE, mailbox_state_section

# Collection-ledger statuses in plain words; audit-coverage codes come from evkit.report.coverage,
# the one place that knows them. Anything else is already prose and is shown as stated.
LEDGER_WORDS = {
    "capped": "the collection hit a service limit, so records may be missing",
    "failed": "collecting this period failed, so records may be missing",
    "pending": "the service had not yet made this period's records available, so records may be missing",
    "partial": "only part of this period was collected, so records may be missing",
    "incomplete": "this period was not fully collected, so records may be missing",
}


COVERAGE_WORDS = {"investigable": "can be assessed", "partly": "partly assessable",
                  "blind": "cannot be assessed"}


def reason_words(code: Any) -> str:
    """Plain words for a reason code; the text itself (cleaned) when it is not a known code."""
    if not isinstance(code, str) or not code.strip():
        return "reason not stated"
    text = code.strip()
    words = LEDGER_WORDS.get(text.lower()) or explain(text)
    return clean(words, None)                   # whole: the cell it goes into cuts it once


def _records(row: dict[str, Any]) -> str:
    ids = as_list(row.get("record_ids"))
    return f"{len(ids):,}"


def _ids(row: dict[str, Any], shown: int = 3) -> str:
    ids = [clean(i, 60) for i in as_list(row.get("record_ids"))]
    text = ", ".join(ids[:shown])
    return text + (f" (+{len(ids) - shown} more)" if len(ids) > shown else "")


def _plain(value: Any) -> Any:
    """A cell value: lists joined, None shown as a dash, everything else as given."""
    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(clean(v, 120) for v in value) or "-"
    if isinstance(value, dict):
        return clean(value)
    return value


def _count(value: Any) -> Any:
    """A count cell: lists (of ids) by their length, numbers as given, None as a dash."""
    return f"{len(value):,}" if isinstance(value, list) else _plain(value)


def _verdict(row: dict[str, Any]) -> Any:
    """The mailbox verdict, with the items opened that no readable record names."""
    unknown = row.get("accessed_items_unknown")
    if isinstance(unknown, int) and not isinstance(unknown, bool) and unknown:
        return f"{_plain(row.get('verdict'))} ({unknown:,} items unknown)"
    return _plain(row.get("verdict"))


def _mailboxes(findings: Findings) -> list[Flowable]:
    def gaps(row: dict[str, Any]) -> str:
        parts = [f"{show_period(g.get('start'), g.get('end'))}: {reason_words(g.get('reason'))}"
                 for g in as_rows(row.get("unknown"))]
        return "; ".join(parts) or "none"
    cols = [Column("Mailbox", 0.2), Column("Type", 0.09), Column("Verdict", 0.11),
            Column("Confirmed", 0.1, True), Column("Inferred", 0.09, True),
            Column("Unnamed", 0.09, True), Column("Periods without visibility", 0.32, limit=2000)]
    rows = [[_plain(r.get("mailbox")), _plain(r.get("type")), _verdict(r),
             _plain(r.get("confirmed")), _plain(r.get("inferred")),
             _plain(r.get("inferred_unnamed")), gaps(r)]
            for r in as_rows(findings.get("mailboxes"))]
    items = as_dict(findings.get("items"))
    totals = ", ".join(f"{esc(k)} {count_text(v)}" for k, v in items.items())
    return [rich("Per mailbox: items confirmed opened by the attacker, items that must be "
                 "presumed read, and the periods for which nothing can be known."
                 + (f" Items by classification, all mailboxes: {totals}." if totals else ""),
                 "body"),
            rich("In this and the following tables, Records counts the audit records behind "
                 "a row; findings.json lists their ids.", "note"),
            *data_table(cols, rows, what="mailboxes")]


def _syncs(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.23), Column("Folder", 0.3), Column("Synced (UTC)", 0.15),
            Column("Named items", 0.11, True), Column("Unnamed items", 0.12, True),
            Column("Records", 0.09, True)]
    rows = [[_plain(r.get("mailbox")), _plain(r.get("folder")), show_time(r.get("time_utc")),
             _plain(r.get("items_named")), _plain(r.get("items_unnamed")), _records(r)]
            for r in as_rows(findings.get("syncs"))]
    return [rich("Outlook for desktop downloads whole folders (Sync). Microsoft logs one record "
                 "per folder, not per item, so every item in a synced folder must be presumed "
                 "read.", "body"), *data_table(cols, rows, what="folder syncs")]


def _throttled(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.3), Column("From (UTC)", 0.17), Column("To (UTC)", 0.17),
            Column("Attacker records in window", 0.26, True), Column("Records", 0.1, True)]
    rows = [[_plain(r.get("mailbox")), show_time(r.get("start")), show_time(r.get("end")),
             _count(r.get("attributed_activity")), _records(r)]
            for r in as_rows(findings.get("throttled"))]
    return [rich("After more than 1,000 access records in under 24 hours Microsoft stops logging "
                 "individual opens for 24 hours. Where the attacker was active in such a window, "
                 "the mailbox's items are presumed read for that window.", "body"),
            *data_table(cols, rows, what="throttled windows")]


def _mailbox_changes(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.2), Column("When (UTC)", 0.13), Column("Change", 0.15),
            Column("Parameters (conditions, actions, addresses)", 0.42, limit=900), Column("Records", 0.1, True)]
    rows = [[_plain(r.get("mailbox")), show_time(r.get("time_utc")),
             f"{_plain(r.get('kind'))}: {_plain(r.get('operation'))}", _plain(r.get("details")) or "-", _records(r)]
            for r in as_rows(findings.get("mailbox_changes"))]
    return [rich("Inbox rules, forwarding, permissions, delegates and application consents set by the "
                 "attacker. They can send mail out or keep access after a password reset, so each "
                 "mailbox changed is affected even where no item was opened.", "body"),
            *data_table(cols, rows, what="mailbox changes")]


def _searches(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.23), Column("Time (UTC)", 0.15), Column("Query text", 0.42,
                                                                      limit=500),
            Column("Matching items", 0.11, True), Column("Records", 0.09, True)]
    rows = [[_plain(r.get("mailbox")), show_time(r.get("time_utc")), _plain(r.get("query")),
             _count(r.get("matching_items")), _records(r)]
            for r in as_rows(findings.get("searches"))]
    return [rich("What the attacker searched for. Results are not claimed as read; items whose "
                 "subject matches are flagged in the item list.", "body"),
            *data_table(cols, rows, what="searches")]


def _sends(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.2), Column("Time (UTC)", 0.15), Column("Subject", 0.3),
            Column("Message id", 0.26, mono=True), Column("Records", 0.09, True)]
    rows = [[_plain(r.get("mailbox")), show_time(r.get("time_utc")), _plain(r.get("subject")),
             _plain(r.get("internet_message_id")), _records(r)]
            for r in as_rows(findings.get("sends"))]
    return [*data_table(cols, rows, what="sends")]


def _tampering(findings: Findings) -> list[Flowable]:
    cols = [Column("Time (UTC)", 0.12), Column("Operation", 0.22), Column("Actor", 0.18),
            Column("Target", 0.13), Column("What it means / records", 0.35)]
    rows = [[show_time(r.get("time_utc")), _plain(r.get("operation")), _plain(r.get("actor")),
             _plain(r.get("target")),
             rich(f"{esc(_plain(r.get('description')))}<br/><font name='EvkitMono' size='7'>"
                  f"{esc(_ids(r))}</font>", "cell")]
            for r in as_rows(findings.get("tampering"))]
    return [rich("Changes that switch auditing off, exempt an account from it or remove the "
                 "licence that records mail access, during the incident window.", "body"),
            *data_table(cols, rows, what="tampering findings")]


def _indicators(findings: Findings) -> list[Flowable]:
    cols = [Column("Kind", 0.11), Column("Value", 0.33, mono=True),
            Column("Why it is suggested", 0.47), Column("Records", 0.09, True)]
    rows = [[_plain(r.get("kind")), _plain(r.get("value")), _plain(r.get("why")),
             _count(r["record_count"]) if "record_count" in r else _records(r)]
            for r in as_rows(findings.get("suggested_indicators"))]
    used = [[_plain(r.get("indicator")), _count(r.get("records")), _count(r.get("sessions")),
             _count(r.get("session_records"))] for r in as_rows(findings.get("attribution"))]
    return [rich("<b>Applied.</b> The case file's indicators and how much of the evidence each "
                 "one attributed to the attacker (sessions expand attribution).", "body"),
            *data_table([Column("Indicator", 0.52), Column("Records matched", 0.16, True),
                         Column("Sessions", 0.14, True),
                         Column("Records via sessions", 0.18, True)],
                        used, what="indicators"),
            rich("<b>Suggested, not applied.</b> Candidates an analyst should review; none of "
                 "them changed any number in this report.", "body"),
            *data_table(cols, rows, what="suggested indicators")]


def _logged_for(row: dict[str, Any]) -> str:
    """Mail reading logged for which logon types: "all", "owner, admin; NOT delegate", "NO"."""
    logons = as_dict(row.get("mail_items_accessed_logons"))
    if not logons:
        audited = row.get("mail_items_accessed_audited")
        return {True: "yes", False: "NO"}.get(audited, "not stated") if isinstance(audited, bool) else "not stated"
    yes = [k for k, v in logons.items() if v is True]
    no = [k for k, v in logons.items() if v is False]
    if not no:
        return "yes, every logon type"
    if not yes:
        return "NO"
    return f"{', '.join(yes)}; NOT {', '.join(no)}"


def _coverage(findings: Findings) -> list[Flowable]:
    cols = [Column("Mailbox", 0.22), Column("Type", 0.08), Column("Mail reading logged", 0.14),
            Column("Licence", 0.1), Column("Bypass", 0.07), Column("Verdict", 0.12),
            Column("Reason (audit settings as collected)", 0.27, limit=600)]
    rows = [[_plain(r.get("mailbox")), _plain(r.get("type")), _logged_for(r),
             _plain(r.get("licence")), _plain(r.get("bypass")),
             _plain(COVERAGE_WORDS.get(str(r.get("verdict")), r.get("verdict"))),
             reason_words(r.get("reason")) if r.get("reason") else "-"]
            for r in as_rows(findings.get("coverage"))]
    return [rich("Whether each mailbox's mail reading (MailItemsAccessed) could be logged at all, "
                 "from the tenant's audit configuration and licences as collected, for every "
                 "mailbox in scope or with a period that cannot be known. How this changed "
                 "during the incident window (an audit bypass added later, for example) is in "
                 "the periods of the Mailboxes table.", "body"),
            *data_table(cols, rows, what="mailboxes")]


def _covered_words(unit: dict[str, Any]) -> str:
    words = reason_words(unit.get("reason")) if unit.get("reason") else "-"
    by = unit.get("covered_by")
    # the verdict first: a reason cut for length never takes it with it
    return f"Not a visibility gap: {_plain(by)} collected this period completely. {words}" if by else words


def _completeness(findings: Findings) -> list[Flowable]:
    units = as_rows(findings.get("completeness"))
    gaps = [u for u in units if u.get("status") != "complete"]
    out: list[Flowable] = []
    done = len(units) - len(gaps)
    covered = sum(1 for u in gaps if u.get("covered_by"))
    out.append(rich(f"{plural(len(gaps), 'collection unit is', 'collection units are')} not "
                    f"complete{f' ({done:,} recorded as complete)' if done else ''}. Each "
                    "incomplete unit is a visibility gap: records for that source and period may "
                    "be missing from the evidence"
                    + (f", except {plural(covered, 'unit', 'units')} whose whole period another "
                       "audit source collected completely (named under What it means)." if covered else "."),
                    "body"))
    cols = [Column("Bundle", 0.15), Column("Source", 0.08), Column("Unit", 0.22),
            Column("Status", 0.08), Column("What it means", 0.27, limit=600), Column("Expected", 0.1, True),
            Column("Received", 0.1, True)]
    rows = [[_plain(u.get("bundle")), _plain(u.get("source")), _plain(u.get("unit")),
             _plain(u.get("status")), _covered_words(u),
             _plain(u.get("expected")), _plain(u.get("received"))] for u in gaps]
    blind = as_rows(findings.get("evidence_gaps"))
    if rows:
        out += data_table(cols, rows, what="visibility gaps")
    elif not blind:
        out.append(none_found("None found: every recorded collection unit is complete."))
    if blind:
        out.append(rich("The evidence does not show the whole incident window: for these periods no "
                        "mailbox can be assessed, whatever its audit settings.", "body"))
        out += data_table([Column("Period", 0.4), Column("Why", 0.6, limit=600)],
                          [[show_period(g.get("start"), g.get("end")), _plain(g.get("reason"))] for g in blind],
                          what="uncovered periods")
    return out


# The detail sections in report order: (heading, builder of the section's body). Another section
# slots in by adding its pair here; page 1's pointers and the contents follow automatically.
SECTIONS: tuple[tuple[str, Callable[[Findings], list[Flowable]]], ...] = (
    ("Mailboxes", _mailboxes),
    ("Mailbox changes", _mailbox_changes),
    (MAILBOX_STATE_TITLE, mailbox_state_section),
    ("Folder synchronisation", _syncs),
    ("Throttled windows", _throttled),
    ("Searches", _searches),
    ("Messages sent by the attacker", _sends),
    ("Audit tampering", _tampering),
    ("Indicators", _indicators),
    ("Audit coverage", _coverage),
    ("Completeness of the collection", _completeness),
) + entra.SECTIONS
SECTION_TITLES = tuple(title for title, _ in SECTIONS)


def detail_flowables(findings: Findings) -> list[Flowable]:
    """Every detail section in report order (the appendices follow from evkit.report.pdf.appendix)."""
    out: list[Flowable] = []
    for title, build in SECTIONS:
        out.append(CondPageBreak(120))
        out.append(section(title))
        out += build(findings)
    return out
