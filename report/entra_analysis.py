"""Sign-ins and mail-reading applications for the report (docs/methodology.md §6, §7).

Wires the engine's Entra queries to the pure rules: which source of sign-ins to trust (the Entra
sign-in log when the `signins` source collected it, else the audit log's UserLoggedIn records,
with the gap stated), the sign-ins behind the attacker's sessions joined to the mail they
opened, new addresses and apps of compromised accounts, and the applications that hold mail
permissions consented in or shortly before the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evkit.evidence.retention import SIGNIN_RETENTION, SIGNINS_BEYOND_RETENTION, beyond_retention_words
from evkit.report.casefile import CaseFile
from evkit.report.engine import entra_queries as q
from evkit.report.engine.loader import Engine
from evkit.report.rules import apps as app_rules
from evkit.report.rules import signins as rules
from evkit.report.rules.suggest import Suggestion
from evkit.times import format_plain, utc_or_none

SIGNIN_LOG, AUDIT_LOG = "Entra sign-in log", "audit log (UserLoggedIn and UserLoginFailed records)"


@dataclass(slots=True)
class EntraAnalysis:
    sections: dict[str, Any]
    suggestions: list[Suggestion] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    points: list[str] = field(default_factory=list)  # plain sentences for findings.json's summary


def _failed(entries: list[dict[str, Any]]) -> list[str]:
    return sorted({f"{e['unit']}: {e['reason'] or e['status']}" for e in entries if e["status"] != "complete"})


def _beyond(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["unit"] == SIGNINS_BEYOND_RETENTION]


def signin_source(entries: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(which source to read, the gap to state or None). The part of the window the log no longer
    held when collected (the collector's `beyond-retention` entry) is stated by _retention_note."""
    beyond = _beyond(entries)
    entries = [e for e in entries if e not in beyond]
    if not entries and beyond:
        return AUDIT_LOG, (_retention_words(beyond)[0].upper() + _retention_words(beyond)[1:]
                           + ", so the sign-ins shown come from the audit log's UserLoggedIn and UserLoginFailed "
                           "records: interactive sign-ins only, without non-interactive or application sign-ins, "
                           "application names, client apps or failure reasons.")
    if not entries:
        return AUDIT_LOG, ("The Entra sign-in log was not collected (source `signins`), so the sign-ins shown "
                           "come from the audit log's UserLoggedIn and UserLoginFailed records: interactive "
                           "sign-ins only, without non-interactive or application sign-ins, application names, "
                           "client apps or failure reasons.")
    failed = _failed(entries)
    if all(e["status"] != "complete" for e in entries):
        return AUDIT_LOG, ("Collecting the Entra sign-in log failed (" + "; ".join(failed) + "), so the sign-ins "
                           "shown come from the audit log's UserLoggedIn and UserLoginFailed records: interactive "
                           "sign-ins only, without non-interactive or application sign-ins, application names, "
                           "client apps or failure reasons.")
    if failed:
        return SIGNIN_LOG, "Part of the Entra sign-in log was not collected: " + "; ".join(failed) + "."
    return SIGNIN_LOG, None


def analyse(engine: Engine, case: CaseFile) -> EntraAnalysis:
    ws, we = case.window_start.replace(tzinfo=None), case.window_end.replace(tzinfo=None)
    signin_entries = q.ledger(engine, "signins")
    source, gap = signin_source(signin_entries)
    relation = q.SIGNIN_LOG if source == SIGNIN_LOG else q.AUDIT_LOG
    attacker = q.attacker_logons(engine, relation, ws, we)
    accounts = rules.compromised_accounts(case.indicators.accounts, attacker)
    history = q.account_logons(engine, relation, accounts, we)
    found = rules.new_values(history, accounts, case.window_start, q.known_values(engine),
                             "Entra sign-in log" if source == SIGNIN_LOG else "audit log")
    sessions = rules.sessions(attacker, q.mail_access_by_session(engine), q.mail_access_by_address(engine))
    retention = _retention_note(signin_entries, q.signins_collected_from(engine), case) \
        if source == SIGNIN_LOG else None
    out = EntraAnalysis({"sign_ins": {"source": source, "gap": gap, "retention_note": retention,
                                      "compromised_accounts": accounts, "sessions": sessions}}, found)
    out.limitations += [text for text in (gap, retention) if text]
    out.sections["applications"] = _apps(engine, case)
    for app in out.sections["applications"]["apps"]:
        if app["recent"]:
            read = (app.get("mail_in_window") or {}).get("mailboxes") or []
            used = f"; in the window it read or sent mail of {', '.join(read)}" if read else ""
            out.points.append(f"The application {app['name'] or app['app_id']} was granted {', '.join(app['permissions'])} "
                              f"by {app['consented_by']} at {app['consented_utc']}, in or shortly before the incident "
                              f"window{used}; see applications that can read mail.")
    app_gap = out.sections["applications"]["gap"]
    if app_gap:
        out.limitations.append(app_gap)
    return out


def _retention_words(beyond: list[dict[str, Any]]) -> str:
    """The collector's `beyond-retention` entries in the words the ledger uses (evkit/evidence/retention.py)."""
    spans = sorted((utc_or_none(e["window_start"]), utc_or_none(e["window_end"])) for e in beyond)
    starts = [a for a, _ in spans if a is not None]
    ends = [b for _, b in spans if b is not None]
    if not starts or not ends:
        return beyond_retention_words("the window's start", "a time the ledger does not say")
    return beyond_retention_words(format_plain(min(starts)), format_plain(max(ends)))


def _retention_note(entries: list[dict[str, Any]], started: list[str], case: CaseFile) -> str | None:
    """A sentence when part of the incident window is older than what the sign-in log still held
    when collected: from the collector's `beyond-retention` entry, else (a bundle from a collector
    without it) from when the earliest collection of the log began."""
    beyond = _beyond(entries)
    if beyond:
        words = _retention_words(beyond)
        return (words[0].upper() + words[1:] + " (the audit log's UserLoggedIn records, kept longer, still show "
                "interactive sign-ins).")
    times = [t for t in (utc_or_none(s) for s in started) if t is not None]
    if not times or case.window_start >= min(times) - SIGNIN_RETENTION:
        return None
    kept = min(times) - SIGNIN_RETENTION
    return (f"The Entra sign-in log keeps sign-ins for {SIGNIN_RETENTION.days} days: it was collected from "
            f"{format_plain(min(times))}, so sign-ins before {format_plain(kept)} may be missing from it (the "
            "audit log's UserLoggedIn records, kept longer, still show interactive sign-ins).")


def _apps(engine: Engine, case: CaseFile) -> dict[str, Any]:
    entries = q.ledger(engine, "apps")
    failed = _failed(entries)
    if not entries:
        gap: str | None = ("Applications were not collected (source `apps`): applications granted access to mail "
                           "cannot be listed.")
    elif failed:
        gap = "Part of the application evidence was not collected: " + "; ".join(failed) + "."
    else:
        gap = None
    ws, we = case.window_start.replace(tzinfo=None), case.window_end.replace(tzinfo=None)
    rows = app_rules.mail_apps(q.grants(engine), q.assignments(engine), q.consent_records(engine),
                               q.user_names(engine), q.mail_reads_by_app(engine, ws, we),
                               (case.window_start, case.window_end), collectors=q.collecting_apps(engine))
    return {"gap": gap, "lead_days": app_rules.LEAD.days, "apps": rows}
