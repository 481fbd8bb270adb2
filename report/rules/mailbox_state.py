"""Mailbox state at collection: which inbox rules and forwarding settings read as BEC.

Pure rules over one Get-InboxRule or Get-Mailbox object as the Exchange Online admin API returns
it (property names as in docs/microsoft-365.md); the collector and engine that feed them are
not built yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Folders a rule moves mail into to hide it from the owner (rarely opened by people).
RARELY_USED_FOLDERS = frozenset({"rss feeds", "rss subscriptions", "conversation history", "archive",
                                 "junk email", "deleted items", "notes", "sync issues"})
_FORWARD_PROPERTIES = ("ForwardTo", "ForwardAsAttachmentTo")


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v) for v in value if v]
    return []


def _folder_name(value: Any) -> str:
    """'mailbox:\\RSS Feeds' or 'RSS Feeds' -> 'rss feeds'."""
    text = str(value or "")
    return text.rsplit("\\", 1)[-1].strip().lower()


def rule_actions(rule: Mapping[str, Any]) -> tuple[str, ...]:
    """The BEC-relevant actions of one inbox rule: forward, redirect, delete, move-hidden."""
    out: list[str] = []
    if any(_listed(rule.get(p)) for p in _FORWARD_PROPERTIES):
        out.append("forward")
    if _listed(rule.get("RedirectTo")):
        out.append("redirect")
    if rule.get("DeleteMessage") is True or rule.get("SoftDeleteMessage") is True:
        out.append("delete")
    if rule.get("MoveToFolder") and _folder_name(rule.get("MoveToFolder")) in RARELY_USED_FOLDERS:
        out.append("move to rarely used folder")
    return tuple(out)


def _domain(address: str) -> str:
    text = address.strip().lower()
    if text.startswith("smtp:"):
        text = text[5:]
    return text.rsplit("@", 1)[-1] if "@" in text else ""


def external_targets(addresses: Iterable[str], accepted_domains: Iterable[str]) -> tuple[str, ...]:
    """Addresses outside the tenant's accepted domains (addresses without a domain are not judged)."""
    accepted = {d.strip().lower() for d in accepted_domains}
    return tuple(a for a in addresses if _domain(a) and _domain(a) not in accepted)


_RULE_OPERATIONS = frozenset({"New-InboxRule", "Set-InboxRule", "Enable-InboxRule"})


def creating_record(rule_name: str, mailbox: str,
                    records: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The latest audit record that created or changed this rule in this mailbox, if any.

    Each record: Operation, CreationTime (ISO text, compared as text), and `params` (name ->
    value, as mailbox_changes.pairs gives them). A record naming no mailbox is not matched:
    guessing would tie a rule to the wrong record.
    """
    best: Mapping[str, Any] | None = None
    for rec in records:
        if rec.get("Operation") not in _RULE_OPERATIONS:
            continue
        params = rec.get("params") or {}
        name = params.get("Name") or params.get("Identity", "").rsplit("\\", 1)[-1]
        owner = (params.get("Mailbox") or params.get("Identity", "").rsplit("\\", 1)[0]).lower()
        if name != rule_name or owner != mailbox.lower():
            continue
        if best is None or str(rec.get("CreationTime", "")) > str(best.get("CreationTime", "")):
            best = rec
    return best


def unexplained_reason(log_complete: bool) -> str:
    """Why no record explains a state finding: never 'no activity'."""
    if log_complete:
        return "no record in the window explains it: it predates the window"
    return "no record explains it and the audit log for this mailbox is incomplete"
