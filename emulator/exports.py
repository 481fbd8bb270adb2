"""Client-side exports of audit records, as a client's IT team would hand them over.

Given classic records (what a Management API blob holds), write any export `evkit import`
must read: the Purview audit-search CSV (current 8 columns and classic 4 columns),
`Search-UnifiedAuditLog` output through `Export-Csv` or `ConvertTo-Json`, a Management API
blob, Graph audit records, and Sentinel `OfficeActivity` from the Log Analytics portal (CSV)
or API (JSON). Encodings and damage are options, so tests can check that malformed rows are
counted and PowerShell-mangled cells are named. Stdlib only: imports no product code.

    python -m evkit.emulator.exports --scenario bec-basic --seed 1 --out examples/imports
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from evkit.emulator.errors import EmulatorError, UsageError

FORMATS = ("purview-csv", "purview-csv-classic", "ual-csv", "ual-json", "mgmt-blob",
           "graph-records", "sentinel-csv", "sentinel-json")
SUFFIX = {"purview-csv": ".csv", "purview-csv-classic": ".csv", "ual-csv": ".csv",
          "sentinel-csv": ".csv", "ual-json": ".json", "mgmt-blob": ".json",
          "graph-records": ".json", "sentinel-json": ".json"}
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be")

# Enum names as Sentinel and PowerShell print them (Management Activity API schema).
RECORD_TYPE_NAMES = {
    1: "ExchangeAdmin", 2: "ExchangeItem", 3: "ExchangeItemGroup", 4: "SharePoint",
    6: "SharePointFileOperation", 7: "OneDrive", 8: "AzureActiveDirectory",
    9: "AzureActiveDirectoryAccountLogon", 14: "SharePointSharingOperation",
    15: "AzureActiveDirectoryStsLogon", 18: "SecurityComplianceCenterEOPCmdlet",
    19: "ExchangeAggregatedOperation", 25: "MicrosoftTeams", 28: "ThreatIntelligence",
    50: "ExchangeItemAggregated", 52: "DataInsightsRestApiAudit", 101: "ExchangeSearch",
    102: "SharePointSearch", 275: "OWAAuth",
}
USER_TYPE_NAMES = {0: "Regular", 1: "Reserved", 2: "Admin", 3: "DcAdmin", 4: "System",
                   5: "Application", 6: "ServicePrincipal", 7: "CustomPolicy",
                   8: "SystemPolicy", 9: "PartnerTechnician", 10: "Guest"}

# OfficeActivity: classic field -> column where the connector renames it.
SENTINEL_RENAMES = {"Id": "OfficeId", "Workload": "OfficeWorkload", "ObjectId": "OfficeObjectId",
                    "ClientIPAddress": "Client_IPAddress", "LogonType": "Logon_Type",
                    "AzureActiveDirectoryEventType": "AzureActiveDirectory_EventType",
                    "SendOnBehalfOfUserMailboxGuid": "SendonBehalfOfUserMailboxGuid",
                    "Site": "Site_", "SiteUrl": "Site_Url"}
# The published OfficeActivity columns (Azure Monitor Logs reference), in export order.
SENTINEL_COLUMNS = [
    "TenantId", "TimeGenerated", "RecordType", "Operation", "UserType", "UserKey", "OfficeWorkload",
    "ResultStatus", "OfficeObjectId", "UserId", "ClientIP", "ExternalAccess", "OfficeTenantId",
    "OrganizationId", "OrganizationName", "OriginatingServer", "Parameters", "ModifiedObjectResolvedName",
    "MailboxGuid", "MailboxOwnerUPN", "MailboxOwnerSid", "MailboxOwnerMasterAccountSid", "LogonUserSid",
    "LogonUserDisplayName", "Logon_Type", "InternalLogonType", "Client_IPAddress", "ClientInfoString",
    "ClientMachineName", "ClientProcessName", "ClientVersion", "ClientAppId", "AppId", "Folder", "Folders",
    "Item", "ItemName", "ItemType", "AffectedItems", "CrossMailboxOperations", "DestFolder", "DestMailboxId",
    "DestMailboxOwnerUPN", "DestMailboxOwnerSid", "DestMailboxOwnerMasterAccountSid", "SendAsUserSmtp",
    "SendAsUserMailboxGuid", "SendOnBehalfOfUserSmtp", "SendonBehalfOfUserMailboxGuid",
    "OperationProperties", "ModifiedProperties", "ExtendedProperties", "Actor", "ActorContextId",
    "ActorIpAddress", "InterSystemsId", "IntraSystemId", "SupportTicketId", "TargetContextId",
    "AzureActiveDirectory_EventType", "AADTarget", "UserAgent", "UserDomain", "Client", "LoginStatus",
    "Application", "ApplicationId", "EventSource", "Site_", "Site_Url", "SourceRelativeUrl",
    "SourceFileName", "SourceFileExtension", "DestinationRelativeUrl", "DestinationFileName",
    "DestinationFileExtension", "UserSharedWith", "SharingType", "OfficeId", "SourceRecordId",
    "SourceSystem", "Type",
]
SENTINEL_BOOLS = {"ExternalAccess", "CrossMailboxOperations", "IsManagedDevice"}

PURVIEW_HEADER = ["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData",
                  "AssociatedAdminUnits", "AssociatedAdminUnitsNames"]
CLASSIC_HEADER = ["CreationDate", "UserIds", "Operations", "AuditData"]
UAL_HEADER = ["RunspaceId", "RecordType", "CreationDate", "UserIds", "Operations", "AuditData",
              "ResultIndex", "ResultCount", "Identity", "IsValid", "ObjectState"]
PS_TYPE_LINE = "#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.AuditRecord"
NESTED_FIELDS = ("Folders", "OperationProperties", "Item", "AffectedItems", "ExtendedProperties",
                 "Actor", "Parameters", "AppAccessContext")
RUNSPACE_ID = "5b6d2b1e-3c55-4b5e-9a0e-6f9d3c2a1b00"
WORKSPACE_ID = "9c2d8f5e-1a4b-4c6d-8e0f-1a2b3c4d5e6f"


@dataclass
class ExportInfo:
    """What was written, so tests know what the reader must find."""

    path: Path
    fmt: str
    encoding: str
    rows: int = 0                                              # data rows / elements written
    ids: list[str] = field(default_factory=list)               # Ids of the intact rows
    malformed: dict[int, str] = field(default_factory=dict)    # row -> kind of damage
    mangled: dict[int, str] = field(default_factory=dict)      # row -> column (as the reader names it)


# ---------------------------------------------------------------- value formatting

def _created(record: dict) -> datetime:
    text = str(record.get("CreationTime", "")).rstrip("Z")
    if "." in text:
        text = text.split(".")[0]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def us_time(dt: datetime, *, comma: bool = False, millis: bool = False) -> str:
    """`6/1/2023 12:00:00 PM` (Purview CSV, PowerShell en-US) or `6/1/2023, 12:00:00.000 PM` (Log Analytics)."""
    hour = dt.hour % 12 or 12
    frac = f".{dt.microsecond // 1000:03d}" if millis else ""
    sep = ", " if comma else " "
    return (f"{dt.month}/{dt.day}/{dt.year}{sep}{hour}:{dt.minute:02d}:{dt.second:02d}{frac} "
            f"{'PM' if dt.hour >= 12 else 'AM'}")


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def purview_json(record: dict) -> str:
    """AuditData as the Purview export prints it: compact, with `\\/` escaped slashes."""
    return compact(record).replace("/", "\\/")


# ---------------------------------------------------------------- damage

MALFORMED_KINDS = {
    "auditdata-csv": ("bad-json", "columns", "no-id", "bad-date"),
    "sentinel-csv": ("columns", "no-id", "bad-date"),
    "json": ("not-object", "no-id", "bad-date"),
    "ual-json": ("bad-json", "no-id", "bad-date", "not-object"),
}


def _damage_record(record: dict, kind: str) -> dict:
    broken = dict(record)
    if kind == "no-id":
        broken.pop("Id", None)
    elif kind == "bad-date":
        broken["CreationTime"] = "yesterday afternoon"
    return broken


def _mangle(record: dict, n: int) -> tuple[dict, str | None]:
    """Replace one nested field with what PowerShell prints for it; the field's name or None."""
    for name in NESTED_FIELDS:
        value = record.get(name)
        if isinstance(value, (list, dict)):
            out = dict(record)
            if n % 2 == 0 or not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                out[name] = "System.Object[]" if isinstance(value, list) else "System.Collections.Hashtable"
            else:
                out[name] = " ".join("@{" + "; ".join(f"{k}={v}" for k, v in item.items()) + "}"
                                     for item in value)
            return out, name
    return record, None


