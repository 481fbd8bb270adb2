"""Synthetic tenant objects shaped like the Exchange Online and Graph answers (m365-apis 5.2, 6.2).

Shared by the coverage, readiness and config-evidence tests; no real tenant data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from report.config_evidence import EXPECTED_PIECES, TenantConfig
from report.coverage import DEFAULT_ACTIONS
from report.licensing import PREMIUM_PLAN_ID, PREMIUM_SKUS, STANDARD_SKUS

SNAPSHOT = datetime(2024, 11, 1, tzinfo=timezone.utc)
E5 = {"skuId": PREMIUM_SKUS["SPE_E5"], "skuPartNumber": "SPE_E5",
      "servicePlans": [{"servicePlanId": PREMIUM_PLAN_ID, "servicePlanName": "M365_ADVANCED_AUDITING",
                        "provisioningStatus": "Success", "appliesTo": "User"}]}
E3 = {"skuId": STANDARD_SKUS["SPE_E3"], "skuPartNumber": "SPE_E3",
      "servicePlans": [{"servicePlanId": "f6de4823-28fa-440b-b886-4783fa86ddba",
                        "servicePlanName": "M365_AUDIT_PLATFORM", "provisioningStatus": "Success"}]}


def mailbox(upn: str, *, kind: str = "UserMailbox", default_set: tuple[str, ...] = ("Admin", "Delegate", "Owner"),
            owner: set[str] | None = None, delegate: set[str] | None = None,
            admin: set[str] | None = None, age: str = "90.00:00:00", **extra: Any) -> dict[str, Any]:
    """A Get-Mailbox row; unspecified audit lists are Microsoft's defaults."""
    row = {
        "UserPrincipalName": upn, "PrimarySmtpAddress": upn, "Alias": upn.split("@")[0],
        "Name": upn.split("@")[0], "DisplayName": upn.split("@")[0].title(),
        "RecipientTypeDetails": kind, "AuditEnabled": True, "AuditLogAgeLimit": age,
        "DefaultAuditSet": list(default_set),
        "AuditOwner": sorted(owner if owner is not None else DEFAULT_ACTIONS["owner"]),
        "AuditDelegate": sorted(delegate if delegate is not None else DEFAULT_ACTIONS["delegate"]),
        "AuditAdmin": sorted(admin if admin is not None else DEFAULT_ACTIONS["admin"]),
    }
    row.update(extra)
    return row


def with_sqi(upn: str, **kw: Any) -> dict[str, Any]:
    """A mailbox where SearchQueryInitiated was added to the owner set (owner customised)."""
    return mailbox(upn, default_set=("Admin", "Delegate"),
                   owner=set(DEFAULT_ACTIONS["owner"]) | {"SearchQueryInitiated"}, **kw)


def tenant(mailboxes: list[dict[str, Any]], *, licences: dict[str, list[dict[str, Any]]] | None = None,
           audit_disabled: bool = False, ingestion: bool = True,
           bypass: tuple[str, ...] = (), present: tuple[str, ...] = EXPECTED_PIECES,
           snapshot: datetime = SNAPSHOT) -> TenantConfig:
    lic = licences if licences is not None else {m["UserPrincipalName"].lower(): [E5] for m in mailboxes}
    return TenantConfig(
        org_config={"AuditDisabled": audit_disabled, "Name": "contoso"},
        admin_audit_log_config={"UnifiedAuditLogIngestionEnabled": ingestion, "AdminAuditLogEnabled": True},
        mailboxes=tuple(mailboxes),
        bypass_associations=tuple({"Name": n, "Identity": n, "AuditBypassEnabled": True} for n in bypass)
        + ({"Name": "svc-backup", "Identity": "svc-backup", "AuditBypassEnabled": False},),
        subscribed_skus=(dict(E5, consumedUnits=3, prepaidUnits={"enabled": 5}),),
        users=tuple({"id": f"id-{u}", "userPrincipalName": u} for u in lic),
        license_details=lic,
        present=frozenset(present),
        snapshot_utc=snapshot,
    )


def record(op: str, when: str, params: dict[str, str], *, object_id: str = "", rid: str = "") -> dict[str, Any]:
    """A classic-schema ExchangeAdmin record (RecordType 1) for a cmdlet run."""
    return {"Id": rid or f"{op}-{when}-{object_id}", "CreationTime": when, "Operation": op,
            "RecordType": 1, "UserId": "admin@contoso.com", "ObjectId": object_id, "ResultStatus": "True",
            "Parameters": [{"Name": k, "Value": v} for k, v in params.items()]}
