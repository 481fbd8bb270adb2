"""Mailbox state at collection: which inbox rules and forwarding settings read as BEC.

Pure rules over one Get-InboxRule, Get-Mailbox, Get-MailboxPermission, Get-RecipientPermission
or Get-TransportRule object as the Exchange Online admin API returns it (property names and value
shapes in docs/microsoft-365.md §8); `evkit.report.mailbox_state` feeds them from the engine's
`mailbox_state` table.
"""

from __future__ import annotations

from collections import Counter
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


def address_of(value: str) -> str:
    """The SMTP address a recipient value names, or "" when it names none: Get-InboxRule shows
    `"Name" [SMTP:x@y]` for an address and `"Name" [EX:/o=...]` (a legacy DN, no address) for a
    tenant mailbox; Get-Mailbox shows `smtp:x@y`."""
    text = str(value).strip()
    if text.endswith("]") and "[" in text:
        inner = text[text.rindex("[") + 1:-1]
        kind, _, rest = inner.partition(":")
        return rest.strip() if kind.upper() == "SMTP" else ""
    if text.lower().startswith("smtp:"):
        text = text[5:]
    return text if "@" in text else ""


def _domain(address: str) -> str:
    text = address_of(address).lower()
    return text.rsplit("@", 1)[-1] if "@" in text else ""


def external_targets(addresses: Iterable[str], accepted_domains: Iterable[str]) -> tuple[str, ...]:
    """Addresses outside the tenant's accepted domains (addresses without a domain are not judged)."""
    accepted = {d.strip().lower() for d in accepted_domains}
    return tuple(a for a in addresses if _domain(a) and _domain(a) not in accepted)


_RULE_OPERATIONS = frozenset({"New-InboxRule", "Set-InboxRule", "Enable-InboxRule"})


def _split_identity(text: str) -> tuple[str, str]:
    """'alice@contoso.com\\rule' or 'alice\\rule' -> (owner, rule); no backslash -> ("", text)."""
    owner, sep, name = str(text or "").rpartition("\\")
    return (owner, name) if sep else ("", str(text or ""))


def _latest(records: Iterable[Mapping[str, Any]], match: Any) -> Mapping[str, Any] | None:
    best: Mapping[str, Any] | None = None
    for rec in records:
        if match(rec) and (best is None or str(rec.get("CreationTime", "")) > str(best.get("CreationTime", ""))):
            best = rec
    return best


def creating_record(rule_name: str, mailbox: str, records: Iterable[Mapping[str, Any]],
                    aliases: Iterable[str] = ()) -> Mapping[str, Any] | None:
    """The latest audit record that created or changed this rule in this mailbox, if any.

    Each record: Operation, CreationTime (ISO text, compared as text), `params` (name -> value,
    as mailbox_changes.pairs gives them) and, optionally, ObjectId (`alice\\rule name`, what a
    rule made in Outlook on the web is logged with). The mailbox is matched by `mailbox` or any
    of `aliases` (its alias, object id...). A record naming no mailbox is not matched: guessing
    would tie a rule to the wrong record.
    """
    names = {mailbox.lower()} | {a.lower() for a in aliases if a}

    def match(rec: Mapping[str, Any]) -> bool:
        if rec.get("Operation") not in _RULE_OPERATIONS:
            return False
        params = rec.get("params") or {}
        id_owner, id_name = _split_identity(params.get("Identity", ""))
        ob_owner, ob_name = _split_identity(str(rec.get("ObjectId") or ""))
        name = params.get("Name") or (id_name if id_owner else "") or (ob_name if ob_owner else "")
        owner = params.get("Mailbox") or id_owner or ob_owner
        return name == rule_name and owner.lower() in names
    return _latest(records, match)


# kind -> (operations that set it, parameter naming the mailbox, parameter naming the grantee or target)
_CHANGES = {
    "forwarding": (frozenset({"Set-Mailbox"}), "Identity", ("ForwardingSmtpAddress", "ForwardingAddress")),
    "mailbox_permission": (frozenset({"Add-MailboxPermission"}), "Identity", ("User",)),
    "recipient_permission": (frozenset({"Add-RecipientPermission"}), "Identity", ("Trustee",)),
    "folder_permission": (frozenset({"Add-MailboxFolderPermission", "Set-MailboxFolderPermission"}), "Identity",
                          ("User",)),
}


