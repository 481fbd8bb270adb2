"""The rows of an analysis (report.analysis.Analysis) as TypedDicts: the lists findings.json
holds under these names (docs/internals.md).

Plain dicts at run time, so findings.json is written exactly as before; the types tell the
outputs (report.outputs) and the PDF (report.pdf) which keys a row has.
"""

from __future__ import annotations

from typing import TypedDict


class IndicatorRow(TypedDict):
    """`attribution`: per indicator, the records it attributed directly and the sessions it opened."""
    indicator: str
    records: int
    sessions: list[str]
    session_records: int


class SyncRow(TypedDict):
    """`syncs`: one folder synced by the attacker."""
    mailbox: str | None
    folder: str
    time_utc: str | None
    items_named: int
    items_unnamed: int | None
    folder_items_collected: int | None
    record_ids: list[str]


class ThrottledRow(TypedDict):
    """`throttled`: one window of throttled audit logging."""
    mailbox: str
    start: str | None
    end: str | None
    attributed_activity: int
    items_named: int
    items_unnamed: int | None
    mailbox_items_collected: int | None
    record_ids: list[str]


class SearchRow(TypedDict):
    """`searches`: one mailbox search by the attacker and the items it matched."""
    mailbox: str | None
    time_utc: str | None
    query: str | None
    matching_items: list[str]
    record_ids: list[str]


class SendRow(TypedDict):
    """`sends`: one message sent by the attacker."""
    mailbox: str | None
    time_utc: str | None
    subject: str | None
    internet_message_id: str | None
    record_ids: list[str]


class UnreadableRow(TypedDict):
    """`unreadable_accesses`: an attributed access whose item list cannot be read."""
    mailbox: str | None
    time_utc: str | None
    items_unknown: int
    record_ids: list[str]


class Parameter(TypedDict):
    name: str
    value: str


class ChangeRow(TypedDict):
    """`mailbox_changes`: one change the attacker made to a mailbox (rules.mailbox_changes)."""
    mailbox: str | None
    time_utc: str | None
    kind: str
    operation: str
    actor: str | None
    details: str
    parameters: list[Parameter]
    indicator: str
    record_ids: list[str]


class TimelineRow(TypedDict):
    """`timeline`: attributed records per mailbox, hour and lane of the chart."""
    mailbox: str
    hour_utc: str
    kind: str
    count: int
