"""Mailbox manipulation by the attacker: inbox rules, forwarding, permissions, delegates and
application consents. Each is a finding of its own (it keeps the attacker's access or sends
mail out after the password is reset) and makes the mailbox affected.

Pure rules over one record's operation and {Name, Value} parameters; the analysis layer
fetches the attributed records with these operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Operation -> kind of change, as Exchange and Entra ID log them (cmdlets from admin and
# PowerShell sessions; UpdateInboxRules from Outlook; the folder-permission operations of the
# mailbox audit log; consents and grants from Entra ID).
CHANGE_KINDS: Mapping[str, str] = {
    "New-InboxRule": "inbox rule", "Set-InboxRule": "inbox rule", "Enable-InboxRule": "inbox rule",
    "UpdateInboxRules": "inbox rule",
    "Set-Mailbox": "forwarding", "New-TransportRule": "forwarding", "Set-TransportRule": "forwarding",
    "Add-MailboxPermission": "permission", "Add-RecipientPermission": "permission",
    "Add-MailboxFolderPermission": "permission", "Set-MailboxFolderPermission": "permission",
    "AddFolderPermissions": "permission", "ModifyFolderPermissions": "permission",
    "UpdateFolderPermissions": "permission",
    "Set-MailboxCalendarFolder": "permission",
    "Add-MailboxDelegate": "delegate", "UpdateCalendarDelegation": "delegate",
    "Consent to application.": "application consent",
    "Add delegated permission grant.": "application consent",
    "Add app role assignment grant to user.": "application consent",
    "Add app role assignment to service principal.": "application consent",
}
# Set-Mailbox is a change of this kind only with one of these parameters (other Set-Mailbox
# calls, e.g. audit settings, are reported as audit tampering where they matter).
FORWARDING_PARAMETERS = frozenset({"forwardingsmtpaddress", "forwardingaddress", "delivertomailboxandforward"})
# Parameters worth showing for a change, first in this order; the rest follow by name.
SHOWN_FIRST = ("Identity", "Mailbox", "Name", "RuleName", "User", "Trustee", "AccessRights",
               "ForwardTo", "ForwardAsAttachmentTo", "RedirectTo", "ForwardingSmtpAddress",
               "ForwardingAddress", "DeliverToMailboxAndForward", "DeleteMessage", "MoveToFolder",
               "MarkAsRead", "From", "SubjectContainsWords", "BodyContainsWords",
               "SubjectOrBodyContainsWords", "RuleCondition", "RuleActions", "StopProcessingRules")
_VALUE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    details: tuple[tuple[str, str], ...]  # (parameter, value) as recorded, shown order
    target: str | None  # the mailbox named by the parameters (Identity / Mailbox), if an address


def pairs(values: Iterable[Any] | None) -> dict[str, str]:
    """{Name, Value} lists (Parameters, OperationProperties) -> name -> value (first wins)."""
    out: dict[str, str] = {}
    for p in values or ():
        if isinstance(p, Mapping) and isinstance(p.get("Name"), str) and p["Name"] not in out:
            value = p.get("Value")
            out[p["Name"]] = "" if value is None else str(value)
    return out


def mailbox_change(operation: str, parameters: Iterable[Any] | None,
                   properties: Iterable[Any] | None = None) -> Change | None:
    """The change a record makes to a mailbox, or None when it makes none of these kinds."""
    kind = CHANGE_KINDS.get(operation or "")
    if kind is None:
        return None
    params = pairs(parameters) | {k: v for k, v in pairs(properties).items() if k in SHOWN_FIRST}
    if operation == "Set-Mailbox" and not FORWARDING_PARAMETERS & {k.lower() for k in params}:
        return None
    order = {name.lower(): n for n, name in enumerate(SHOWN_FIRST)}
    shown = sorted(params.items(), key=lambda kv: (order.get(kv[0].lower(), len(order)), kv[0]))
    details = tuple((k, v[:_VALUE_LIMIT]) for k, v in shown if v != "")
    target = next((v.strip().lower() for k, v in params.items()
                   if k.lower() in ("identity", "mailbox") and "@" in v), None)
    return Change(kind, details, target)


def describe(change: Change) -> str:
    """One line: the parameters as `Name=value`, in the shown order."""
    return "; ".join(f"{k}={v}" for k, v in change.details)
