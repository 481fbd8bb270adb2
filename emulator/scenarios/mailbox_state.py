"""The mailboxes' state at the scenario's end, as the Exchange cmdlets return it, and its truth.

Inbox rules (Get-InboxRule, hidden ones listed only with -IncludeHidden), forwarding settings and
send-on-behalf delegates (Get-Mailbox), mailbox permissions (Get-MailboxPermission), SendAs
(Get-RecipientPermission), top-folder permissions (Get-MailboxFolderPermission), transport rules
(Get-TransportRule) and accepted domains (Get-AcceptedDomain); shapes after docs/microsoft-365.md
§8. Two origins, both in the ground truth:

- what the tenant already held before the scenario window (`before-window`): no audit record
  in the window can explain it;
- what the attacker's admin cmdlets changed (`attacker`), each tied to the record the pipeline
  wrote for it (none when ingestion was off: the log is missing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evkit.emulator.scenarios.activity import Event
from evkit.emulator.scenarios.ids import digest, guid_from
from evkit.emulator.scenarios.model import Mailbox
from evkit.emulator.scenarios.store import RecordStore

FILE = "mailbox-state.json"
_COLL = "#Collection(String)"
JUNK_RULE = "Junk E-mail Rule"
STATE_CMDLETS = ("New-InboxRule", "Set-Mailbox", "Add-MailboxPermission", "Add-RecipientPermission")
_FORWARDING = ("ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward")
_BOOL_RULE_PARAMS = ("DeleteMessage", "SoftDeleteMessage", "MarkAsRead", "StopProcessingRules")
_LIST_RULE_PARAMS = ("SubjectContainsWords", "BodyContainsWords", "SubjectOrBodyContainsWords",
                     "FromAddressContainsWords", "From")
_RECIPIENT_RULE_PARAMS = ("ForwardTo", "ForwardAsAttachmentTo", "RedirectTo")


def _z(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateBuilder:
    """Builds the state objects; `truth` lists what a report must name (or must not)."""

    def __init__(self, seed: object, domain: str, mailboxes: Mapping[str, Mailbox]) -> None:
        self.seed, self.domain, self.mbx = seed, domain, mailboxes
        self.rules: dict[str, list[dict[str, Any]]] = {u: [] for u in mailboxes}
        self.hidden: dict[str, list[str]] = {u: [JUNK_RULE] for u in mailboxes}
        self.settings: dict[str, dict[str, Any]] = {
            u: {"ForwardingSmtpAddress": None, "ForwardingAddress": None, "DeliverToMailboxAndForward": False,
                "GrantSendOnBehalfTo@odata.type": _COLL, "GrantSendOnBehalfTo": []} for u in mailboxes}
        self.permissions: dict[str, list[dict[str, Any]]] = {
            u: [self._permission(m, "NT AUTHORITY\\SELF", ["FullAccess", "ReadPermission"])]
            for u, m in mailboxes.items()}
        self.send_as: dict[str, list[dict[str, Any]]] = {
            u: [self._send_as(m, "NT AUTHORITY\\SELF")] for u, m in mailboxes.items()}
        self.folders: dict[str, dict[str, list[dict[str, Any]]]] = {
            u: {"": [self._folder(m, "", "Default", ["None"]), self._folder(m, "", "Anonymous", ["None"])],
                "Inbox": [self._folder(m, "Inbox", "Default", ["None"]),
                          self._folder(m, "Inbox", "Anonymous", ["None"])],
                "Calendar": [self._folder(m, "Calendar", "Default", ["AvailabilityOnly"]),
                             self._folder(m, "Calendar", "Anonymous", ["None"])]}
            for u, m in mailboxes.items()}
        self.transport: list[dict[str, Any]] = []
        self.truth: list[dict[str, Any]] = []
        self.benign: list[dict[str, Any]] = []

    # ---- object shapes -----------------------------------------------------------------
    def recipient(self, address: str) -> str:
        """How Get-InboxRule shows a recipient: a tenant mailbox by its legacy DN, any other
        address as SMTP (docs/microsoft-365.md §8.2)."""
        m = self.mbx.get(address.lower())
        if m is not None:
            cn = digest("legacydn", m.upn, size=16).hex()
            return (f"\"{m.display}\" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                    f"/cn=Recipients/cn={cn}-{m.alias[:6]}]")
        return f"\"{address}\" [SMTP:{address}]"

    def _permission(self, m: Mailbox, user: str, rights: list[str]) -> dict[str, Any]:
        return {"Identity": m.alias, "User": user, "AccessRights@odata.type": _COLL, "AccessRights": rights,
                "IsInherited": False, "Deny": False, "InheritanceType": "All"}

    def _send_as(self, m: Mailbox, trustee: str) -> dict[str, Any]:
        return {"Identity": m.alias, "Trustee": trustee, "AccessControlType": "Allow",
                "AccessRights@odata.type": _COLL, "AccessRights": ["SendAs"], "IsInherited": False,
                "InheritanceType": "None"}

    def _folder(self, m: Mailbox, folder: str, user: str, rights: list[str],
                flags: str | None = None) -> dict[str, Any]:
        return {"Identity": f"{m.alias}:\\{folder}", "FolderName": folder or "Top of Information Store",
                "User": user, "AccessRights@odata.type": _COLL, "AccessRights": rights,
                "SharingPermissionFlags": flags, "IsValid": True}

    def add_rule(self, upn: str, params: Mapping[str, str], *, hidden: bool = False) -> dict[str, Any]:
        m = self.mbx[upn]
        ident = int.from_bytes(digest("rule", upn, params["Name"], size=8), "big")
        rule: dict[str, Any] = {"Name": params["Name"], "Enabled": True,
                                "Priority": len(self.rules[upn]) + 1,
                                "RuleIdentity": ident, "Identity": f"{m.object_id}\\{ident}",
                                "MailboxOwnerId": m.object_id, "IsValid": True, "SupportedByTask": True,
                                "ErrorType": "None", "ObjectState": "Unchanged"}
        for key, value in params.items():
            if key in _RECIPIENT_RULE_PARAMS:
                rule[key] = [self.recipient(a.strip()) for a in value.replace(";", ",").split(",") if a.strip()]
            elif key in _LIST_RULE_PARAMS:
                rule[key] = [w.strip() for w in value.replace(";", ",").split(",") if w.strip()]
            elif key in _BOOL_RULE_PARAMS:
                rule[key] = value.strip().lower() == "true"
            elif key == "MoveToFolder":
                rule[key] = f"{m.alias}:\\{value.strip(chr(92))}"
        rule["Description"] = _describe(rule)
        self.rules[upn].append(rule)
        if hidden:
            self.hidden[upn].append(params["Name"])
        return rule

    # ---- the tenant's own state before the window ---------------------------------------
    def planted(self) -> None:
        """Rules, grants and transport rules that predate the scenario window."""
        by_alias = {m.alias: u for u, m in self.mbx.items()}
        carol, bob, finance, erin = (by_alias.get(a) for a in ("carol", "bob", "finance", "erin"))
        if carol:
            self.add_rule(carol, {"Name": "Copy to home", "ForwardTo": "carol.diaz@outlook.example"})
            self._truth(carol, "inbox_rule", "Copy to home", "before-window", None,
                        actions=["forward"], external=["carol.diaz@outlook.example"])
        if bob:
            self.add_rule(bob, {"Name": "Newsletters", "FromAddressContainsWords": "news@",
                                "MoveToFolder": "Newsletters"})
            self.benign.append({"mailbox": bob, "kind": "inbox_rule", "name": "Newsletters"})
        if finance and bob:
            self.permissions[finance].append(self._permission(self.mbx[finance], bob, ["FullAccess"]))
            self.settings[finance]["GrantSendOnBehalfTo"] = [self.mbx[bob].alias]
            self._truth(finance, "mailbox_permission", bob, "before-window", None, rights=["FullAccess"])
        if carol and erin:
            self.folders[carol]["Calendar"].append(
                self._folder(self.mbx[carol], "Calendar", self.mbx[erin].display, ["Editor"], "Delegate"))
            self.benign.append({"mailbox": carol, "kind": "folder_permission", "name": "Calendar"})
        if finance:
            # everyone in the organisation may read the shared mailbox's Inbox: set long ago, a finding
            # to review (whoever holds any account of the tenant reads it), explained by no record
            self.folders[finance]["Inbox"] = [self._folder(self.mbx[finance], "Inbox", "Default", ["Reviewer"]),
                                              self._folder(self.mbx[finance], "Inbox", "Anonymous", ["None"])]
            self._truth(finance, "folder_permission", "Default", "before-window", None, rights=["Reviewer"])
        created = "2022-03-14T10:21:07.0000000Z"
        self.transport = [
            _transport("External sender disclaimer", 0, created, {
                "FromScope": "NotInOrganization", "PrependSubject": "[EXTERNAL] "}),
            _transport("Copy finance mail to records vendor", 1, created, {
                "SentTo@odata.type": _COLL, "SentTo": [finance or f"finance@{self.domain}"],
                "BlindCopyTo@odata.type": _COLL, "BlindCopyTo": ["journal@records-vendor.example"]}),
        ]
        self._truth("", "transport_rule", "Copy finance mail to records vendor", "before-window", None,
                    actions=["blind copy"], external=["journal@records-vendor.example"])
        self.benign.append({"mailbox": "", "kind": "transport_rule", "name": "External sender disclaimer"})

    # ---- the attacker's changes -----------------------------------------------------------
    def apply(self, ev: Event, record_id: str | None, hidden_rules: Iterable[tuple[str, str]]) -> None:
        """Apply one attacker admin event (STATE_CMDLETS) to the state."""
        params = {n: v for n, v in ev.data["params"]}
        cmdlet = ev.data["cmdlet"]
        upn = ev.mailbox
        if upn not in self.mbx:
            return
        when = _z(ev.t)
        if cmdlet == "New-InboxRule":
            name = params["Name"]
            hidden = (upn, name) in set(hidden_rules)
            rule = self.add_rule(upn, params, hidden=hidden)
            targets = [a.strip() for p in _RECIPIENT_RULE_PARAMS for a in params.get(p, "").split(",")
                       if a.strip()]
            actions = [a for a, keys in (("forward", ("ForwardTo", "ForwardAsAttachmentTo")),
                                         ("redirect", ("RedirectTo",))) if any(k in params for k in keys)]
            if rule.get("DeleteMessage") or rule.get("SoftDeleteMessage"):
                actions.append("delete")
            if "MoveToFolder" in params:
                actions.append("move to rarely used folder")
            self._truth(upn, "inbox_rule", name, "attacker", record_id, actions=actions, hidden=hidden,
                        external=[t for t in targets if t.lower() not in self.mbx], time=when)
        elif cmdlet == "Set-Mailbox" and any(k in params for k in _FORWARDING):
            for key in _FORWARDING:
                if key in params:
                    value: Any = params[key]
                    self.settings[upn][key] = value.strip().lower() == "true" if key == _FORWARDING[2] else value
            address = params.get("ForwardingSmtpAddress", "").split(":", 1)[-1]
            self._truth(upn, "forwarding", address, "attacker", record_id, time=when,
                        external=[address] if address and address.lower() not in self.mbx else [])
        elif cmdlet == "Add-MailboxPermission":
            rights = [r.strip() for r in params.get("AccessRights", "").split(",") if r.strip()]
            self.permissions[upn].append(self._permission(self.mbx[upn], params["User"], rights))
            self._truth(upn, "mailbox_permission", params["User"], "attacker", record_id, rights=rights, time=when)
        elif cmdlet == "Add-RecipientPermission":
            self.send_as[upn].append(self._send_as(self.mbx[upn], params["Trustee"]))
            self._truth(upn, "recipient_permission", params["Trustee"], "attacker", record_id,
                        rights=["SendAs"], time=when)

    def _truth(self, mailbox: str, kind: str, name: str, origin: str, record_id: str | None,
               **extra: Any) -> None:
        entry = {"mailbox": mailbox, "kind": kind, "name": name, "origin": origin, "record_id": record_id}
        if origin == "attacker" and record_id is None:
            entry["unexplained"] = "log-missing"
        elif origin == "before-window":
            entry["unexplained"] = "predates-window"
        self.truth.append(entry | extra)

    # ---- output ---------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return {"inbox_rules": self.rules, "hidden_rules": self.hidden, "settings": self.settings,
                "mailbox_permissions": self.permissions, "recipient_permissions": self.send_as,
                "folder_permissions": self.folders, "transport_rules": self.transport,
                "accepted_domains": [
                    {"Name": self.domain, "DomainName": self.domain, "DomainType": "Authoritative",
                     "Default": True, "Identity": self.domain},
                    {"Name": f"{self.domain.split('.')[0]}.onmicrosoft.com",
                     "DomainName": f"{self.domain.split('.')[0]}.onmicrosoft.com",
                     "DomainType": "Authoritative", "Default": False,
                     "Identity": f"{self.domain.split('.')[0]}.onmicrosoft.com"}]}


def _transport(name: str, priority: int, created: str, extra: dict[str, Any]) -> dict[str, Any]:
    rule = {"Name": name, "Identity": name, "Guid": guid_from("transport", name), "State": "Enabled",
            "Mode": "Enforce", "Priority": priority, "CreatedBy": "Admin", "WhenChanged": created,
            "Description": f"{name}", "IsValid": True}
    return rule | extra


def _describe(rule: Mapping[str, Any]) -> str:
    parts = []
    for key in _LIST_RULE_PARAMS:
        if rule.get(key):
            parts.append(f"the message includes specific words in the {key} '{' or '.join(rule[key])}'")
    actions = []
    for key in _RECIPIENT_RULE_PARAMS:
        if rule.get(key):
            actions.append(f"{key} '{', '.join(rule[key])}'")
    if rule.get("MoveToFolder"):
        actions.append(f"move the message to folder '{rule['MoveToFolder']}'")
    if rule.get("DeleteMessage"):
        actions.append("delete the message")
    return f"If the message: {' and '.join(parts) or 'any'} Take the following actions: {' and '.join(actions)}"


def record_of(store: RecordStore, ev: Event) -> str | None:
    """The id of the audit record the pipeline wrote for admin event `ev`, if it wrote one."""
    start = datetime.fromtimestamp(ev.t, timezone.utc)
    end = datetime.fromtimestamp(ev.t + 1, timezone.utc)
    for line in store.lines(start, end, [ev.data["cmdlet"]]):
        rec = json.loads(line)
        if rec.get("ObjectId") == ev.data["object"]:
            return str(rec["Id"])
    return None


def build_state(seed: object, domain: str, mailboxes: Mapping[str, Mailbox], events: Iterable[Event],
                hidden_rules: Iterable[tuple[str, str]], records_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state document served by the cmdlets, ground truth `mailbox_state`)."""
    builder = StateBuilder(seed, domain, mailboxes)
    builder.planted()
    store = RecordStore(records_dir)
    hidden = list(hidden_rules)
    for ev in events:
        if ev.kind == "admin" and ev.data.get("cmdlet") in STATE_CMDLETS:
            builder.apply(ev, record_of(store, ev), hidden)
    return builder.document(), {"findings": builder.truth, "not_findings": builder.benign}
