"""Synthetic tenant objects shaped like the Exchange Online and Graph answers (docs/microsoft-365.md §5.1, §6.2).

Shared by the coverage, readiness and config-evidence tests; no real tenant data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from evkit.report.coverage.config_evidence import EXPECTED_PIECES, TenantConfig
from evkit.report.coverage.assess import DEFAULT_ACTIONS
from evkit.report.coverage.licensing import PREMIUM_PLAN_ID, PREMIUM_SKUS, STANDARD_SKUS

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


# ---------------------------------------------------------------- sealed readiness bundles

def _envelope(rows: list[dict[str, Any]]) -> bytes:
    import json
    return json.dumps({"@odata.context": "https://outlook.office365.com/adminapi/beta/t/$metadata#Collection",
                       "@adminapi.warnings": [], "value": rows}, separators=(",", ":")).encode()


def _graph(rows: list[dict[str, Any]]) -> bytes:
    import json
    return json.dumps({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x", "value": rows},
                      separators=(",", ":")).encode()


def config_pages(*, org: dict[str, Any] | None, admin: dict[str, Any] | None, mailboxes: list[dict[str, Any]],
                 bypass: list[dict[str, Any]], folders: dict[str, list[dict[str, Any]]],
                 users: list[dict[str, Any]], skus: list[dict[str, Any]],
                 licence_details: dict[str, list[dict[str, Any]]], omit: tuple[str, ...] = (),
                 failed: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Raw config/licences pages with sidecars as the collector stores them (evidence-layout).

    `omit` leaves a piece out (by kind); `failed` stores it as a 403 answer instead.
    """
    from bundlekit import page_files

    def safe(name: str) -> str:
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)

    pieces: list[tuple[str, str, str, bytes, dict[str, Any]]] = []
    for cmdlet, rows in (("Get-OrganizationConfig", [org] if org else []),
                         ("Get-AdminAuditLogConfig", [admin] if admin else []),
                         ("Get-Mailbox", mailboxes), ("Get-MailboxAuditBypassAssociation", bypass)):
        pieces.append(("config", f"config.{cmdlet}", cmdlet, _envelope(rows), {"cmdlet": cmdlet}))
    for mbx, rows in folders.items():
        pieces.append(("config", "config.Get-MailboxFolderStatistics",
                       f"Get-MailboxFolderStatistics/{safe(mbx)}", _envelope(rows),
                       {"cmdlet": "Get-MailboxFolderStatistics", "mailbox": mbx}))
    pieces.append(("licences", "licences.subscribedSkus", "subscribedSkus", _graph(skus), {}))
    pieces.append(("licences", "licences.users", "users", _graph(users), {}))
    for upn, rows in licence_details.items():
        pieces.append(("licences", "licences.licenseDetails", f"licenseDetails/{safe(upn)}", _graph(rows),
                       {"user": upn}))
    files: dict[str, bytes] = {}
    for source, kind, unit, body, context in pieces:
        if kind in omit:
            continue
        if kind in failed:
            files.update(page_files(unit, "p000001", b"\x00" * 8, kind=kind, status=403, source=source,
                                    context=context))
            continue
        files.update(page_files(unit, "p000001", body, kind=kind, source=source, context=context))
    return files


def write_readiness_bundle(root, files: dict[str, bytes], *, key, tenant_domain: str = "contoso.onmicrosoft.com"):
    """Seal `files` (data/ relpaths) into a bundle with manifests.bundle.BundleWriter."""
    from evkit.manifests.bundle import BundleWriter

    writer = BundleWriter.create(root, case_id="READY-1", collection_id="R1")
    for rel, blob in sorted(files.items()):
        writer.write(rel, blob)
    collection = {"schema": "evkit.collection/1", "kind": "collect", "case_id": "READY-1",
                  "collection_id": "R1", "examiner": "examiner@firm.example",
                  "tenant": {"id": "t", "domain": tenant_domain, "cloud": "commercial"},
                  "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-29T00:00:00Z"},
                  "sources": ["config", "licences"], "started_utc": "2026-11-29T08:00:00Z",
                  "finished_utc": "2026-11-29T09:00:00Z", "ledger": []}
    writer.seal(key, bag_info={"Source-Organization": "Contoso Ltd"}, collection=collection)
    return root


def scenario_pages(sc: Any, **kw: Any) -> dict[str, bytes]:
    """Raw pages from an emulator scenario's config and licence objects."""
    upns = [m["UserPrincipalName"] for m in sc.mailboxes]
    return config_pages(org=sc.org_config, admin=sc.admin_audit_log_config, mailboxes=sc.mailboxes,
                        bypass=sc.bypass_associations, folders={u: sc.folder_statistics(u) for u in upns},
                        users=sc.users, skus=sc.subscribed_skus,
                        licence_details={u["userPrincipalName"]: sc.license_details(u["userPrincipalName"])
                                         for u in sc.users}, **kw)
