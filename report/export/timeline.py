"""The timeline CSV of `evkit export`: one row per record, in the column shape timeline tools load.

Timesketch needs `datetime` (ISO 8601), `timestamp_desc` and `message`; the other columns are the
record's operation, actor, mailbox, IP, client, the items it names, its classification and its
id (docs/export.md). Classification is the report's, for the case file given: the classifications
of the items whose verdict cites the record, strongest first, or `attributed` for a record an
indicator attributes that names no classified item; empty without a case file.

The rows are written by DuckDB (one per record: millions), every evidence string through the
spreadsheet formula neutraliser of report.outputs.csvcells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from evkit.report.rules.classify import Classification, ItemVerdict, rank

CLASSES_TABLE = "export_record_classes"
ATTRIBUTED = "attributed"
TIMESTAMP_DESC = "Audit record created (CreationTime)"
COLUMNS = ("datetime", "timestamp_desc", "message", "operation", "actor", "mailbox", "ip", "client", "items",
           "classification", "record_id")
# evkit.times.format_utc_precise, in SQL: UTC, microseconds, Z.
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def record_classes(verdicts: Sequence[ItemVerdict], attributed: Iterable[str]) -> list[tuple[str, str]]:
    """(record id, classification) for every record a verdict cites or an indicator attributes."""
    by_record: dict[str, set[Classification]] = defaultdict(set)
    for verdict in verdicts:
        for rid in verdict.record_ids:
            by_record[rid].add(verdict.classification)
    out = {rid: ";".join(c.value for c in sorted(classes, key=lambda c: (-rank(c), c.value)))
           for rid, classes in by_record.items()}
    for rid in attributed:
        out.setdefault(rid, ATTRIBUTED)
    return sorted(out.items())


# The InternetMessageIds a record names, as report.engine.sql.item_mentions lists them (the items
# of a MailItemsAccessed record's folders, its Item, its AffectedItems), taken from the row itself:
# aggregating item_mentions per record held every record's list in memory at once.
_ITEMS = """array_to_string(list_sort(list_distinct(list_filter(
        CASE WHEN e.operation = 'MailItemsAccessed'
             THEN flatten(list_transform(coalesce(e.folders, []),
                          lambda f: list_transform(coalesce(f.FolderItems, []), lambda i: i.InternetMessageId)))
             ELSE [] END
        || [e.item.InternetMessageId]
        || list_transform(coalesce(e.affected_items, []), lambda a: a.InternetMessageId),
        lambda m: m IS NOT NULL AND m <> ''))), ' ')"""


def timeline_select(*, classified: bool, source: str = "events") -> str:
    """SQL: the timeline's rows (before neutralising) of the records of `source` (a relation
    with the columns of `events`), with `ts` for ordering."""
    classification = "c.classification" if classified else "NULL::VARCHAR"
    join = f"LEFT JOIN {CLASSES_TABLE} c ON c.record_id = e.id" if classified else ""
    return f"""
        SELECT strftime(e.ts, '{_TIME_FORMAT}') AS datetime, '{TIMESTAMP_DESC}' AS timestamp_desc,
               concat(coalesce(e.operation, '(no operation)'), ' by ' || e.account, ' on ' || e.mailbox,
                      ' from ' || coalesce(e.client_ip_address, e.client_ip, e.actor_ip)) AS message,
               e.operation, e.account AS actor, e.mailbox,
               coalesce(e.client_ip_address, e.client_ip, e.actor_ip) AS ip,
               coalesce(e.client_info, e.user_agent) AS client, nullif({_ITEMS}, '') AS items,
               {classification} AS classification, e.id AS record_id, e.ts
        FROM {source} e
        {join}"""
