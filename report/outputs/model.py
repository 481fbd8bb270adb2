"""The shapes of the report model's rows (findings.json, docs/internals.md) as TypedDicts.

They are plain dicts at run time, so findings.json is written exactly as before; the types tell
the writers (report.outputs, report.pdf) and mypy which keys a row has. A new key in a row is
added here first.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from evkit.report.rows import (ChangeRow, IndicatorRow, SearchRow, SendRow, SyncRow, ThrottledRow, TimelineRow,
                              UnreadableRow)


class Period(TypedDict):
    """A span that cannot be assessed (or holds no evidence), with why: ISO 8601 UTC strings."""
    start: str
    end: str
    reason: str


class MailboxRow(TypedDict):
    """One mailbox of findings.json `mailboxes` (report.outputs.findings.mailbox_rows)."""
    mailbox: str
    in_scope: bool
    type: str
    confirmed: int
    inferred: int
    inferred_unnamed: int
    accessed_items_unknown: int
    changes: list[str]
    unknown: list[Period]
    verdict: str
    attributed_records: int
    record_ids: list[str]


class UnknownGroup(TypedDict):
    """Mailboxes that cannot be assessed for one reason (report.outputs.overview.unknown_groups)."""
    reason: str
    plain: str
    mailboxes: list[str]
    count: int
    start: str
    end: str
    whole_window: bool
    mailbox_start: dict[str, str]        # each mailbox's first period start in this group


class Cards(TypedDict):
    """Page 1's mailbox counts, a partition of the mailboxes in the evidence."""
    mailboxes_total: int
    mailboxes_affected: int
    mailboxes_cannot_be_assessed: int
    mailboxes_no_evidence: int
    mailboxes_affected_with_gaps: int


class Summary(Cards):
    """findings.json `summary`: page 1 as data (report.outputs.findings.summary)."""
    mailboxes_in_scope: int
    confirmed_items: int
    inferred_items: int
    inferred_unnamed_items: int
    accessed_items_unknown: int
    presumed_items: int
    mailboxes_unknown: int
    unknown_groups: list[UnknownGroup]
    first_activity_utc: str | None
    last_activity_utc: str | None
    attributed_records: int
    headline: str
    points: list[str]


class Findings(TypedDict):
    """findings.json as a whole (report.outputs.findings.build_findings): what every writer reads.

    Rows the report takes from verification, coverage and suggestions keep their own modules'
    shapes (plain JSON objects); the rows of the analysis are typed in report/rows.py.
    """
    schema: str
    evidence_valid: bool
    evidence_state: str
    evidence_warnings: list[str]
    generated_utc: str | None
    case: dict[str, Any]
    bundles: list[dict[str, Any]]
    signers: list[dict[str, Any]]
    summary: Summary
    mailboxes: list[MailboxRow]
    items: dict[str, int]
    timeline: list[TimelineRow]
    syncs: list[SyncRow]
    throttled: list[ThrottledRow]
    searches: list[SearchRow]
    sends: list[SendRow]
    evidence_gaps: list[Period]
    unreadable_accesses: list[UnreadableRow]
    mailbox_changes: list[ChangeRow]
    tampering: list[dict[str, Any]]
    suggested_indicators: list[dict[str, Any]]
    attribution: list[IndicatorRow]
    coverage: list[dict[str, Any]]
    completeness: list[dict[str, Any]]
    problems: list[str]
    limitations: list[str]
    item_metadata: NotRequired[dict[str, Any]]  # only with a resolve bundle (report.outputs.itemmeta)
    mailbox_state: NotRequired[dict[str, Any]]  # the mailbox source's findings (report.mailbox_state)
    sign_ins: NotRequired[dict[str, Any]]  # the attacker's sign-ins (report.entra_analysis)
    applications: NotRequired[dict[str, Any]]  # apps that can read mail (report.entra_analysis)
