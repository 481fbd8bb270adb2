"""The cmdlets that read a mailbox's BEC state over InvokeCommand (docs/microsoft-365.md §8):
Get-InboxRule, Get-MailboxPermission, Get-RecipientPermission, Get-MailboxFolderPermission,
Get-TransportRule and Get-AcceptedDomain, served from the scenario's `mailbox-state.json`
(emulator/scenarios/mailbox_state.py). Routing, roles and paging are emulator/exchange.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from evkit.emulator.wire import Response, adminapi_error

VALIDATION = "System.Management.Automation.ParameterBindingValidationException"
# Get-InboxRule and Get-RecipientPermission are in the Mail Recipients role, which no view-only
# role group and not Global Reader holds (the cmdlets' documentation; §8.1).
MAIL_RECIPIENTS_CMDLETS = ("Get-InboxRule", "Get-RecipientPermission")

PARAMETERS: dict[str, tuple[str, ...]] = {
    "Get-InboxRule": ("Identity", "Mailbox", "IncludeHidden", "ResultSize", "BypassScopeCheck",
                      "DescriptionTimeFormat", "DescriptionTimeZone", "SkipCount", "SweepRules"),
    "Get-MailboxPermission": ("Identity", "User", "Owner", "ResultSize", "ReadFromDomainController",
                              "SoftDeletedMailbox", "IncludeSoftDeletedUserPermissions",
                              "IncludeUnresolvedPermissions"),
    "Get-RecipientPermission": ("Identity", "Trustee", "AccessRights", "ResultSize", "ReadFromDomainController"),
    "Get-MailboxFolderPermission": ("Identity", "User", "GroupMailbox"),
    "Get-TransportRule": ("Identity", "State", "DlpPolicy", "ExcludeConditionActionDetails", "Filter", "ResultSize"),
    "Get-AcceptedDomain": ("Identity", "ResultSize"),
}


class Context(Protocol):
    state: Any

    def paged(self, items: list[dict[str, Any]], bound: dict[str, Any]) -> Response: ...


Find = Callable[[str], "dict[str, Any] | None"]
NotFound = Callable[[str], Response]


def _required(name: str) -> Response:
    return adminapi_error(VALIDATION, f"Cannot validate argument on parameter '{name}'. The argument is null or "
                          f"empty. Provide an argument that is not null or empty, and then try the command again.")


def _switch(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "$true", "1")


def _junk_rule(mailbox: dict[str, Any]) -> dict[str, Any]:
    """The system rule every mailbox has, listed only with -IncludeHidden (§8.2)."""
    oid = str(mailbox.get("ExternalDirectoryObjectId") or mailbox.get("Identity"))
    return {"Name": "Junk E-mail Rule", "Priority": 0, "Enabled": True, "RuleIdentity": 721857812023476225,
            "Identity": f"{oid}\\721857812023476225", "IsValid": True, "ObjectState": "Unchanged"}


EMPTY: dict[str, Any] = {"inbox_rules": {}, "hidden_rules": {}, "settings": {}, "mailbox_permissions": {},
                         "recipient_permissions": {}, "folder_permissions": {}, "transport_rules": [],
                         "accepted_domains": []}


def state_of(scenario: Any) -> dict[str, Any]:
    """The scenario's mailbox state (a scenario without one has none of it)."""
    return getattr(scenario, "mailbox_state", None) or EMPTY


def handle(cmdlet: str, ctx: Context, bound: dict[str, Any], find: Find, not_found: NotFound) -> Response:
    state = state_of(ctx.state.scenario)
    if cmdlet == "Get-TransportRule":
        return ctx.paged(list(state["transport_rules"]), bound)
    if cmdlet == "Get-AcceptedDomain":
        return ctx.paged(list(state["accepted_domains"]), bound)
    if cmdlet == "Get-RecipientPermission" and "Identity" not in bound:
        rows = [r for rows in state["recipient_permissions"].values() for r in rows]
        return ctx.paged(rows, bound)
    key = "Mailbox" if cmdlet == "Get-InboxRule" else "Identity"
    identity = str(bound.get(key) or "")
    folder = None
    if cmdlet == "Get-MailboxFolderPermission" and ":" in identity:
        identity, _, folder = identity.partition(":")
        folder = folder.strip("\\")
    if not identity:
        return _required(key)
    mailbox = find(identity)
    if mailbox is None:
        return not_found(identity)
    upn = str(mailbox["UserPrincipalName"])
    if cmdlet == "Get-InboxRule":
        hidden = set(state["hidden_rules"].get(upn, []))
        rules = [r for r in state["inbox_rules"].get(upn, []) if r["Name"] not in hidden]
        if _switch(bound.get("IncludeHidden")):
            rules = [_junk_rule(mailbox)] + list(state["inbox_rules"].get(upn, []))
        return ctx.paged(rules, bound)
    if cmdlet == "Get-MailboxPermission":
        return ctx.paged(list(state["mailbox_permissions"].get(upn, [])), bound)
    if cmdlet == "Get-RecipientPermission":
        return ctx.paged(list(state["recipient_permissions"].get(upn, [])), bound)
    folders = state["folder_permissions"].get(upn, {})
    rows = folders.get(folder or "")
    if rows is None:
        return not_found(f"{identity}:\\{folder}")
    return ctx.paged(list(rows), bound)
