"""Sign-ins and the attacker's sessions (docs/methodology.md §6): pure rules over Logon rows.

A Logon is one sign-in, from the Entra sign-in log or, when that log is missing, from the audit
log's UserLoggedIn / UserLoginFailed records (the same columns; fields a source lacks are None).
`sessions` groups the attacker's sign-ins by session and joins the mail access each led to;
`new_values` suggests an address or application a compromised account used in the window but
never before it (new countries or networks are out of scope: no geolocation is applied).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evkit.report.rules.first_party import is_first_party
from evkit.report.rules.suggest import MAX_IDS, Suggestion
from evkit.times import format_utc

MAX_SIGNINS = 50  # sign-ins listed per session (the count says how many there are)


@dataclass(frozen=True, slots=True)
class Logon:
    """One sign-in (columns of the engine's sign-in relations, report.engine.entra_queries)."""

    id: str
    ts: datetime | None
    account: str | None
    ip: str | None
    app_id: str | None
    app_name: str | None
    session_id: str | None
    user_agent: str | None
    client_app: str | None
    os: str | None
    browser: str | None
    event_type: str | None
    succeeded: bool | None

    def to_json(self) -> dict[str, Any]:
        device = " / ".join(p for p in (self.os, self.browser) if p) or None
        return {"id": self.id, "time_utc": format_utc(self.ts) if self.ts else None, "account": self.account,
                "ip": self.ip, "app_id": self.app_id, "app_name": self.app_name, "client_app": self.client_app,
                "device": device, "user_agent": self.user_agent, "event_type": self.event_type,
                "succeeded": self.succeeded}


def _distinct(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})


def sessions(logons: Sequence[Logon], by_session: Mapping[str, Mapping[str, Any]],
             by_address: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The attacker's sign-ins grouped by session (a sign-in without one is its own group), each
    with its addresses, apps, devices and user agents, and the attributed mail access joined to
    it by session id, else by address (`joined_by` says which)."""
    groups: dict[str, list[Logon]] = defaultdict(list)
    for logon in logons:
        groups[logon.session_id or f"no-session:{logon.id}"].append(logon)
    out = []
    for key, rows in groups.items():
        session = None if key.startswith("no-session:") else key
        access = by_session.get(session) if session else None
        joined = "session" if access else None
        if access is None:
            hits = [by_address[ip] for ip in _distinct(r.ip for r in rows) if ip in by_address]
            if hits:
                access = {"records": sum(h["records"] for h in hits),
                          "mailboxes": _distinct(m for h in hits for m in h["mailboxes"] or []),
                          "first": min(h["first"] for h in hits), "last": max(h["last"] for h in hits),
                          "record_ids": sorted({i for h in hits for i in h["record_ids"] or []})[:MAX_IDS]}
                joined = "address"
        devices = _distinct(" / ".join(p for p in (r.os, r.browser) if p) for r in rows)
        times = [r.ts for r in rows if r.ts is not None]
        out.append({
            "session_id": session, "accounts": _distinct(r.account for r in rows),
            "first_utc": format_utc(min(times)) if times else None,
            "last_utc": format_utc(max(times)) if times else None,
            "ips": _distinct(r.ip for r in rows), "apps": _distinct(r.app_name or r.app_id for r in rows),
            "app_ids": _distinct(r.app_id for r in rows), "devices": devices,
            "user_agents": _distinct(r.user_agent for r in rows),
            "sign_in_count": len(rows), "failed": sum(1 for r in rows if r.succeeded is False),
            "sign_ins": [r.to_json() for r in rows[:MAX_SIGNINS]],
            "joined_by": joined,
            "mail_access": None if access is None else {
                "records": access["records"], "mailboxes": list(access["mailboxes"] or []),
                "first_utc": format_utc(access["first"]) if access["first"] else None,
                "last_utc": format_utc(access["last"]) if access["last"] else None,
                "record_ids": list(access["record_ids"] or [])},
        })
    return sorted(out, key=lambda s: (s["first_utc"] or "", s["session_id"] or ""))


def compromised_accounts(case_accounts: Iterable[str], attacker: Sequence[Logon]) -> list[str]:
    """The case's accounts and every account the attacker signed in to successfully."""
    return _distinct([a.lower() for a in case_accounts] + [r.account for r in attacker if r.succeeded])


def new_values(history: Sequence[Logon], accounts: Sequence[str], window_start: datetime,
               known: set[tuple[str, str]], source: str) -> list[Suggestion]:
    """An address or app a compromised account signed in with in the window, successfully, and
    never before it in the evidence. Needs the account's sign-ins before the window (no history,
    nothing is 'new'); first-party Microsoft apps and values already matched are skipped."""
    out = []
    for account in accounts:
        mine = [(r.ts, r) for r in history if r.account == account and r.ts is not None]
        before = [r for ts, r in mine if ts < window_start]
        during = [r for ts, r in mine if ts >= window_start and r.succeeded]
        if not before:
            continue
        for kind in ("ip", "app"):
            seen = {_value(r, kind) for r in before}
            fresh: dict[str, list[str]] = defaultdict(list)
            for r in during:
                value = _value(r, kind)
                if value and value not in seen and (kind, value) not in known \
                        and not (kind == "app" and is_first_party(value)):
                    fresh[value].append(r.id)
            for value, ids in fresh.items():
                what = "address" if kind == "ip" else "application"
                out.append(Suggestion(kind, value, f"a new {what} for compromised account {account}: "
                                      f"{len(ids)} sign-in(s) in the window, none among its {len(before)} "
                                      f"earlier sign-in(s) in the {source}", len(ids), tuple(sorted(ids)[:MAX_IDS])))
    return sorted(out, key=lambda s: (s.kind, s.value, s.why))


def _value(logon: Logon, kind: str) -> str | None:
    return logon.ip if kind == "ip" else logon.app_id


def merge(existing: Sequence[Suggestion], more: Sequence[Suggestion]) -> list[Suggestion]:
    """One suggestion per (kind, value): reasons joined, record ids from the first."""
    by: dict[tuple[str, str], Suggestion] = {(s.kind, s.value): s for s in existing}
    for s in more:
        old = by.get((s.kind, s.value))
        by[(s.kind, s.value)] = s if old is None else Suggestion(
            old.kind, old.value, f"{old.why}; {s.why}", old.record_count, old.record_ids)
    return sorted(by.values(), key=lambda x: (x.kind, x.value))
