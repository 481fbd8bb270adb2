"""The sign-ins and mail-reading applications sections (findings.json `sign_ins`, `applications`).

Both state where their rows come from and any gap first: a sign-in list read from the audit log
because the Entra sign-in log is missing must never look like the full log, and an application
list that was not collected must never read as "no application".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reportlab.platypus import Flowable

from evkit.report.outputs.model import Findings
from evkit.report.pdf.common import (Column, as_dict, as_list, as_rows, clean, data_table, esc, none_found, note, rich,
                                     show_time)


def _join(values: Any, limit: int = 120) -> str:
    return ", ".join(clean(v, limit) for v in as_list(values)) or "-"


def _signins(findings: Findings) -> list[Flowable]:
    sec = as_dict(findings.get("sign_ins"))
    out: list[Flowable] = [rich(f"The sign-ins of the attacker's sessions (those attributed through the case's "
                      f"indicators), from the {esc(sec.get('source') or 'unknown source')}, each with the mail "
                      "access the same session (or, failing that, the same address) went on to.", "body")]
    for key in ("gap", "retention_note"):
        if sec.get(key):
            out.append(note(clean(sec[key], 600)))
    cols = [Column("Session / time (UTC)", 0.2, mono=True), Column("Sign-ins", 0.08, True),
            Column("Address", 0.13), Column("App / device", 0.17), Column("User agent", 0.22, limit=240),
            Column("Mail access (records, mailboxes)", 0.2)]
    rows = []
    for s in as_rows(sec.get("sessions")):
        access = as_dict(s.get("mail_access"))
        mail = (f"{access.get('records', 0):,} by {clean(s.get('joined_by'))}: {_join(access.get('mailboxes'))}"
                if access else "none attributed")
        failed = f" ({s.get('failed')} failed)" if s.get("failed") else ""
        rows.append([f"{clean(s.get('session_id') or 'no session id', 40)}\n{show_time(s.get('first_utc'))}",
                     f"{s.get('sign_in_count', 0)}{failed}", _join(s.get("ips")),
                     f"{_join(s.get('apps'))}; {_join(s.get('devices'))}", _join(s.get("user_agents"), 240), mail])
    out += data_table(cols, rows, what="sessions") if rows else [none_found(
        "None found: no sign-in in the evidence falls in an attributed session or comes from an indicator's address.")]
    return out


def _apps(findings: Findings) -> list[Flowable]:
    sec = as_dict(findings.get("applications"))
    lead = sec.get("lead_days", 30)
    out: list[Flowable] = [rich("Applications granted permissions that reach mail (Microsoft Graph Mail.*, Exchange "
                      "Online EWS or full access, IMAP/POP/SMTP), with who consented and when. Those consented "
                      f"in the incident window or up to {esc(lead)} days before it are listed first; a consent "
                      "whose time the evidence does not hold says so.", "body")]
    if sec.get("gap"):
        out.append(note(clean(sec["gap"], 600)))
    cols = [Column("Application", 0.22), Column("Permissions", 0.16), Column("Consented by", 0.17),
            Column("When (UTC)", 0.19), Column("Recent", 0.07), Column("Mail in the window", 0.19)]
    rows = []
    for a in as_rows(sec.get("apps")):
        used = as_dict(a.get("mail_in_window"))
        when = show_time(a.get("consented_utc")) if a.get("consented_utc") else "unknown"
        rows.append([f"{clean(a.get('name') or '-', 80)}\n{clean(a.get('app_id'), 40)}",
                     f"{_join(a.get('permissions'))} ({clean(a.get('type'))})", clean(a.get("consented_by") or "-"),
                     f"{when}: {clean(a.get('consent_time_basis'), 200)}",
                     "evkit" if a.get("collecting_app") else "yes" if a.get("recent")
                     else ("unknown" if not a.get("consent_time_known") else "no"),
                     f"{used.get('records', 0):,} records: {_join(used.get('mailboxes'))}" if used else "-"])
    if rows:
        out += data_table(cols, rows, what="applications")
    elif not sec.get("gap"):
        out.append(none_found("None found: no application holds a permission that reaches mail."))
    return out


SECTIONS: tuple[tuple[str, Callable[[Findings], list[Flowable]]], ...] = (
    ("Sign-ins of the attacker's sessions", _signins),
    ("Applications that can read mail", _apps),
)
