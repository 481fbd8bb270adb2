"""Snapshots of tenant configuration as the APIs return it at the scenario's end ("now").

Exchange cmdlet objects (Get-Mailbox, Get-MailboxAuditBypassAssociation,
Get-MailboxFolderStatistics, Get-OrganizationConfig, Get-AdminAuditLogConfig) and Graph
objects (users with assignedLicenses/assignedPlans, subscribedSkus, licenseDetails), shaped
after docs/microsoft-365.md §5.1 and §6.1-§6.4. Built from the mailboxes after the pipeline has applied
every tampering event, so configuration and audit log agree.
"""

from __future__ import annotations

import base64
from typing import Any, Iterator

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.ids import digest, guid_from
from evkit.emulator.scenarios.model import Mailbox, audit_set, item_identity
from evkit.emulator.scenarios.pipeline import OrgState

_COLL = "#Collection(String)"


def _bytes_text(n: int) -> str:
    return f"{n / 1048576:.2f} MB ({n:,} bytes)"


class TenantView:
    """Read-only views over the final tenant state."""

    def __init__(self, seed: object, tenant_id: str, domain: str, org_name: str,
                 display_name: str, mailboxes: dict[str, Mailbox], org: OrgState,
                 now: int) -> None:
        self.seed = seed
        self.tenant_id = tenant_id
        self.domain = domain
        self.org_name = org_name
        self.display_name = display_name
        self.mbx = mailboxes
        self.org = org
        self.after_expansion = now >= int(C.EXPANSION_DATE.timestamp())

    # ---- Exchange ------------------------------------------------------------------------
    def org_config(self) -> dict[str, Any]:
        return {"Name": self.org_name, "DisplayName": self.display_name,
                "Identity": self.org_name, "Guid": guid_from(self.seed, "org", self.tenant_id),
                "AuditDisabled": self.org.audit_disabled, "IsDehydrated": False,
                "DefaultAuthenticationPolicy": None, "OAuth2ClientProfileEnabled": True,
                "WhenCreatedUTC": "2019-03-04T09:12:44.0000000Z"}

    def admin_audit_log_config(self) -> dict[str, Any]:
        return {"AdminAuditLogEnabled": True, "LogLevel": "None",
                "TestCmdletLoggingEnabled": False, "AdminAuditLogAgeLimit": "90.00:00:00",
                "LoadBalancerCount@data.type": "System.Int32", "LoadBalancerCount": 3,
                "UnifiedAuditLogIngestionEnabled": self.org.ingestion,
                "UnifiedAuditLogFirstOptInDate@data.type": "System.DateTime",
                "UnifiedAuditLogFirstOptInDate": "2019-03-04T10:02:11.4870000Z",
                "Name": "Admin Audit Log Settings", "Identity": "Admin Audit Log Settings"}

    def ordered(self) -> list[Mailbox]:
        return sorted(self.mbx.values(), key=lambda m: m.upn)

    def mailboxes(self) -> Iterator[dict[str, Any]]:
        return (self._mailbox(m) for m in self.ordered())

    def _mailbox(self, m: Mailbox) -> dict[str, Any]:
        shared = m.kind == "shared"
        return {
            "Name": m.alias, "Alias": m.alias, "DisplayName": m.display,
            "Identity": m.object_id, "Id": m.object_id, "Guid": m.mailbox_guid,
            "ExchangeGuid": guid_from(self.seed, "exchange-guid", m.upn),
            "ExternalDirectoryObjectId": m.object_id,
            "UserPrincipalName": m.upn, "PrimarySmtpAddress": m.upn,
            "WindowsEmailAddress": m.upn,
            "EmailAddresses@odata.type": _COLL,
            "EmailAddresses": [f"SMTP:{m.upn}", f"smtp:{m.alias}@{self.domain}"],
            "RecipientType": "UserMailbox",
            "RecipientTypeDetails": "SharedMailbox" if shared else "UserMailbox",
            "IsShared": shared,
            "AuditEnabled": True, "AuditLogAgeLimit": "90.00:00:00",
            "AuditAdmin@odata.type": _COLL,
            "AuditAdmin": list(audit_set(m, C.LOGON_ADMIN, self.after_expansion)),
            "AuditDelegate@odata.type": _COLL,
            "AuditDelegate": list(audit_set(m, C.LOGON_DELEGATE, self.after_expansion)),
            "AuditOwner@odata.type": _COLL,
            "AuditOwner": list(audit_set(m, C.LOGON_OWNER, self.after_expansion)),
            "DefaultAuditSet@odata.type": _COLL, "DefaultAuditSet": list(m.default_audit_set),
            "ProhibitSendReceiveQuota": "100 GB (107,374,182,400 bytes)",
            "WhenMailboxCreated": "2020-01-13T09:47:38.0000000+00:00",
            "ForwardingSmtpAddress": None,
        }

    def bypass_associations(self) -> Iterator[dict[str, Any]]:
        for m in self.ordered():
            yield ({
                "ObjectId": m.alias, "AuditBypassEnabled": m.bypass, "Name": m.alias,
                "Identity": m.alias, "Id": m.alias, "IsValid": True,
                "DistinguishedName": f"CN={m.alias},OU={self.org_name},OU=Microsoft Exchange "
                                     f"Hosted Organizations,DC=NAMPR05A001,DC=PROD,DC=OUTLOOK,DC=COM",
                "ObjectClass@odata.type": _COLL,
                "ObjectClass": ["top", "person", "organizationalPerson", "user"],
                "WhenChangedUTC@data.type": "System.DateTime",
                "WhenChangedUTC": "2023-01-09T11:20:05.0000000Z",
                "ExchangeObjectId@data.type": "System.Guid",
                "ExchangeObjectId": guid_from(self.seed, "exo", m.upn),
                "OrganizationId": self.tenant_id,
                "Guid@data.type": "System.Guid", "Guid": guid_from(self.seed, "exo", m.upn)})

    def folder_statistics(self, upn_or_identity: str) -> list[dict[str, Any]]:
        m = self.find(upn_or_identity)
        if m is None:
            raise KeyError(upn_or_identity)
        rows = [{"Name": "Top of Information Store", "FolderPath": "/",
                 "FolderType": "Root", "ItemsInFolder": 0,
                 "ItemsInFolderAndSubfolders": sum(f.present for f in m.folders.values()),
                 "FolderSize": _bytes_text(0),
                 "FolderId": base64.b64encode(b"\x2e\x00\x00\x00\x00" +
                                              digest("root", m.upn, size=41)).decode(),
                 "Identity": f"{m.alias}\\Top of Information Store"}]
        for f in m.folders.values():
            size = f.present * 61234
            rows.append({"Name": f.record_path.strip("\\").split("\\")[-1],
                         "FolderPath": f.record_path.replace("\\", "/"), "FolderType": f.folder_type,
                         "ItemsInFolder": f.present, "ItemsInFolderAndSubfolders": f.present,
                         "FolderSize": _bytes_text(size), "FolderId": f.folder_id,
                         "Identity": f"{m.alias}{f.record_path}"})
        return rows

    def find(self, key: str) -> Mailbox | None:
        k = key.strip().lower()
        for m in self.mbx.values():
            if k in (m.upn.lower(), m.alias.lower(), m.object_id, m.mailbox_guid):
                return m
        return None

    # ---- Graph ---------------------------------------------------------------------------
    def users(self) -> Iterator[dict[str, Any]]:
        return (self._user(m) for m in self.ordered())

    def _user(self, m: Mailbox) -> dict[str, Any]:
        licences, plans = [], []
        if m.licence:
            sku = C.SKUS[m.licence]
            disabled = [] if m.advanced_auditing or m.licence != "E5" else [C.ADVANCED_AUDITING_PLAN]
            licences.append({"disabledPlans": disabled, "skuId": sku["skuId"]})
            for name, plan_id in sku["plans"]:
                removed = plan_id in disabled
                plans.append({
                    "assignedDateTime": (m.plan_removed_at or m.licence_assigned) if removed
                    else m.licence_assigned,
                    "capabilityStatus": "Deleted" if removed else "Enabled",
                    "service": _SERVICE[name], "servicePlanId": plan_id})
        return {"id": m.object_id, "userPrincipalName": m.upn, "displayName": m.display,
                "mail": m.upn, "accountEnabled": m.kind == "user",
                "userType": "Member", "assignedLicenses": licences, "assignedPlans": plans}

    def subscribed_skus(self) -> list[dict[str, Any]]:
        out = []
        for key in ("E5", "E3"):
            sku = C.SKUS[key]
            used = sum(1 for m in self.mbx.values() if m.licence == key)
            out.append({
                "accountName": self.display_name, "accountId": self.tenant_id,
                "appliesTo": "User", "capabilityStatus": "Enabled", "consumedUnits": used,
                "id": f"{self.tenant_id}_{sku['skuId']}",
                "prepaidUnits": {"enabled": used + 5, "lockedOut": 0, "suspended": 0, "warning": 0},
                "servicePlans": [{"servicePlanId": pid, "servicePlanName": name,
                                  "provisioningStatus": "Success", "appliesTo": "User"}
                                 for name, pid in sku["plans"]],
                "skuId": sku["skuId"], "skuPartNumber": sku["skuPartNumber"],
                "subscriptionIds": [guid_from(self.seed, "subscription", key)]})
        return out

    def license_details(self, user_id_or_upn: str) -> list[dict[str, Any]]:
        m = self.find(user_id_or_upn)
        if m is None:
            raise KeyError(user_id_or_upn)
        if not m.licence:
            return []
        sku = C.SKUS[m.licence]
        disabled = set(self._user(m)["assignedLicenses"][0]["disabledPlans"])
        return [{"id": base64.urlsafe_b64encode(digest("lic", m.upn, sku["skuId"], size=32))
                 .decode().rstrip("="),
                 "skuId": sku["skuId"], "skuPartNumber": sku["skuPartNumber"],
                 "servicePlans": [{"servicePlanId": pid, "servicePlanName": name,
                                   "provisioningStatus": "Disabled" if pid in disabled else "Success",
                                   "appliesTo": "User"} for name, pid in sku["plans"]]}]

    def item(self, upn: str, folder: str, k: int) -> tuple[str, str, int]:
        return item_identity(self.seed, self.mbx[upn], folder, k)


_SERVICE = {"M365_ADVANCED_AUDITING": "M365AdvancedAuditing",
            "M365_AUDIT_PLATFORM": "M365AuditPlatform", "EXCHANGE_S_ENTERPRISE": "exchange"}
