"""Mailbox state at collection: from the engine's `mailbox_state` table to findings.json's
`mailbox_state` block (docs/internals.md).

The engine holds what the `mailbox` source read; report.rules.mailbox_state decides which
objects read as BEC (rules that forward, redirect, delete or hide mail; forwarding settings;
full access and SendAs for another account; transport rules that copy or redirect mail) and ties
each to the latest audit record that set it. Where none does, the finding says why: the change
predates the collected audit log, or that log is incomplete. A source that was not collected,
or parts that failed, are stated: an empty list never stands for "nothing suspicious".
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from evkit.report.analysis import Analysis, collected_spans
from evkit.report.engine import queries
from evkit.report.engine.loader import Engine
from evkit.report.rules.mailbox_changes import pairs
from evkit.report.rules.mailbox_state import (
    address_of, change_record, creating_record, external_targets, folder_read_grant, is_grant_to_other, rule_actions,
    still_in_place,
    transport_actions, unexplained_reason,
)
from evkit.report.rules.visibility import ledger_gaps
from evkit.times import format_utc

SOURCE = "mailbox"
STATE_OPERATIONS = ("New-InboxRule", "Set-InboxRule", "Enable-InboxRule", "Set-Mailbox", "Add-MailboxPermission",
                    "Add-RecipientPermission", "Add-MailboxFolderPermission", "Set-MailboxFolderPermission",
                    "New-TransportRule", "Set-TransportRule")
# What the section looks for, in words (the statement when nothing is found says exactly this).
LOOKED_FOR = ("inbox rules that forward, redirect, delete or move mail to rarely used folders, forwarding "
              "settings, full access or SendAs for another account, permission for others to read the top "
              "folder or Inbox, and transport rules that copy or redirect mail")
NOT_COLLECTED = ("The mailbox state was not collected (the `mailbox` source): whether inbox rules, forwarding "
                 "or permissions set by the attacker are still in place is unknown.")
_IDENTITY_KEYS = ("UserPrincipalName", "PrimarySmtpAddress", "Alias", "Name", "DisplayName", "Identity",
                  "ExternalDirectoryObjectId", "Guid", "ExchangeGuid")


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return format_utc(value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value)


def _objects(engine: Engine) -> list[dict[str, Any]]:
    """Distinct objects per (cmdlet, mailbox, folder): a page fetched again holds the same ones."""
    rows = engine.dicts("""SELECT cmdlet, mailbox, part, object, max(received_utc) AS received_utc
                           FROM mailbox_state GROUP BY ALL ORDER BY cmdlet, mailbox, part, object""")
    for r in rows:
        r["obj"] = json.loads(r["object"])
    return rows


def _records(engine: Engine) -> list[dict[str, Any]]:
    """Every record of an operation that sets mailbox state, with the indicator that attributed it."""
    marks = ", ".join("?" for _ in STATE_OPERATIONS)
    rows = engine.dicts(f"""
        SELECT e.id, e.ts, e.operation, e.account, e.object_id, e.parameters, a.indicator
        FROM events e LEFT JOIN (SELECT id, min(indicator) AS indicator FROM attributed GROUP BY id) a
             ON a.id = e.id
        WHERE e.operation IN ({marks}) ORDER BY e.ts NULLS LAST, e.id""", list(STATE_OPERATIONS))
    return [{"Id": r["id"], "Operation": r["operation"], "CreationTime": _utc(r["ts"]) or "",
             "ObjectId": r["object_id"], "params": pairs(r["parameters"]), "actor": r["account"],
             "indicator": r["indicator"]} for r in rows]


def _log_state(engine: Engine, analysis: Analysis) -> tuple[bool, str | None]:
    """(whether the collected audit log is complete over what was collected, where it starts)."""
    spans = collected_spans(engine)
    [(events,)] = engine.rows("SELECT count(*) FROM events")
    if not spans or not events:
        return False, None
    window = (min(s for s, _ in spans), max(e for _, e in spans))
    gaps = ledger_gaps(queries.ledger_rows(engine), window)
    complete = not gaps and not analysis.evidence_gaps and queries.blind_problem_count(engine) == 0
    return complete, format_utc(window[0])[:10]


class _Tenant:
    """What the tenant-wide answers say: each mailbox's names, the accepted domains."""

    def __init__(self, objects: Sequence[Mapping[str, Any]]) -> None:
        self.names: dict[str, set[str]] = defaultdict(set)
        self.mailboxes: list[Mapping[str, Any]] = []
        domains: set[str] = set()
        for row in objects:
            obj = row["obj"]
            if row["cmdlet"] == "Get-Mailbox":
                self.mailboxes.append(obj)
                key = str(obj.get("PrimarySmtpAddress") or obj.get("UserPrincipalName") or "").lower()
                self.names[key] |= {str(obj[k]).lower() for k in _IDENTITY_KEYS if obj.get(k)}
            elif row["cmdlet"] == "Get-AcceptedDomain" and obj.get("DomainName"):
                domains.add(str(obj["DomainName"]).lower())
        self.accepted = domains
        self.domains_known = bool(domains)
        if not domains:  # judged from the tenant's own addresses (stated in the block)
            self.accepted = {a.rsplit("@", 1)[-1].lower() for m in self.mailboxes
                             for a in [str(m.get("PrimarySmtpAddress") or "")] if "@" in a}

    def ids(self, mailbox: str | None) -> set[str]:
        """Every name a mailbox goes by; `mailbox` as the config named it (an alias, another case)."""
        key = (mailbox or "").lower()
        if not key:
            return set()
        known = self.names.get(key) or next((n for n in self.names.values() if key in n), set())
        return {key} | known


