"""Microsoft Sentinel `OfficeActivity` rows back to classic AuditData records.

The Sentinel connector flattens each audit record into table columns: a few are renamed
(`OfficeId`, `OfficeWorkload`, `Client_IPAddress`, `Logon_Type`...), enums become names
(`RecordType` "ExchangeItemAggregated", `UserType` "Regular"), nested values become JSON
text (`Folders`, `OperationProperties`, `Item`), every column exists on every row (empty when
the record had no such field) and Log Analytics adds bookkeeping columns. This module undoes
what can be undone; fields the table never carried cannot be recovered (the README says so).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable

from evkit.evidence.formats.depth import loads

# Column (as exported) -> classic AuditData field.
RENAMED = {
    "OfficeId": "Id",
    "TimeGenerated": "CreationTime",
    "OfficeWorkload": "Workload",
    "OfficeObjectId": "ObjectId",
    "Client_IPAddress": "ClientIPAddress",
    "Logon_Type": "LogonType",
    "AzureActiveDirectory_EventType": "AzureActiveDirectoryEventType",
    "SendonBehalfOfUserMailboxGuid": "SendOnBehalfOfUserMailboxGuid",
    "Site_": "Site",
    "Site_Url": "SiteUrl",
}
# Log Analytics' own columns: about the workspace, not about the audited activity.
BOOKKEEPING = frozenset({"TenantId", "SourceSystem", "Type", "MG", "ManagementGroupName",
                         "Computer", "RawEventData"})
# Columns that mark a file as OfficeActivity.
MARKERS = frozenset({"OfficeId", "OfficeWorkload"})

RECORD_TYPES = {
    "ExchangeAdmin": 1, "ExchangeItem": 2, "ExchangeItemGroup": 3, "SharePoint": 4,
    "SharePointFileOperation": 6, "OneDrive": 7, "AzureActiveDirectory": 8,
    "AzureActiveDirectoryAccountLogon": 9, "DataCenterSecurityCmdlet": 10,
    "ComplianceDLPSharePoint": 11, "ComplianceDLPExchange": 13,
    "SharePointSharingOperation": 14, "AzureActiveDirectoryStsLogon": 15,
    "SkypeForBusinessPSTNUsage": 16, "SkypeForBusinessUsersBlocked": 17,
    "SecurityComplianceCenterEOPCmdlet": 18, "ExchangeAggregatedOperation": 19,
    "PowerBIAudit": 20, "CRM": 21, "Yammer": 22, "SkypeForBusinessCmdlets": 23,
    "Discovery": 24, "MicrosoftTeams": 25, "ThreatIntelligence": 28,
    "ExchangeItemAggregated": 50, "DataInsightsRestApiAudit": 52,
    "ExchangeSearch": 101, "SharePointSearch": 102, "OWAAuth": 275,
}
USER_TYPES = {
    "Regular": 0, "Reserved": 1, "Admin": 2, "DcAdmin": 3, "System": 4, "Application": 5,
    "ServicePrincipal": 6, "CustomPolicy": 7, "SystemPolicy": 8, "PartnerTechnician": 9,
    "Guest": 10,
}
LOGON_TYPES = {
    "Owner": 0, "Admin": 1, "Delegated": 2, "Delegate": 2, "Transport": 3, "SystemService": 4,
    "BestAccess": 5, "DelegatedAdmin": 6,
}
_ENUMS = {"RecordType": RECORD_TYPES, "UserType": USER_TYPES, "LogonType": LOGON_TYPES}
_INTS = frozenset({"InternalLogonType", "AzureActiveDirectoryEventType", "LoginStatus",
                   "DataCenterSecurityEventType", "ElevationDuration"})
_BOOLS = frozenset({"ExternalAccess", "CrossMailboxOperations", "IsManagedDevice"})
# Every column of the published OfficeActivity schema; anything else was added by an export
# tool or a custom table, and is read as JSON text when it looks like JSON.
DOCUMENTED = frozenset([
    "AADGroupId", "AADTarget", "Activity", "Actor", "ActorContextId", "ActorIpAddress", "AddOnGuid",
    "AddonName", "AddOnType", "AffectedItems", "AppDistributionMode", "AppId", "Application",
    "ApplicationId", "AzureActiveDirectory_EventType", "AzureADAppId", "ChannelGuid", "ChannelName",
    "ChannelType", "ChatName", "ChatThreadId", "Client", "Client_IPAddress", "ClientAppId",
    "ClientInfoString", "ClientIP", "ClientMachineName", "ClientProcessName", "ClientVersion",
    "CommunicationType", "CrossMailboxOperations", "CustomEvent", "DataCenterSecurityEventType",
    "DestFolder", "DestinationFileExtension", "DestinationFileName", "DestinationRelativeUrl",
    "DestMailboxId", "DestMailboxOwnerMasterAccountSid", "DestMailboxOwnerSid", "DestMailboxOwnerUPN",
    "EffectiveOrganization", "ElevationApprovedTime", "ElevationApprover", "ElevationDuration",
    "ElevationRequestId", "ElevationRole", "ElevationTime", "Event_Data", "EventSource",
    "ExtendedProperties", "ExternalAccess", "ExtraProperties", "Folder", "Folders", "GenericInfo",
    "InternalLogonType", "InterSystemsId", "IntraSystemId", "IsManagedDevice", "Item", "ItemName",
    "ItemType", "LoginStatus", "Logon_Type", "LogonUserDisplayName", "LogonUserSid", "MachineDomainInfo",
    "MachineId", "MailboxGuid", "MailboxOwnerMasterAccountSid", "MailboxOwnerSid", "MailboxOwnerUPN",
    "Members", "MessageId", "ModifiedObjectResolvedName", "ModifiedProperties", "Name", "NewValue",
    "OfficeId", "OfficeObjectId", "OfficeTenantId", "OfficeWorkload", "OldValue", "Operation",
    "OperationProperties", "OperationScope", "OrganizationId", "OrganizationName", "OriginatingServer",
    "Parameters", "RecordType", "ResultReasonType", "ResultStatus", "SendAsUserMailboxGuid",
    "SendAsUserSmtp", "SendonBehalfOfUserMailboxGuid", "SendOnBehalfOfUserSmtp", "SharingType", "Site_",
    "Site_Url", "Source_Name", "SourceFileExtension", "SourceFileName", "SourceRecordId",
    "SourceRelativeUrl", "SourceSystem", "SRPolicyId", "SRPolicyName", "SRRuleMatchDetails", "Start_Time",
    "SupportTicketId", "TabType", "TargetContextId", "TargetUserId", "TargetUserOrGroupName",
    "TargetUserOrGroupType", "TeamGuid", "TeamName", "TenantId", "TimeGenerated", "Type", "UserAgent",
    "UserDomain", "UserId", "UserKey", "UserSharedWith", "UserType",
])


def column_name(header: str) -> tuple[str, str | None]:
    """`TimeGenerated [UTC]` -> ("TimeGenerated", "UTC"); plain names have no suffix."""
    text = header.strip()
    if text.endswith("]") and " [" in text:
        name, _, suffix = text.rpartition(" [")
        return name.strip(), suffix[:-1].strip()
    return text, None


def _json_text(value: str) -> object:
    text = value.strip()
    if text[:1] in "[{":
        try:
            return loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _extra_value(value: str) -> object:
    """Undocumented columns: JSON literals (numbers, booleans, arrays, objects) become values."""
    text = value.strip()
    if text[:1] in '[{"-0123456789tfn':
        try:
            return loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _enum(table: dict[str, int]) -> Callable[[str], object]:
    def convert(value: str) -> object:
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        return table.get(text, value)
    return convert


def _int(value: str) -> object:
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else value


def _bool(value: str) -> object:
    text = value.strip().lower()
    return text == "true" if text in ("true", "false") else value


@lru_cache(maxsize=1024)
def converter(field: str, column: str) -> Callable[[str], object]:
    """How a text cell of `column` (classic name `field`) becomes the classic value."""
    if field in _ENUMS:
        return _enum(_ENUMS[field])
    if field in _INTS:
        return _int
    if field in _BOOLS:
        return _bool
    if column in DOCUMENTED or column in RENAMED:
        return _json_text
    return _extra_value


def _finish(record: dict[str, Any], tenant: object) -> dict[str, Any]:
    if tenant is not None and "OrganizationId" not in record:
        record["OrganizationId"] = tenant
    return record


def to_classic(columns: dict[str, object]) -> dict[str, Any]:
    """One OfficeActivity row ({column: cell}) as a classic record; empty cells are absent fields."""
    record: dict[str, Any] = {}
    tenant = None
    for column, value in columns.items():
        if value is None or value == "" or column in BOOKKEEPING or column.startswith("_"):
            continue
        if column == "OfficeTenantId":
            tenant = value
            continue
        field = RENAMED.get(column, column)
        record[field] = converter(field, column)(value) if isinstance(value, str) else value
    return _finish(record, tenant)


class RowMapper:
    """to_classic for CSV rows sharing one header: the per-column work is done once."""

    def __init__(self, names: list[str]) -> None:
        self.tenant_index = names.index("OfficeTenantId") if "OfficeTenantId" in names else None
        self.plan = [(i, RENAMED.get(c, c), converter(RENAMED.get(c, c), c))
                     for i, c in enumerate(names)
                     if c not in BOOKKEEPING and not c.startswith("_") and c != "OfficeTenantId"]

    def convert(self, cells: list[str]) -> dict[str, Any]:
        record = {field: conv(cells[i]) for i, field, conv in self.plan if cells[i] != ""}
        tenant = cells[self.tenant_index] if self.tenant_index is not None else ""
        return _finish(record, tenant or None)
