"""Candidate indicators (docs/methodology.md §1-2): listed with their evidence, never applied by themselves.

The engine aggregates per value (records in and before the window, mailboxes, addresses and
client strings per session); these pure rules decide what is worth a responder's look.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from dataclasses import dataclass

from evkit.report.rules.first_party import is_first_party

RARE_BEFORE = 2  # an app seen this many times or fewer before the window counts as new
MAX_IDS = 50  # evidence ids listed per suggestion (the count says how many there are)


@dataclass(frozen=True, slots=True)
class ValueStats:
    """What the evidence shows about one recorded value (app id, address or session)."""

    kind: str  # app | ip | session
    value: str
    in_window: int
    before_window: int
    mailboxes: int
    addresses: int = 0
    client_strings: int = 0
    record_ids: tuple[str, ...] = ()
    in_attributed_sessions: int = 0  # records attributed only through their session that carry it


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str
    value: str
    why: str
    record_count: int
    record_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "why": self.why,
                "record_count": self.record_count, "record_ids": list(self.record_ids)}


def new_mail_app(s: ValueStats, *, has_baseline: bool) -> str | None:
    """An app reading mail in the window that was rare or absent before it (Storm-0558)."""
    if s.kind != "app" or s.in_window == 0 or not has_baseline or s.before_window > RARE_BEFORE:
        return None
    before = "never" if s.before_window == 0 else f"only {s.before_window} time(s)"
    return f"accessed mail {s.in_window} time(s) in the window but {before} before it"


def many_mailboxes(s: ValueStats) -> str | None:
    """An address or session that touched several mailboxes in the window."""
    if s.kind not in ("ip", "session") or s.mailboxes < 2:
        return None
    return f"touched {s.mailboxes} mailboxes in the window"


def changing_session(s: ValueStats) -> str | None:
    """A session whose address or client string changes (token theft, AiTM replay)."""
    if s.kind != "session" or (s.addresses < 2 and s.client_strings < 2):
        return None
    parts = []
    if s.addresses >= 2:
        parts.append(f"{s.addresses} addresses")
    if s.client_strings >= 2:
        parts.append(f"{s.client_strings} client strings")
    return "one session used " + " and ".join(parts)


def used_by_attributed_session(s: ValueStats, *, has_baseline: bool = True) -> str | None:
    """An address, or an app new to the tenant, used inside a session already attributed to
    the attacker (the session moved to a new address, or its app reads other mailboxes).
    Apps in everyday use before the window (Outlook, OWA) are not leads."""
    if s.in_attributed_sessions == 0 or s.kind not in ("ip", "app"):
        return None
    if s.kind == "app" and (not has_baseline or s.before_window > RARE_BEFORE):
        return None
    return f"used by {s.in_attributed_sessions} record(s) of attributed session(s)"


def suggest(stats: Iterable[ValueStats], *, known: set[tuple[str, str]], has_baseline: bool) -> list[Suggestion]:
    """Every rule over every value not already an indicator hit; sorted for stable output.
    Microsoft's first-party application ids (report.rules.first_party) are never suggested:
    the calling application (ClientAppId) is weighed instead."""
    out = []
    for s in stats:
        if (s.kind, s.value) in known or (s.kind == "app" and is_first_party(s.value)):
            continue
        reasons = [r for r in (used_by_attributed_session(s, has_baseline=has_baseline),
                               new_mail_app(s, has_baseline=has_baseline),
                               many_mailboxes(s), changing_session(s)) if r]
        if reasons:
            ids = tuple(sorted(s.record_ids)[:MAX_IDS])
            out.append(Suggestion(s.kind, s.value, "; ".join(reasons), max(s.in_window, s.in_attributed_sessions), ids))
    return sorted(out, key=lambda x: (x.kind, x.value))