def change_record(kind: str, identities: Iterable[str], grantee: str,
                  records: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The latest record that set this forwarding (`grantee` = target address) or granted this
    permission (`grantee` = user or trustee) on a mailbox known by `identities`, if any.
    A transport rule is matched by name (`grantee`), `identities` unused."""
    ids = {i.lower() for i in identities if i}
    wanted = address_of(grantee).lower() or grantee.strip().lower()
    if kind == "transport_rule":
        return _latest(records, lambda r: r.get("Operation") in ("New-TransportRule", "Set-TransportRule")
                       and wanted in {str((r.get("params") or {}).get(k, "")).lower() for k in ("Name", "Identity")})
    operations, where, what = _CHANGES[kind]

    def match(rec: Mapping[str, Any]) -> bool:
        params = rec.get("params") or {}
        if rec.get("Operation") not in operations:
            return False
        target = str(params.get(where, "")).split(":", 1)[0].lower()  # folder identities: mailbox:\\folder
        values = [str(params[k]) for k in what if k in params]
        given = {address_of(v).lower() or v.strip().lower() for v in values}
        return target in ids and bool(values) and wanted in given
    return _latest(records, match)


_SELF = ("nt authority\\self",)


def is_grant_to_other(grantee: str, rights: Iterable[str], right: str, owner_ids: Iterable[str],
                      inherited: bool = False, deny: bool = False) -> bool:
    """Whether a permission row gives `right` (FullAccess, SendAs) to someone other than the
    owner: not SELF or another system account (the filters peers' collectors apply), not the
    owner's own names, not a deny, not inherited from the organisation."""
    who = grantee.strip().lower()
    if deny or inherited or not who or who in _SELF or who.startswith(("nt authority\\", "s-1-5-",
                                                                       "discoverysearchmailbox")):
        return False
    if who in {o.lower() for o in owner_ids if o}:
        return False
    return any(str(r).strip().lower() == right.lower() for r in rights)


# Folder roles and rights that let the grantee read the folder's items (MS-OXWSFOLD
# PermissionLevelType and the Add-MailboxFolderPermission reference: Contributor, FolderVisible,
# AvailabilityOnly and LimitedDetails read no mail), on the folders that hold mail: the root
# (Top of Information Store, "\\" in the mailbox source) and the Inbox. A Calendar delegate is
# ordinary business and not looked for.
_READ_RIGHTS = frozenset({"owner", "publishingeditor", "editor", "publishingauthor", "author", "noneditingauthor",
                          "reviewer", "readitems"})
_MAIL_FOLDERS = frozenset({"", "\\", "inbox", "top of information store"})
_EVERYONE = {"default": "everyone in the organisation", "anonymous": "anyone, without signing in"}


def folder_read_grant(folder: str, grantee: str, rights: Iterable[str], owner_ids: Iterable[str]) -> str | None:
    """Who a folder permission lets read the mail of a mailbox's root or Inbox, in words (the
    grantee, or everyone in the organisation for Default, anyone for Anonymous); None when the
    row grants no reading of mail, is on another folder, or is the owner's own or a system entry."""
    if folder.strip().lower() not in _MAIL_FOLDERS:
        return None
    if not any(str(r).strip().lower() in _READ_RIGHTS for r in rights):
        return None
    who = grantee.strip().lower()
    if who in _EVERYONE:
        return _EVERYONE[who]
    if not who or who in _SELF or who.startswith(("nt authority\\", "s-1-5-")):
        return None
    if who in {o.lower() for o in owner_ids if o}:
        return None
    return grantee.strip()


_TRANSPORT_ACTIONS = (("BlindCopyTo", "blind copy"), ("CopyTo", "copy"), ("RedirectMessageTo", "redirect"),
                      ("AddToRecipients", "add recipient"))


def transport_actions(rule: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A transport rule's actions that send mail to other recipients, with their targets."""
    return tuple((label, tuple(_listed(rule.get(key)))) for key, label in _TRANSPORT_ACTIONS
                 if _listed(rule.get(key)))


def unexplained_reason(log_complete: bool, since: str | None = None) -> str:
    """Why no record explains a state finding: never 'no activity'. `since`: where the collected
    audit log starts (a date); None when no audit log was collected at all."""
    if log_complete:
        start = f" (from {since})" if since else ""
        return f"no record in the collected audit log{start} explains it: it predates the window"
    if since is None:
        return "no record explains it: no audit log was collected, so the log that would is missing"
    return "no record explains it and the audit log for this mailbox is incomplete"


# How page 1 names each kind of state finding, singular and plural (findings' `kind` values).
_KIND_WORDS = {"inbox rule": ("inbox rule", "inbox rules"), "forwarding": ("forwarding setting", "forwarding settings"),
               "full access": ("full-access grant", "full-access grants"), "send as": ("SendAs grant", "SendAs grants"),
               "transport rule": ("transport rule", "transport rules"),
               "folder permission": ("folder permission", "folder permissions")}


def _counted(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def still_in_place(findings: Iterable[Mapping[str, Any]], mailboxes_read: int, parts_not_read: int) -> str:
    """Page 1's sentence on the state findings: what was still in place when the mailboxes were
    read, how much of it the attacker is known to have set and how much no record explains, and
    that parts not read may hold more. Never says "nothing" where a part was not read."""
    found = list(findings)
    where = _counted(mailboxes_read, "mailbox", "mailboxes")
    if found:
        kinds = Counter(str(f.get("kind") or "other") for f in found)   # most common first, ties as met
        named = [_counted(n, *_KIND_WORDS.get(k, (k, k))) for k, n in kinds.most_common()]
        listed = (" and ".join(named) if len(named) <= 2
                  else _counted(len(found), "rule, forwarding setting or grant", "rules, forwarding settings and grants"))
        outside = sum(1 for f in found if f.get("external"))
        by_attacker = sum(1 for f in found if (f.get("record") or {}).get("indicator"))
        unexplained = sum(1 for f in found if not f.get("record"))
        details = [f"{outside:,} sending mail outside the organisation"] if outside else []
        details.append(f"{by_attacker:,} set by the attacker" if by_attacker
                       else "none tied to the attacker by an audit record")
        if unexplained:
            details.append(f"{unexplained:,} that no audit record explains")
        text = (f"{listed} of the kinds an attacker leaves behind {'was' if len(found) == 1 else 'were'} still in "
                f"place in the {where} read ({'; '.join(details)}).")
    else:
        text = (f"None of the inbox rules, forwarding or permissions an attacker leaves behind was found in the "
                f"{where} read.")
    if parts_not_read:
        text += (f" {_counted(parts_not_read, 'part', 'parts')} could not be read: more may be in place there.")
    return text
