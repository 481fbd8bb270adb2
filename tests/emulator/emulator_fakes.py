"""A small, fully predictable scenario object with the attributes emulator.scenarios provides,
so the contract tests control their data (counts, ties, sizes) exactly.

Records come in pairs sharing one CreationTime every 20 seconds (8,640 a day), generated from
their index on demand, so a 10-day window costs no memory."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

UTC = dt.timezone.utc
START = dt.datetime(2026, 6, 20, tzinfo=UTC)
END = dt.datetime(2026, 6, 30, tzinfo=UTC)
STEP = dt.timedelta(seconds=20)
TENANT = "4b8c18bd-0d5e-4bb0-9d8c-2a7c6f5e1a01"
DOMAIN = "contoso.onmicrosoft.com"
USERS = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com", "finance@contoso.onmicrosoft.com"]
KINDS = [  # (Operation, RecordType, Workload)
    ("MailItemsAccessed", 50, "Exchange"),
    ("UserLoggedIn", 15, "AzureActiveDirectory"),
    ("Send", 2, "Exchange"),
    ("FileAccessed", 6, "SharePoint"),
    ("MailboxLogin", 2, "Exchange"),
]
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
ADV_AUDIT = "2f442157-a11c-46b9-ae5b-6e39ff4e5849"
N_FILLER_MAILBOXES = 1200
N_GRAPH_USERS = 250


def total_records() -> int:
    return int((END - START) / STEP) * 2


def index_at(t: dt.datetime) -> int:
    """Index of the first record with CreationTime >= t."""
    if t <= START:
        return 0
    steps = -(-(t - START) // STEP)  # ceil
    return min(total_records(), int(steps) * 2)


def make_record(i: int) -> dict[str, Any]:
    op, rt, workload = KINDS[i % len(KINDS)]
    user = USERS[i % len(USERS)]
    t = START + STEP * (i // 2)
    record: dict[str, Any] = {
        "CreationTime": t.strftime("%Y-%m-%dT%H:%M:%S"), "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"rec{i}")),
        "Operation": op, "OrganizationId": TENANT, "RecordType": rt, "ResultStatus": "Succeeded",
        "UserKey": f"1003200{i % len(USERS)}000C4421", "UserType": 0, "Version": 1, "Workload": workload,
        "ClientIP": f"203.0.113.{i % 7}", "UserId": user,
    }
    if op == "MailItemsAccessed":
        record["MailboxOwnerUPN"] = user
        record["OperationProperties"] = [{"Name": "MailAccessType", "Value": "Bind"}]
        record["Folders"] = [{"FolderItems": [{"InternetMessageId": f"<m{i}@contoso.com>"}],
                              "Path": "\\Inbox"}]
    return record


class FakeScenario:
    name = "fake"
    seed = 7
    tenant_id = TENANT
    tenant_domain = DOMAIN
    start = START
    end = END

    def __init__(self) -> None:
        self.org_config = {"Name": "contoso", "AuditDisabled": False, "Identity": "contoso.onmicrosoft.com"}
        self.admin_audit_log_config = {
            "AdminAuditLogEnabled": True, "UnifiedAuditLogIngestionEnabled": True,
            "UnifiedAuditLogFirstOptInDate@data.type": "System.DateTime",
            "UnifiedAuditLogFirstOptInDate": "2025-11-13T22:13:46.2485587Z",
            "Name": "Admin Audit Log Settings", "Identity": "Admin Audit Log Settings"}
        audit = ["Update", "MoveToDeletedItems", "SoftDelete", "HardDelete", "MailItemsAccessed", "Send"]
        self.mailboxes: list[dict[str, Any]] = []
        for upn in USERS:
            self.mailboxes.append({
                "Identity": str(uuid.uuid5(uuid.NAMESPACE_URL, upn)), "Name": upn.split("@")[0],
                "UserPrincipalName": upn, "PrimarySmtpAddress": upn, "Alias": upn.split("@")[0],
                "ExternalDirectoryObjectId": str(uuid.uuid5(uuid.NAMESPACE_URL, upn)),
                "RecipientTypeDetails": "SharedMailbox" if upn.startswith("finance") else "UserMailbox",
                "AuditEnabled": True, "AuditLogAgeLimit": "90.00:00:00", "AuditOwner": audit,
                "AuditDelegate": audit, "AuditAdmin": audit, "DefaultAuditSet": ["Admin", "Delegate", "Owner"],
                "EmailAddresses": [f"SMTP:{upn}"], "ProhibitSendQuota": "99 GB (106,300,440,576 bytes)"})
        for n in range(N_FILLER_MAILBOXES):
            upn = f"user{n:04d}@{DOMAIN}"
            self.mailboxes.append({"Identity": upn, "Name": f"user{n:04d}", "UserPrincipalName": upn,
                                   "PrimarySmtpAddress": upn, "RecipientTypeDetails": "UserMailbox",
                                   "AuditEnabled": True, "DefaultAuditSet": ["Admin", "Delegate", "Owner"]})
        self.bypass_associations = [{"Name": "bob", "Identity": "bob", "AuditBypassEnabled": True}]
        self.users = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"user{n}")),
                       "userPrincipalName": USERS[n] if n < len(USERS) else f"user{n:04d}@{DOMAIN}",
                       "assignedLicenses": [{"skuId": E5, "disabledPlans": []}],
                       "assignedPlans": [{"assignedDateTime": "2025-01-01T00:00:00Z", "capabilityStatus": "Enabled",
                                          "service": "M365AuditPlatform", "servicePlanId": ADV_AUDIT}]}
                      for n in range(N_GRAPH_USERS)]
        self.subscribed_skus = [{"id": f"{TENANT}_{E5}", "skuId": E5, "skuPartNumber": "SPE_E5",
                                 "capabilityStatus": "Enabled", "consumedUnits": 3,
                                 "servicePlans": [{"servicePlanId": ADV_AUDIT,
                                                   "servicePlanName": "M365_ADVANCED_AUDITING",
                                                   "provisioningStatus": "Success", "appliesTo": "User"}]}]

    def folder_statistics(self, upn: str) -> list[dict[str, Any]]:
        return [{"Name": "Inbox", "FolderPath": "/Inbox", "ItemsInFolder": 412},
                {"Name": "Archive", "FolderPath": "/Archive", "ItemsInFolder": 1003}]

    def license_details(self, user: str) -> list[dict[str, Any]]:
        return [{"id": "3RnS3Gi8m0u_C0ozp5a-NWAn38eBLPdOtXhbU5K1cd8", "skuId": E5, "skuPartNumber": "SPE_E5",
                 "servicePlans": self.subscribed_skus[0]["servicePlans"]}]

    def records(self, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        for i in range(index_at(start), index_at(end)):
            yield make_record(i)

    def count(self, start: dt.datetime, end: dt.datetime) -> int:
        return max(0, index_at(end) - index_at(start))


def expected(start: dt.datetime, end: dt.datetime, keep=lambda r: True) -> list[dict[str, Any]]:
    return [r for r in FakeScenario().records(start, end) if keep(r)]