def _finding(mailbox: str, kind: str, name: str, details: str, record: Mapping[str, Any] | None,
             log: tuple[bool, str | None], **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"mailbox": mailbox, "kind": kind, "name": name, "details": details}
    found.update(extra)
    if record is not None:
        found["record"] = {"id": record["Id"], "time_utc": record["CreationTime"] or None,
                           "operation": record["Operation"], "actor": record["actor"],
                           "indicator": record["indicator"]}
        found["unexplained"] = None
    else:
        found["record"] = None
        found["unexplained"] = unexplained_reason(*log)
    return found


def _visible_rules(engine: Engine, objects: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Per mailbox whose Get-InboxRule without -IncludeHidden was read: the rules it listed."""
    read = {m for (m,) in engine.rows("SELECT DISTINCT mailbox FROM mailbox_state_pages "
                                      "WHERE cmdlet = 'Get-InboxRule' AND part = 'visible' AND mailbox IS NOT NULL")}
    shown: dict[str, set[str]] = {m: set() for m in read}
    for row in objects:
        if row["cmdlet"] == "Get-InboxRule" and row["part"] == "visible" and row["mailbox"] in shown:
            shown[row["mailbox"]].add(_rule_key(row["obj"]))
    return shown


def _rule_key(rule: Mapping[str, Any]) -> str:
    return str(rule.get("RuleIdentity") or rule.get("Identity") or rule.get("Name") or "")


def _rules(row: Mapping[str, Any], tenant: _Tenant, records: list[dict[str, Any]],
           log: tuple[bool, str | None], visible: Mapping[str, set[str]]) -> dict[str, Any] | None:
    if row["part"] == "visible":
        return None  # the same rules again, as Outlook shows them: only tells which are hidden
    rule, mailbox = row["obj"], row["mailbox"] or ""
    actions = rule_actions(rule)
    if not actions:
        return None
    targets = [str(v) for k in ("ForwardTo", "ForwardAsAttachmentTo", "RedirectTo") for v in _list(rule.get(k))]
    external = [address_of(t) for t in external_targets(targets, tenant.accepted)]
    shown = [address_of(t) or t for t in targets]
    parts = [f"actions: {', '.join(actions)}"]
    if shown:
        parts.append(f"to: {', '.join(shown)}")
    if rule.get("MoveToFolder"):
        parts.append(f"folder: {rule['MoveToFolder']}")
    for key in ("From", "SubjectContainsWords", "BodyContainsWords", "SubjectOrBodyContainsWords",
                "FromAddressContainsWords"):
        if _list(rule.get(key)):
            parts.append(f"{key}: {', '.join(str(v) for v in _list(rule[key]))}")
    if rule.get("Enabled") is False:
        parts.append("disabled")
    name = str(rule.get("Name") or "")
    record = creating_record(name, mailbox, records, tenant.ids(mailbox))
    # hidden: listed with -IncludeHidden only (None when the plain answer was not read)
    hidden = _rule_key(rule) not in visible[mailbox] if mailbox in visible else None
    return _finding(mailbox, "inbox rule", name, "; ".join(parts), record, log, actions=list(actions),
                    targets=shown, external=external, enabled=rule.get("Enabled"), hidden=hidden,
                    rule_identity=str(rule.get("RuleIdentity") or rule.get("Identity") or ""))


def _forwarding(obj: Mapping[str, Any], tenant: _Tenant, records: list[dict[str, Any]],
                log: tuple[bool, str | None]) -> dict[str, Any] | None:
    target = obj.get("ForwardingSmtpAddress") or obj.get("ForwardingAddress")
    if not target:
        return None
    mailbox = str(obj.get("PrimarySmtpAddress") or obj.get("UserPrincipalName") or "").lower()
    address = address_of(str(target)) or str(target)
    external = [address] if external_targets([str(target)], tenant.accepted) else []
    keeps = obj.get("DeliverToMailboxAndForward")
    details = f"to: {address}; " + ("a copy stays in the mailbox" if keeps else "nothing stays in the mailbox")
    record = change_record("forwarding", tenant.ids(mailbox), str(target), records)
    return _finding(mailbox, "forwarding", address, details, record, log, targets=[address], external=external)


def _grant(row: Mapping[str, Any], tenant: _Tenant, records: list[dict[str, Any]],
           log: tuple[bool, str | None]) -> dict[str, Any] | None:
    obj, mailbox = row["obj"], row["mailbox"] or ""
    send_as = row["cmdlet"] == "Get-RecipientPermission"
    who = str(obj.get("Trustee" if send_as else "User") or "")
    right = "SendAs" if send_as else "FullAccess"
    if not is_grant_to_other(who, _list(obj.get("AccessRights")), right, tenant.ids(mailbox),
                             inherited=obj.get("IsInherited") is True, deny=obj.get("Deny") is True):
        return None
    kind = "send as" if send_as else "full access"
    record = change_record("recipient_permission" if send_as else "mailbox_permission", tenant.ids(mailbox), who,
                           records)
    return _finding(mailbox, kind, who, f"{who} has {right} on {mailbox}", record, log, targets=[who], external=[])


def _folder_grant(row: Mapping[str, Any], tenant: _Tenant, records: list[dict[str, Any]],
                  log: tuple[bool, str | None]) -> dict[str, Any] | None:
    obj, mailbox = row["obj"], row["mailbox"] or ""
    folder = str(row.get("part") or obj.get("FolderName") or "")
    user = str(obj.get("User") or "")
    rights = [str(r) for r in _list(obj.get("AccessRights"))]
    who = folder_read_grant(folder, user, rights, tenant.ids(mailbox))
    if who is None:
        return None
    shown = "the mailbox's top folder" if folder.strip() in ("", "\\") else folder
    found = [change_record("folder_permission", tenant.ids(mailbox), name, records) for name in tenant.ids(user) | {user}]
    record = max((r for r in found if r is not None), key=lambda r: (r["CreationTime"], r["Id"]), default=None)
    return _finding(mailbox, "folder permission", user, f"{who} can read {shown} ({', '.join(rights)})", record, log,
                    targets=[user], external=[], folder=shown, rights=rights)


def _transport(obj: Mapping[str, Any], tenant: _Tenant, records: list[dict[str, Any]],
               log: tuple[bool, str | None]) -> dict[str, Any] | None:
    actions = transport_actions(obj)
    if not actions:
        return None
    name = str(obj.get("Name") or obj.get("Identity") or "")
    targets = [t for _, ts in actions for t in ts]
    details = "; ".join(f"{label}: {', '.join(ts)}" for label, ts in actions)
    if obj.get("State") and obj.get("State") != "Enabled":
        details += f"; {obj['State']}"
    record = change_record("transport_rule", (), name, records)
    return _finding("", "transport rule", name, details, record, log, actions=[a for a, _ in actions],
                    targets=targets, external=[address_of(t) or t for t in external_targets(targets, tenant.accepted)],
                    changed_utc=obj.get("WhenChanged"))


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value] if value not in (None, "") else []


def state_block(engine: Engine, analysis: Analysis, unread: Sequence[str]) -> dict[str, Any]:
    """findings.json's `mailbox_state` block (docs/internals.md)."""
    objects = _objects(engine)
    ledger = engine.dicts(f"SELECT bundle, unit, status, reason FROM gaps WHERE source = '{SOURCE}' "
                          "ORDER BY bundle, unit")
    if not objects and not ledger and not unread:
        return {"status": "not collected", "statement": NOT_COLLECTED, "findings": [], "gaps": [],
                "mailboxes_read": [], "collected_utc": None}
    tenant = _Tenant(objects)
    records = _records(engine)
    log = _log_state(engine, analysis)
    visible = _visible_rules(engine, objects)
    findings: list[dict[str, Any]] = []
    for row in objects:
        cmdlet, obj = row["cmdlet"], row["obj"]
        found = (_rules(row, tenant, records, log, visible) if cmdlet == "Get-InboxRule" else
                 _forwarding(obj, tenant, records, log) if cmdlet == "Get-Mailbox" else
                 _grant(row, tenant, records, log) if cmdlet in ("Get-MailboxPermission", "Get-RecipientPermission")
                 else _transport(obj, tenant, records, log) if cmdlet == "Get-TransportRule"
                 else _folder_grant(row, tenant, records, log) if cmdlet == "Get-MailboxFolderPermission" else None)
        if found is not None:
            findings.append(found)
    gaps = [{"unit": e["unit"], "status": e["status"], "reason": e["reason"] or ""}
            for e in ledger if e["status"] != "complete"]
    gaps += [{"unit": src, "status": "unreadable", "reason": "the stored answer could not be read"} for src in unread]
    read = sorted({r["mailbox"] for r in objects if r["mailbox"]})
    status = "partial" if gaps else "collected"
    return {"status": status, "statement": _statement(status, findings, gaps, read),
            "page_one": still_in_place(findings, len(read), len(gaps)),
            "findings": sorted(findings, key=lambda f: (f["mailbox"], f["kind"], f["name"])), "gaps": gaps,
            "mailboxes_read": read, "collected_utc": max((r["received_utc"] or "" for r in objects), default=None),
            "accepted_domains": sorted(tenant.accepted),
            "accepted_domains_source": "Get-AcceptedDomain" if tenant.domains_known else "mailbox addresses",
            "audit_log_complete": log[0], "audit_log_from": log[1]}


def _statement(status: str, findings: Iterable[Mapping[str, Any]], gaps: list[Any], read: list[str]) -> str:
    found = list(findings)
    where = f"{len(read)} mailbox{'es' if len(read) != 1 else ''}"
    if found:
        unexplained = sum(1 for f in found if f["record"] is None)
        text = (f"{len(found)} item{'s' if len(found) != 1 else ''} of mailbox state read as business e-mail "
                f"compromise in the {where} read; {unexplained} of them no audit record explains.")
    else:
        text = f"None found in the {where} read: no {LOOKED_FOR}."
    if status == "partial":
        text += (f" {len(gaps)} part{'s' if len(gaps) != 1 else ''} could not be read (listed below): there, "
                 f"such rules, forwarding or permissions may exist unseen.")
    return text
