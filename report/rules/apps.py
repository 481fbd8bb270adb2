"""Applications that can read mail (docs/methodology.md §7): pure rules over the `apps` evidence.

A grant reaches mail when it names Microsoft Graph's Mail.* permissions, or Office 365 Exchange
Online's EWS.AccessAsUser.All, full_access_as_app or Exchange.ManageAsApp, or the IMAP/POP/SMTP
user permissions. A delegated grant (oauth2PermissionGrants) carries no consent time: it is
taken from the audit log's "Consent to application." record for the app's service principal
when the evidence holds one, and said to be unknown otherwise. An application permission's
grant time is its assignment's createdDateTime. An app consented in the incident window, or up
to LEAD before it, is `recent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from evkit.times import format_utc, parse_creation_time

GRAPH = "00000003-0000-0000-c000-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_MAIL = frozenset({"ews.accessasuser.all", "full_access_as_app", "exchange.manageasapp",
                           "imap.accessasuser.all", "pop.accessasuser.all", "smtp.send", "smtp.sendasapp"})
LEAD = timedelta(days=30)


def mail_permissions(resource_app_id: str | None, names: Iterable[str]) -> list[str]:
    """The names among `names` that reach mail on that resource."""
    out = []
    for name in names:
        lowered = name.lower()
        if (resource_app_id == GRAPH and lowered.startswith("mail.")) or \
                (resource_app_id == EXCHANGE and (lowered in EXCHANGE_MAIL or lowered.startswith("mail."))) or \
                (resource_app_id == GRAPH and lowered in ("imap.accessasuser.all", "pop.accessasuser.all", "smtp.send")):
            out.append(name)
    return sorted(set(out))


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return parse_creation_time(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _consent_for(grant: Mapping[str, Any], consents: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    sp, app = grant.get("client_id"), grant.get("app_id")
    for c in consents:
        if (sp and c.get("object_id") == sp) or (app and app in (c.get("targets") or [])) or \
                (sp and sp in (c.get("targets") or [])):
            return c
    return None


def mail_apps(grants: Sequence[Mapping[str, Any]], assignments: Sequence[Mapping[str, Any]],
              consents: Sequence[Mapping[str, Any]], users: Mapping[str, str],
              used: Mapping[str, Mapping[str, Any]], window: tuple[datetime, datetime], *,
              collectors: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Every grant that reaches mail, with who consented, when (or that it is unknown), whether it
    falls in or shortly before the window, and the mail its app read or sent in the window. The
    app the evidence was collected with (`collectors`) is listed as such and never `recent`: its
    Exchange.ManageAsApp grant is the investigation's own."""
    start, end = window
    rows = []
    for g in grants:
        perms = mail_permissions(g.get("resource_app_id"), str(g.get("scope") or "").split())
        if not perms:
            continue
        consent = _consent_for(g, consents)
        when = _time(consent.get("ts")) if consent else None
        who = (consent.get("account") if consent else None) or users.get(str(g.get("principal_id"))) \
            or g.get("principal_id")
        if g.get("consent_type") == "AllPrincipals":
            who = "an administrator, for all users" if not consent else f"{who}, for all users"
        rows.append(_row(g, "delegated", perms, who, when,
                         "from the audit log's 'Consent to application.' record" if consent else
                         "unknown: no 'Consent to application.' record for this app in the evidence",
                         [consent["id"]] if consent else [], used, start, end))
    for a in assignments:
        perms = mail_permissions(a.get("resource_app_id"), [a["permission"]] if a.get("permission") else [])
        if not perms:
            continue
        when = _time(a.get("created"))
        rows.append(_row(a, "application", perms, "an administrator (admin consent)", when,
                         "the grant's createdDateTime" if when else "unknown: the grant states no time", [],
                         used, start, end))
    own = {c.lower() for c in collectors}
    for row in rows:
        row["collecting_app"] = (row["app_id"] or "") in own
        if row["collecting_app"]:
            row["recent"] = False
            row["consent_time_basis"] += "; the app this evidence was collected with"
    return sorted(rows, key=lambda r: (not r["recent"], r["consented_utc"] or "", r["app_id"] or "", r["type"]))


def _row(grant: Mapping[str, Any], kind: str, perms: list[str], who: Any, when: datetime | None, basis: str,
         record_ids: list[str], used: Mapping[str, Mapping[str, Any]], start: datetime,
         end: datetime) -> dict[str, Any]:
    app = str(grant.get("app_id") or "") or None
    reads = used.get(app or "")
    return {"app_id": app, "name": grant.get("name"), "type": kind, "permissions": perms,
            "consented_by": who, "consented_utc": format_utc(when) if when else None, "consent_time_basis": basis,
            "recent": when is not None and start - LEAD <= when < end,
            "consent_time_known": when is not None, "record_ids": record_ids, "grant_id": grant.get("id"),
            "mail_in_window": None if not reads else {"records": reads["records"],
                                                      "mailboxes": list(reads["mailboxes"] or []),
                                                      "record_ids": list(reads["record_ids"] or [])}}
