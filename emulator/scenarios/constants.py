"""Fixed Microsoft identifiers and the emulator's chosen logging-rule constants.

The identifiers are the real ones from the reference (docs/microsoft-365.md §4.2, §5.2) so that evidence
from the emulator looks like evidence from a tenant. The rule constants are written down here
once so that the pipeline, the ground truth and the tests agree.
"""

from __future__ import annotations

from datetime import datetime, timezone

# --- logging rules (docs/microsoft-365.md §4.3) -------------------------------------------------------
AGGREGATION_SECONDS = 120          # Bind records aggregate all binds of one context in 2 minutes
DEDUP_SECONDS = 3600               # the same item in the same context is logged once an hour
THROTTLE_LIMIT = 1000              # more than this many records in 24 h throttles the mailbox
THROTTLE_SECONDS = 86400           # Bind records are not generated for 24 h after throttling

# Licence rule (docs/microsoft-365.md §5.2/§5.3), our documented choice: before EXPANSION_DATE the premium
# mailbox actions are generated only for a mailbox whose licence has an enabled
# M365_ADVANCED_AUDITING plan at that moment (removal takes effect at once); from EXPANSION_DATE
# also for any mailbox with an Audit (Standard) licence (E3 and above). Unlicensed mailboxes
# (e.g. a shared mailbox without a licence) never generate them.
EXPANSION_DATE = datetime(2024, 2, 1, tzinfo=timezone.utc)
PREMIUM_ACTIONS = frozenset({"MailItemsAccessed", "Send", "SearchQueryInitiated"})

# --- application ids ------------------------------------------------------------------------
EXCHANGE_APP = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"
OFFICE_APP = "d3590ed6-52b3-4102-aeff-aad2292ab01c"      # Microsoft Office (desktop Outlook)
OUTLOOK_MOBILE_APP = "27922004-5251-4030-b22d-91ecd9a37ea4"
OWA_APP = "9199bf20-a13f-4107-85dc-02114787ef48"          # One Outlook Web

# --- licences -------------------------------------------------------------------------------
ADVANCED_AUDITING_PLAN = "2f442157-a11c-46b9-ae5b-6e39ff4e5849"   # M365_ADVANCED_AUDITING
AUDIT_PLATFORM_PLAN = "f6de4823-28fa-440b-b886-4783fa86ddba"      # M365_AUDIT_PLATFORM
EXCHANGE_PLAN = "efb87545-963c-4e0d-99df-69c6916d9eb0"            # EXCHANGE_S_ENTERPRISE
SKUS = {
    "E5": {"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "skuPartNumber": "SPE_E5",
           "plans": [("M365_ADVANCED_AUDITING", ADVANCED_AUDITING_PLAN),
                     ("M365_AUDIT_PLATFORM", AUDIT_PLATFORM_PLAN),
                     ("EXCHANGE_S_ENTERPRISE", EXCHANGE_PLAN)]},
    "E3": {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "skuPartNumber": "SPE_E3",
           "plans": [("M365_AUDIT_PLATFORM", AUDIT_PLATFORM_PLAN),
                     ("EXCHANGE_S_ENTERPRISE", EXCHANGE_PLAN)]},
}

# --- default audited actions (docs/microsoft-365.md §6.3) ---------------------------------------------
# Microsoft-managed sets for a mailbox with Audit (Premium); the Audit (Standard) sets of a
# pre-expansion tenant lack the premium actions (ICEWOLF capture in 6.3).
OWNER_DEFAULT = ("Update", "MoveToDeletedItems", "SoftDelete", "HardDelete",
                 "UpdateFolderPermissions", "UpdateInboxRules", "UpdateCalendarDelegation",
                 "ApplyRecord", "MailItemsAccessed", "Send")
DELEGATE_DEFAULT = ("Update", "MoveToDeletedItems", "SoftDelete", "HardDelete", "SendAs",
                    "SendOnBehalf", "Create", "UpdateFolderPermissions", "UpdateInboxRules",
                    "ApplyRecord", "MailItemsAccessed")
ADMIN_DEFAULT = ("Update", "MoveToDeletedItems", "SoftDelete", "HardDelete", "SendAs",
                 "SendOnBehalf", "Create", "UpdateFolderPermissions", "UpdateInboxRules",
                 "UpdateCalendarDelegation", "ApplyRecord", "MailItemsAccessed", "Send")


def standard_set(actions: tuple[str, ...]) -> tuple[str, ...]:
    """The Audit (Standard) variant of a default set: the premium actions removed."""
    return tuple(a for a in actions if a not in PREMIUM_ACTIONS)


# --- docs/collection.md §1 default operation set (what the collector asks for) ------------------------
DEFAULT_OPERATIONS = frozenset({
    "MailItemsAccessed", "Send", "SendAs", "SendOnBehalf",
    "SearchQueryInitiatedExchange", "SearchQueryInitiatedSharePoint", "MailboxLogin",
    "New-InboxRule", "Set-InboxRule", "Remove-InboxRule", "Enable-InboxRule", "Disable-InboxRule",
    "UpdateInboxRules", "Add-MailboxPermission", "Remove-MailboxPermission",
    "Add-RecipientPermission", "Remove-RecipientPermission", "AddFolderPermissions",
    "ModifyFolderPermissions", "RemoveFolderPermissions",
    "Create", "Update", "Move", "MoveToDeletedItems", "SoftDelete", "HardDelete",
    "UserLoggedIn", "UserLoginFailed",
    "Set-Mailbox", "Set-MailboxAuditBypassAssociation", "Set-AdminAuditLogConfig",
    "Set-OrganizationConfig", "Change user license.", "Update user.", "Consent to application.",
})

# Operations that change a mailbox's rules, forwarding or permissions: the attacker's are
# ground truth of their own ("mailbox_changes"), as a report must list them.
MAILBOX_CHANGE_OPERATIONS = frozenset({
    "New-InboxRule", "Set-InboxRule", "Enable-InboxRule", "UpdateInboxRules",
    "Add-MailboxPermission", "Add-RecipientPermission", "AddFolderPermissions",
    "ModifyFolderPermissions", "Add-MailboxFolderPermission", "Set-MailboxFolderPermission",
})

LOGON_OWNER, LOGON_ADMIN, LOGON_DELEGATE = 0, 1, 2
