"""Shared views of scenario records: time parsing, record-type names and content types, and a
resumable cursor over the scenario's ascending record stream (so paging stays O(page))."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

# AuditLogRecordType (docs/microsoft-365.md §4.1); the Graph wire uses these PascalCase names.
RECORD_TYPE_NAMES = {
    1: "ExchangeAdmin", 2: "ExchangeItem", 3: "ExchangeItemGroup", 4: "SharePoint",
    6: "SharePointFileOperation", 7: "OneDrive", 8: "AzureActiveDirectory",
    9: "AzureActiveDirectoryAccountLogon", 10: "DataCenterSecurityCmdlet", 11: "ComplianceDLPSharePoint",
    13: "ComplianceDLPExchange", 14: "SharePointSharingOperation", 15: "AzureActiveDirectoryStsLogon",
    18: "SecurityComplianceCenterEOPCmdlet", 19: "ExchangeAggregatedOperation", 20: "PowerBIAudit",
    25: "MicrosoftTeams", 28: "ThreatIntelligence", 40: "SecurityComplianceAlerts",
    50: "ExchangeItemAggregated", 52: "DataInsightsRestApiAudit", 101: "ExchangeSearch",
    102: "SharePointSearch", 275: "OWAAuth", 295: "AuditSearch",
}
RECORD_TYPE_BY_NAME = {name.lower(): num for num, name in RECORD_TYPE_NAMES.items()}
USER_TYPE_NAMES = ["Regular", "Reserved", "Admin", "DcAdmin", "System", "Application", "ServicePrincipal",
                   "CustomPolicy", "SystemPolicy", "PartnerTechnician", "Guest"]

CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All")
_EXCHANGE = {1, 2, 3, 19, 50, 101}
_AAD = {8, 9, 15}
_SHAREPOINT = {4, 6, 7, 14, 102}
_DLP = {11, 13, 33}


def content_type_of(record: dict[str, Any]) -> str:
    """Management API content type a record is published under (docs/microsoft-365.md §1.1)."""
    rt = record.get("RecordType")
    if rt in _EXCHANGE:
        return "Audit.Exchange"
    if rt in _AAD:
        return "Audit.AzureActiveDirectory"
    if rt in _SHAREPOINT:
        return "Audit.SharePoint"
    if rt in _DLP:
        return "DLP.All"
    return "Audit.General"


def record_time(record: dict[str, Any]) -> dt.datetime:
    """CreationTime is zone-less UTC (`2026-06-10T08:00:00`)."""
    text = str(record["CreationTime"]).replace("Z", "")
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


Cursor = tuple[dt.datetime, int]  # (time of the last consumed record, records consumed at that time)


def page(scenario: Any, start: dt.datetime, end: dt.datetime, keep: Callable[[dict[str, Any]], bool],
         limit: int, cursor: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to `limit` matching records from [start, end) after `cursor`, and the cursor to resume
    from (None when no matching record remains)."""
    at, skip = cursor if cursor else (start, 0)
    out: list[dict[str, Any]] = []
    cur_t, cur_n = at, skip
    next_cursor: Cursor | None = None
    for record in scenario.records(at, end):
        t = record_time(record)
        if t == at and skip:
            skip -= 1
            continue
        if len(out) >= limit:
            if keep(record):
                return out, next_cursor
            continue
        if t == cur_t:
            cur_n += 1
        else:
            cur_t, cur_n = t, 1
        if keep(record):
            out.append(record)
            if len(out) == limit:
                next_cursor = (cur_t, cur_n)
    return out, None


def checkpoints(scenario: Any, start: dt.datetime, end: dt.datetime, keep: Callable[[dict[str, Any]], bool],
                every: int, limit: int) -> tuple[int, list[Cursor | None]]:
    """One scan: the number of matches, and the resume cursor before every `every`-th match among
    the first `limit` (so block b can later be read with page(..., cursor=result[b]))."""
    marks: list[Cursor | None] = [None]
    total = 0
    cur_t, cur_n = start, 0
    for record in scenario.records(start, end):
        t = record_time(record)
        if t == cur_t:
            cur_n += 1
        else:
            cur_t, cur_n = t, 1
        if keep(record):
            total += 1
            if total % every == 0 and total < limit:
                marks.append((cur_t, cur_n))
    return total, marks


def iter_matching(scenario: Any, start: dt.datetime, end: dt.datetime,
                  keep: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
    for record in scenario.records(start, end):
        if keep(record):
            yield record
