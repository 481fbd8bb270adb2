"""Page 1 of the report as data: the answer, cards whose numbers add up, and why some mailboxes
cannot be assessed, grouped by reason (findings.json `summary`, docs/internals.md).

Pure wording and counting over the mailbox rows the findings already hold; no rule is decided
here. Every renderer (PDF, JSON readers) shows these same numbers and sentences.

The mailbox cards partition the mailboxes in the evidence, so they add up:
affected (confirmed or presumed accessed, or changed by the attacker) + cannot be assessed (no access found, but access could
not have been logged for some or all of the window) + no evidence of access = total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from evkit.report.coverage.assess import explain
from evkit.report.outputs.model import Cards, MailboxRow, UnknownGroup

AFFECTED = ("accessed", "presumed accessed", "changed by the attacker")
CANNOT_ASSESS = "cannot be assessed"

# Reason codes in an executive's words (the technical wording, from report.coverage, follows in
# the detail sections; the glossary explains the terms).
PLAIN_REASONS: Mapping[str, str] = {
    "org-audit-disabled": "auditing was switched off for the whole organisation",
    "ingestion-disabled": "the organisation's audit log was not recording",
    "mailbox-auditing-off": "auditing was off for these mailboxes",
    "bypass": "the account was exempted from auditing (audit bypass)",
    "audit-set-lacks-MailItemsAccessed": "mail reading was not recorded: MailItemsAccessed was "
                                         "missing from the mailbox's audit set",
    "audit-set-unknown": "the mailbox's audit settings at the time cannot be reconstructed",
    "no-audit-licence": "no licence that records mail reading",
    "audit-standard-before-expansion": "the licence (Audit Standard) did not yet record mail "
                                       "reading before Microsoft's 2024 expansion",
}
_WHO = " access not logged)"


def plain_reason(reason: str) -> str:
    """A gap's reason in plain words: known audit reasons reworded, the logon types kept
    ("owner access"), collection and other reasons as stated."""
    base, who = reason, ""
    if reason.endswith(_WHO) and " (" in reason:
        base, _, tail = reason.rpartition(" (")
        who = tail.removesuffix(_WHO)
    for code, words in PLAIN_REASONS.items():
        if base == explain(code):
            base = words
            break
    if who and who != "any":
        return f"{base}; {who} access only"
    return base


def mailbox_cards(mailboxes: Sequence[MailboxRow], known: int) -> Cards:
    """The mailbox counts of page 1, a partition of the `known` mailboxes in the evidence (at
    least those listed)."""
    affected = sum(1 for m in mailboxes if m.get("verdict") in AFFECTED)
    cannot = sum(1 for m in mailboxes if m.get("verdict") == CANNOT_ASSESS)
    affected_gaps = sum(1 for m in mailboxes if m.get("verdict") in AFFECTED and m.get("unknown"))
    total = max(known, len(mailboxes))
    return {"mailboxes_total": total, "mailboxes_affected": affected,
            "mailboxes_cannot_be_assessed": cannot,
            "mailboxes_no_evidence": total - affected - cannot,
            "mailboxes_affected_with_gaps": affected_gaps}


def unknown_groups(mailboxes: Sequence[MailboxRow], window: tuple[str, str]) -> list[UnknownGroup]:
    """Mailboxes with periods that cannot be known, grouped by reason, most mailboxes first:
    {reason, plain, mailboxes, count, start, end, whole_window, mailbox_start}. `start`/`end`
    span the group's periods; `whole_window` is true when every period is the whole incident
    window; `mailbox_start` says when each mailbox's first period for the reason begins (an
    audit bypass added during the incident starts later than one that was always there)."""
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"mailboxes": set(), "periods": set(), "starts": {}})
    for m in mailboxes:
        for gap in m.get("unknown") or []:
            reason = str(gap.get("reason") or "reason not stated")
            name, start = str(m.get("mailbox")), str(gap.get("start"))
            groups[reason]["mailboxes"].add(name)
            groups[reason]["periods"].add((start, str(gap.get("end"))))
            starts = groups[reason]["starts"]
            starts[name] = min(starts.get(name, start), start)
    out: list[UnknownGroup] = []
    for reason, g in groups.items():
        periods = sorted(g["periods"])
        out.append({"reason": reason, "plain": plain_reason(reason),
                    "mailboxes": sorted(g["mailboxes"]), "count": len(g["mailboxes"]),
                    "start": min(p[0] for p in periods), "end": max(p[1] for p in periods),
                    "whole_window": periods == [window],
                    "mailbox_start": dict(sorted(g["starts"].items()))})
    return sorted(out, key=lambda g: (-g["count"], g["plain"], g["reason"]))


def _plain_time(value: datetime | None) -> str:
    if value is None:
        return "an unknown time"
    return f"{value.day} {value.strftime('%B %Y, %H:%M')} UTC"


def answer(*, cards: Cards, confirmed: int, inferred: int, unnamed: int,
           groups: Sequence[UnknownGroup], attributed: bool,
           first: datetime | None, last: datetime | None,
           window: tuple[datetime, datetime]) -> str:
    """The one-sentence answer. It leads with what cannot be known when that dominates: no
    access was found, yet some mailboxes could not have shown it, or most of the evidence's
    mailboxes cannot be assessed."""
    total, affected = cards["mailboxes_total"], cards["mailboxes_affected"]
    blind = cards["mailboxes_cannot_be_assessed"] + cards["mailboxes_affected_with_gaps"]
    presumed = inferred + unnamed
    dominates = blind and (not (confirmed or presumed) or 2 * cards["mailboxes_cannot_be_assessed"] > total)
    found = (f"{confirmed:,} {'item was' if confirmed == 1 else 'items were'} confirmed read or "
             f"handled by the attacker and {presumed:,} more must be presumed read, in "
             f"{affected:,} of the {total:,} mailboxes in the evidence")
    if dominates:
        why = groups[0]["plain"] if groups else "the records were not kept or not collected"
        lead = (f"Whether mail was read cannot be known for {blind:,} of the {total:,} mailboxes "
                f"in the evidence (chiefly because {why})")
        if attributed and (confirmed or presumed):
            return f"{lead}; where it can be known, {found.replace(' in the evidence', '')}."
        if attributed:                  # sign-ins or changes, but no item named: never "0 items"
            return (f"{lead}; the evidence holds activity matching the case's indicators, but no "
                    "record of it names an item read.")
        return (f"{lead}; no activity matching the case's indicators was found between "
                f"{_plain_time(window[0])} and {_plain_time(window[1])}.")
    if not attributed:
        return (f"No activity matching the case's indicators was found between "
                f"{_plain_time(window[0])} and {_plain_time(window[1])}"
                + (f"; {blind:,} mailboxes cannot be assessed." if blind else "."))
    tail = (f"; for {cards['mailboxes_cannot_be_assessed']:,} more mailboxes access cannot be assessed"
            if cards["mailboxes_cannot_be_assessed"] else "")
    return (f"Between {_plain_time(first)} and {_plain_time(last)}, {found}{tail}.")