@dataclass
class _Plan:
    malformed: frozenset[int]
    mangle: frozenset[int]
    kinds: tuple[str, ...]

    def kind(self, row: int) -> str:
        return self.kinds[(row - 1) % len(self.kinds)]


# ---------------------------------------------------------------- writers

def _open(path: Path, encoding: str) -> TextIO:
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    raw = open(path, "wb")  # noqa: SIM115 - the returned writer owns and closes it
    bom = {"utf-16": codecs.BOM_UTF16_LE, "utf-16-le": codecs.BOM_UTF16_LE,
           "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding)
    codec = {"utf-16": "utf-16-le"}.get(encoding, encoding)
    if bom:
        raw.write(bom)
    return io.TextIOWrapper(raw, encoding=codec, newline="")


def _csv_writer(out: TextIO, quote_all: bool = False):
    return csv.writer(out, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                      lineterminator="\r\n")


def _write_auditdata_csv(fmt: str, records: Iterable[dict], out: TextIO, plan: _Plan,
                         info: ExportInfo, total: int | None) -> None:
    header = {"purview-csv": PURVIEW_HEADER, "purview-csv-classic": CLASSIC_HEADER,
              "ual-csv": UAL_HEADER}[fmt]
    quote_all = fmt == "ual-csv"
    if fmt == "ual-csv":
        out.write(PS_TYPE_LINE + "\r\n")
    writer = _csv_writer(out, quote_all)
    writer.writerow(header)
    for row, record in enumerate(records, start=1):
        kind = plan.kind(row) if row in plan.malformed else None
        if row in plan.mangle and kind is None:
            record, column = _mangle(record, row)
            if column:
                info.mangled[row] = f"AuditData.{column}"
        data = _damage_record(record, kind) if kind in ("no-id", "bad-date") else record
        text = purview_json(data) if fmt == "purview-csv" else compact(data)
        if kind == "bad-json":
            text = text[: max(1, len(text) // 2)]
        dt = _created(record)
        rtype = record.get("RecordType", "")
        if fmt == "purview-csv":
            cells = [record.get("Id", ""), us_time(dt), rtype, record.get("Operation", ""),
                     record.get("UserId", ""), text, "", ""]
        elif fmt == "purview-csv-classic":
            cells = [dt.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"), record.get("UserId", ""),
                     record.get("Operation", ""), text]
        else:
            cells = [RUNSPACE_ID, RECORD_TYPE_NAMES.get(rtype, rtype), us_time(dt),
                     record.get("UserId", ""), record.get("Operation", ""), text, row,
                     total if total is not None else "", record.get("Id", ""), "True", "Unchanged"]
        if kind == "columns":
            cells = cells[:-2]
        writer.writerow(cells)
        _count(info, row, record, kind)


def _count(info: ExportInfo, row: int, record: dict, kind: str | None) -> None:
    info.rows = row
    if kind is None:
        info.ids.append(record["Id"])
    else:
        info.malformed[row] = kind


def sentinel_row(record: dict, *, extra_columns: bool, json_times: bool = False) -> dict[str, str]:
    """One OfficeActivity row (all columns, empty where the record has no such field)."""
    cells = {c: "" for c in SENTINEL_COLUMNS}
    cells["TenantId"] = WORKSPACE_ID
    cells["SourceSystem"] = "OfficeActivityManager"
    cells["Type"] = "OfficeActivity"
    for key, value in record.items():
        column = SENTINEL_RENAMES.get(key, key)
        if key == "CreationTime":
            dt = _created(record)
            cells["TimeGenerated"] = (dt.strftime("%Y-%m-%dT%H:%M:%SZ") if json_times
                                      else us_time(dt, comma=True, millis=True))
            continue
        if column not in cells and not extra_columns:
            continue            # the table has no column for it: Sentinel drops it
        if value is None:
            text = ""
        elif key == "RecordType":
            text = RECORD_TYPE_NAMES.get(value, str(value))
        elif key == "UserType":
            text = USER_TYPE_NAMES.get(value, str(value))
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = str(value)
        elif isinstance(value, (list, dict)):
            text = compact(value)
        elif column in cells:
            text = str(value)
        else:
            text = _extra_text(value)
        cells[column] = text
    if record.get("OrganizationId"):
        cells["OfficeTenantId"] = str(record["OrganizationId"])
    return cells


def _extra_text(value: str) -> str:
    """Undocumented columns hold JSON literals for non-strings; a string that would read back as
    another JSON literal is written as JSON text so it stays a string."""
    try:
        json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value
    return compact(value)


def _sentinel_columns(extra_columns: bool, records_for_header: list[dict] | None) -> list[str]:
    columns = list(SENTINEL_COLUMNS)
    if extra_columns:
        seen = set(columns)
        for record in records_for_header or []:
            for key in record:
                col = SENTINEL_RENAMES.get(key, key)
                if col not in seen and key != "CreationTime":
                    seen.add(col)
                    columns.append(col)
    return columns


def _sentinel_lines(records: Iterable[dict], columns: list[str], plan: _Plan, info: ExportInfo,
                    extra_columns: bool, json_times: bool) -> Iterator[list[str] | None]:
    """Cells per row in `columns` order; None for a row damaged into a non-row ("not-object")."""
    for row, record in enumerate(records, start=1):
        kind = plan.kind(row) if row in plan.malformed else None
        if row in plan.mangle and kind is None:
            record, column = _mangle(record, row)
            name = SENTINEL_RENAMES.get(column, column) if column else None
            if name in columns:                 # a field without a column is dropped unseen
                info.mangled[row] = name
        data = _damage_record(record, kind) if kind in ("no-id",) else record
        cells = sentinel_row(data, extra_columns=extra_columns, json_times=json_times)
        if kind == "bad-date":
            cells["TimeGenerated"] = "yesterday afternoon"
        line = [cells.get(c, "") for c in columns]
        if kind == "columns":
            line = line[:-3]
        yield None if kind == "not-object" else line
        _count(info, row, record, kind)


def _write_sentinel_csv(records: Iterable[dict], out: TextIO, plan: _Plan, info: ExportInfo,
                        extra_columns: bool, records_for_header: list[dict] | None) -> None:
    columns = _sentinel_columns(extra_columns, records_for_header)
    writer = _csv_writer(out)
    writer.writerow([f"{c} [UTC]" if c == "TimeGenerated" else c for c in columns])
    for line in _sentinel_lines(records, columns, plan, info, extra_columns, json_times=False):
        writer.writerow(line)


LA_TYPES = {"TimeGenerated": "datetime", "InternalLogonType": "int", "LoginStatus": "int",
            "DataCenterSecurityEventType": "int", "ElevationDuration": "int",
            "CrossMailboxOperations": "bool", "IsManagedDevice": "bool",
            "OperationProperties": "dynamic", "Members": "dynamic", "ExtraProperties": "dynamic"}


def _la_value(column: str, text: str) -> object:
    kind = LA_TYPES.get(column, "string")
    if kind in ("int", "bool") and text == "":
        return None
    if kind == "int":
        return int(text) if text.lstrip("-").isdigit() else text
    if kind == "bool":
        return text == "true"
    return text


def _write_la_tables(records: Iterable[dict], out: TextIO, plan: _Plan, info: ExportInfo,
                     extra_columns: bool, records_for_header: list[dict] | None) -> None:
    """A Log Analytics query answer: {"tables": [{"name", "columns", "rows"}]} with typed cells."""
    columns = _sentinel_columns(extra_columns, records_for_header)
    spec = [{"name": c, "type": LA_TYPES.get(c, "string")} for c in columns]
    out.write('{"tables":[{"name":"PrimaryResult","columns":' + compact(spec) + ',"rows":[')
    for n, line in enumerate(_sentinel_lines(records, columns, plan, info, extra_columns,
                                             json_times=True)):
        cells = f"row {n + 1} as text" if line is None else [_la_value(c, v) for c, v in zip(columns, line)]
        out.write(("," if n else "") + "\n" + compact(cells))
    out.write("\n]}]}")


def graph_record(record: dict) -> dict:
    """An auditLogRecord as the live beta API returns it (crossed user fields, annotations)."""
    data: dict = {"@odata.type": "#microsoft.graph.security.defaultAuditData"}
    for key, value in record.items():
        if key == "CreationTime" and isinstance(value, str) and not value.endswith("Z"):
            value = value + "Z"
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            data[f"{key}@odata.type"] = "#Int64"
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            data[f"{key}@odata.type"] = "#Collection(microsoft.graph.security.defaultAuditData)"
        data[key] = value
    rtype = record.get("RecordType")
    created = record.get("CreationTime")
    return {
        "id": record.get("Id"),
        "createdDateTime": (_created(record).strftime("%Y-%m-%dT%H:%M:%SZ")
                            if isinstance(created, str) and _parses(record) else created),
        "auditLogRecordType": RECORD_TYPE_NAMES.get(rtype, str(rtype)),
        "operation": record.get("Operation"),
        "organizationId": record.get("OrganizationId"),
        "userType": USER_TYPE_NAMES.get(record.get("UserType"), "Regular"),
        "userId": record.get("UserKey"),
        "service": record.get("Workload"),
        "objectId": record.get("ObjectId"),
        "userPrincipalName": record.get("UserId"),
        "clientIp": None,
        "administrativeUnits": [""],
        "auditData": data,
    }


def _parses(record: dict) -> bool:
    try:
        _created(record)
        return True
    except ValueError:
        return False


def ual_object(record: dict, row: int, total: int | None, audit_text: str | None = None) -> dict:
    """One `Search-UnifiedAuditLog` result object as PowerShell 7's ConvertTo-Json prints it."""
    created = _created(record).strftime("%Y-%m-%dT%H:%M:%S") if _parses(record) else ""
    return {"RunspaceId": RUNSPACE_ID, "RecordType": record.get("RecordType"),
            "CreationDate": created, "UserIds": record.get("UserId"),
            "Operations": record.get("Operation"),
            "AuditData": audit_text if audit_text is not None else compact(record),
            "ResultIndex": row, "ResultCount": total if total is not None else 0,
            "Identity": record.get("Id"), "IsValid": True, "ObjectState": "Unchanged"}


def _write_json(fmt: str, records: Iterable[dict], out: TextIO, plan: _Plan, info: ExportInfo,
                total: int | None, extra_columns: bool) -> None:
    if fmt == "graph-records":
        out.write('{"@odata.context":"https://graph.microsoft.com/beta/$metadata#security/'
                  'auditLog/queries(\'00000000-0000-0000-0000-000000000000\')/records","value":[')
    else:
        out.write("[")
    indent = 2 if fmt in ("ual-json", "sentinel-json") else None
    for row, record in enumerate(records, start=1):
        kind = plan.kind(row) if row in plan.malformed else None
        if row in plan.mangle and kind is None:
            record, column = _mangle(record, row)
            name = SENTINEL_RENAMES.get(column, column) if column else None
            dropped = fmt == "sentinel-json" and name not in SENTINEL_COLUMNS and not extra_columns
            if column and not dropped:
                info.mangled[row] = f"AuditData.{column}" if fmt == "ual-json" else column
        data = _damage_record(record, kind) if kind in ("no-id", "bad-date") else record
        element: object
        if kind == "not-object":
            element = f"row {row} as text"
        elif fmt == "ual-json":
            text = compact(data)
            element = ual_object(data, row, total, text[: len(text) // 2] if kind == "bad-json" else text)
        elif fmt == "mgmt-blob":
            element = data
        elif fmt == "graph-records":
            element = graph_record(data)
        else:
            element = sentinel_row(record if kind == "bad-date" else data,
                                   extra_columns=extra_columns, json_times=True)
            if kind == "bad-date":
                element["TimeGenerated"] = "yesterday afternoon"
        if row > 1:
            out.write(",")
        out.write("\n" if indent else "")
        out.write(json.dumps(element, indent=indent, ensure_ascii=False))
        _count(info, row, record, kind)
    out.write("\n]" if indent else "]")
    if fmt == "graph-records":
        out.write("}")


def stringly_record(record: dict) -> dict:
    """The record with each nested field (a list or object) replaced by its compact JSON text."""
    return {k: compact(v) if k in NESTED_FIELDS and isinstance(v, (list, dict)) else v
            for k, v in record.items()}


# Defender XDR advanced hunting CloudAppEvents, as exported from the portal's results grid
# (column names from the table's published schema): audit activity evkit does not read as
# audit records. Tests use it as a client export in no format evkit knows.
CLOUDAPPEVENTS_HEADER = ["Timestamp", "ActionType", "Application", "ApplicationId", "AccountObjectId",
                         "AccountDisplayName", "IPAddress", "UserAgent", "ActivityType",
                         "ObjectName", "ReportId", "RawEventData"]


def write_cloudappevents(records: Iterable[dict], path: Path) -> ExportInfo:
    """Write `records` as a Defender CloudAppEvents CSV export (Exchange Online activity)."""
    info = ExportInfo(path=Path(path), fmt="cloudappevents", encoding="utf-8")
    with _open(Path(path), "utf-8") as out:
        writer = _csv_writer(out)
        writer.writerow(CLOUDAPPEVENTS_HEADER)
        for row, record in enumerate(records, start=1):
            writer.writerow([_created(record).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), record.get("Operation", ""),
                             "Microsoft Exchange Online", "20893", record.get("UserKey", ""),
                             record.get("UserId", ""), record.get("ClientIPAddress", ""),
                             record.get("ClientInfoString", ""), "Read", "", record.get("Id", ""),
                             compact(record)])
            _count(info, row, record, None)
    return info


def write_export(records: Iterable[dict], path: Path, fmt: str, *, encoding: str = "utf-8",
                 malformed: Iterable[int] = (), mangle: Iterable[int] = (),
                 extra_columns: bool = False, la_tables: bool = False,
                 stringly: bool = False) -> ExportInfo:
    """Write `records` to `path` as export `fmt`; rows in `malformed` are damaged (the kind
    rotates per format), rows in `mangle` get one nested field PowerShell-mangled.

    `stringly` writes every nested field (Folders, OperationProperties, ...) as JSON text, as
    SIEM pipelines that flatten records to strings hand them back.

    `extra_columns` (Sentinel only) adds columns for record fields the published
    OfficeActivity schema lacks; without it those fields are dropped, as the connector does.
    `la_tables` (sentinel-json only) writes the Log Analytics query API's answer
    (`{"tables": [{"columns", "rows"}]}`) instead of an array of row objects.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}")
    path = Path(path)
    total = len(records) if hasattr(records, "__len__") else None  # type: ignore[arg-type]
    if stringly:
        records = (stringly_record(r) for r in records)
    kinds_key = {"purview-csv": "auditdata-csv", "purview-csv-classic": "auditdata-csv",
                 "ual-csv": "auditdata-csv", "sentinel-csv": "sentinel-csv",
                 "ual-json": "ual-json"}.get(fmt, "json")
    plan = _Plan(frozenset(malformed), frozenset(mangle), MALFORMED_KINDS[kinds_key])
    info = ExportInfo(path=path, fmt=fmt, encoding=encoding)
    tables = la_tables and fmt == "sentinel-json"
    header_sample = list(records) if ((fmt == "sentinel-csv" or tables) and extra_columns) else None
    if header_sample is not None:
        records = header_sample
    with _open(path, encoding) as out:
        if fmt in ("purview-csv", "purview-csv-classic", "ual-csv"):
            _write_auditdata_csv(fmt, records, out, plan, info, total)
        elif fmt == "sentinel-csv":
            _write_sentinel_csv(records, out, plan, info, extra_columns, header_sample)
        elif tables:
            _write_la_tables(records, out, plan, info, extra_columns, header_sample)
        else:
            _write_json(fmt, records, out, plan, info, total, extra_columns)
    return info


# ---------------------------------------------------------------- records to export

def sample_records() -> list[dict]:
    """A few hand-written records shaped like real ones (Bind, Sync, throttled Graph Bind, Send,
    inbox rule, sign-in), for tests that need no scenario."""
    org = "8f4a1c62-77d3-4b0e-9a55-2c1de9f80b31"
    common = {"OrganizationId": org, "ResultStatus": "Succeeded", "UserKey": "10032000ABCDEF12",
              "UserType": 0, "Version": 1, "Workload": "Exchange", "UserId": "alice@contoso.com"}
    mbx = {"MailboxGuid": "bd6abed2-5d3b-4206-aada-31ca71605e63",
           "MailboxOwnerUPN": "alice@contoso.com", "ExternalAccess": False,
           "InternalLogonType": 0, "LogonType": 0, "OrganizationName": "contoso.onmicrosoft.com"}
    return [
        {"CreationTime": "2024-03-12T14:02:11", "Id": "6f1b3a52-9c1e-4e7b-9d3a-0a1b2c3d4e5f",
         "Operation": "MailItemsAccessed", "RecordType": 50, **common, **mbx,
         "AppId": "00000002-0000-0ff1-ce00-000000000000", "ClientIPAddress": "203.0.113.10",
         "ClientInfoString": "Client=OWA;Action=ViaProxy",
         "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"},
                                 {"Name": "IsThrottled", "Value": "False"}],
         "OriginatingServer": "AM0PR01MB1234 (15.20.7409.000)\r\n",
         "SessionId": "e01c84f0-8db1-439e-87bc-5ee52fdf90d4",
         "Folders": [{"Id": "LgAAAAALcWhVmnTeRJS8qp8HxA25AQC/yWJ3KK0XQJ7UyikjUZtEAAAAAAEMAAAB",
                      "Path": "\\Inbox",
                      "FolderItems": [{"InternetMessageId": "<a1b2c3@mail.fabrikam.com>"},
                                      {"InternetMessageId": "<d4e5f6@mail.fabrikam.com>",
                                       "SizeInBytes": 48211}]}],
         "OperationCount": 2},
        {"CreationTime": "2024-03-12T14:05:40", "Id": "0b5c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
         "Operation": "MailItemsAccessed", "RecordType": 50, **common, **mbx,
         "ClientIPAddress": "198.51.100.77", "ClientInfoString": "Client=MSExchangeRPC",
         "OperationProperties": [{"Name": "MailAccessType", "Value": "Sync"},
                                 {"Name": "IsThrottled", "Value": "False"}],
         "SessionId": "7a0c2f11-3d4e-4f50-9a61-b2c3d4e5f607",
         "Folders": [{"Id": "LgAAAAALcWhVmnTeRJS8qp8HxA25AQC/yWJ3KK0XQJ7UyikjUZtEAAAAAAEMAAAB",
                      "Path": "\\Inbox"}], "OperationCount": 1},
        {"CreationTime": "2024-03-12T15:31:02", "Id": "93e2f4c1-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
         "Operation": "MailItemsAccessed", "RecordType": 50, **common, **mbx,
         "AppId": "00000003-0000-0000-c000-000000000000",
         "ClientAppId": "4f2c9d8e-1111-2222-3333-444455556666",
         "AppAccessContext": {"ClientAppId": "4f2c9d8e-1111-2222-3333-444455556666",
                              "ClientAppName": "Mail Sync Tool",
                              "AADSessionId": "009ce429-40c2-14b7-a6c2-73f53f4e8d22",
                              "UniqueTokenId": "aBcDeFgHiJkLmNoPqRsTuV",
                              "IssuedAtTime": "2024-03-12T15:20:44"},
         "ClientIPAddress": "192.0.2.200", "ClientInfoString": "Client=REST;Client=RESTSystem;;",
         "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"},
                                 {"Name": "IsThrottled", "Value": "True"}],
         "Folders": [{"Id": "LgAAAAALcWhVmnTeRJS8qp8HxA25AQC/yWJ3KK0XQJ7UyikjUZtEAAAAAAEMAAAB",
                      "Path": "\\Inbox", "FolderItems": [{"InternetMessageId": "<x1@fabrikam.com>"}]}],
         "OperationCount": 1},
        {"CreationTime": "2024-03-12T15:40:09", "Id": "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
         "Operation": "Send", "RecordType": 2, **common, **mbx, "ClientIP": "192.0.2.200",
         "ClientIPAddress": "192.0.2.200", "SessionId": "c3d4e5f6-0718-4a29-b3c4-d5e6f7a8b9c0",
         "Item": {"Id": "Unknown", "InternetMessageId": "<AM0PR01MB9999@eurprd01.prod.outlook.com>",
                  "ParentFolder": {"Id": "LgAAAAALcWhVmnTeRJS8qp8HxA25AQC/yWJ3KK0XQJ7UyikjUZtEAAAAAAEPAAAB",
                                   "Path": "\\Drafts"},
                  "SizeInBytes": 3991, "Subject": "Updated bank details — urgent"}},
        {"CreationTime": "2024-03-12T15:33:47", "Id": "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a",
         "Operation": "New-InboxRule", "RecordType": 1, **common, "ClientIP": "192.0.2.200:51234",
         "ObjectId": "alice@contoso.com\\.", "OrganizationName": "contoso.onmicrosoft.com",
         "ExternalAccess": False, "OriginatingServer": "AM0PR01MB1234 (15.20.7409.000)",
         "Parameters": [{"Name": "Name", "Value": "."},
                        {"Name": "MoveToFolder", "Value": "RSS Feeds"},
                        {"Name": "SubjectContainsWords", "Value": "invoice;payment"}]},
        {"CreationTime": "2024-03-12T15:20:44", "Id": "d87d2977-96b6-4c65-aa44-032f7e314400",
         "Operation": "UserLoggedIn", "RecordType": 15, "OrganizationId": org,
         "ResultStatus": "Success", "UserKey": "bbcfc3c5-0000-4000-8000-000000000001",
         "UserType": 0, "Version": 1, "Workload": "AzureActiveDirectory",
         "ClientIP": "192.0.2.200", "UserId": "alice@contoso.com",
         "ObjectId": "00000002-0000-0ff1-ce00-000000000000", "AzureActiveDirectoryEventType": 1,
         "ExtendedProperties": [{"Name": "UserAgent", "Value": "python-requests/2.31.0"},
                                {"Name": "RequestType", "Value": "OAuth2:Token"}],
         "ActorIpAddress": "192.0.2.200", "ApplicationId": "4f2c9d8e-1111-2222-3333-444455556666",
         "DeviceProperties": [{"Name": "SessionId", "Value": "009ce429-40c2-14b7-a6c2-73f53f4e8d22"}],
         "ErrorNumber": "0"},
    ]


def scenario_records(name: str, seed: int, window: str = "all") -> Iterator[dict]:
    """Records of an emulator scenario, oldest first: its whole window ("all") or only the
    incident window ("incident")."""
    from evkit.emulator.scenarios import build_scenario  # noqa: PLC0415 - this module stays stdlib-only unless scenarios are asked for
    with tempfile.TemporaryDirectory() as workdir:
        scenario = build_scenario(name, seed, Path(workdir))
        start, end = scenario.incident_window if window == "incident" else (scenario.start, scenario.end)
        yield from scenario.records(start, end)


def _row_numbers(text: str) -> set[int]:
    rows = {int(part) for part in text.split(",") if part.strip()}
    if any(r < 1 for r in rows):
        raise ValueError("row numbers start at 1")
    return rows


def main(argv: list[str] | None = None, *,
         source: Callable[[str, int, str], Iterable[dict]] | None = None) -> int:
    """`python -m evkit.emulator.exports`: one file per format under --out; exit 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m evkit.emulator.exports",
                                     description="Write client-side exports of a scenario's audit records.")
    parser.add_argument("--scenario", default="bec-basic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--formats", default="purview-csv,sentinel-csv",
                        help=f"comma-separated, from: {', '.join(FORMATS)}")
    parser.add_argument("--encoding", default="utf-8", choices=ENCODINGS)
    parser.add_argument("--operations", default="",
                        help="comma-separated operations to keep (default: all)")
    parser.add_argument("--users", default="",
                        help="comma-separated accounts: keep records whose UserId or "
                             "MailboxOwnerUPN is one of them (default: all)")
    parser.add_argument("--window", default="all", choices=("all", "incident"),
                        help="the scenario's whole window or only its incident window")
    parser.add_argument("--limit", type=int, default=0, help="keep at most this many records")
    parser.add_argument("--malformed", default="", help="comma-separated row numbers to damage")
    parser.add_argument("--mangle", default="",
                        help="comma-separated row numbers whose nested field PowerShell mangles")
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        print(f"exports: unknown format {bad[0]!r}; choose from {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    keep = {o.strip() for o in args.operations.split(",") if o.strip()}
    try:
        malformed = _row_numbers(args.malformed)
        mangle = _row_numbers(args.mangle)
    except ValueError:
        print("exports: --malformed and --mangle take row numbers like 3,17", file=sys.stderr)
        return 2
    try:
        records = list((source or scenario_records)(args.scenario, args.seed, args.window))
    except EmulatorError as exc:     # unknown scenario, bad seed: one line, no traceback
        print(f"exports: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    records.sort(key=lambda r: (str(r.get("CreationTime")), str(r.get("Id"))))
    if keep:
        records = [r for r in records if r.get("Operation") in keep]
    users = {u.strip().lower() for u in args.users.split(",") if u.strip()}
    if users:
        records = [r for r in records
                   if str(r.get("UserId", "")).lower() in users
                   or str(r.get("MailboxOwnerUPN", "")).lower() in users]
    if args.limit:
        records = records[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = args.out / f"{args.scenario}-{fmt}{SUFFIX[fmt]}"
        info = write_export(records, path, fmt, encoding=args.encoding, malformed=malformed,
                            mangle=mangle)
        damage = ""
        if info.malformed or info.mangled:
            damage = (f"; malformed rows {sorted(info.malformed)}, mangled "
                      f"{', '.join(f'row {r} {c}' for r, c in sorted(info.mangled.items())) or 'none'}")
        print(f"{path}: {info.rows} rows ({fmt}, {args.encoding}){damage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
