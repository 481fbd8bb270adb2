"""Audit coverage over the incident window, as the report states it: the tenant configuration
(or the problem that kept it unread), folder item counts, the coverage table, the stretches in
which mail reading was not logged, the window's coverage problems and the audit-configuration
changes made inside the window."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from evkit.report.casefile import CaseFile
from evkit.report.coverage.assess import assess_mailboxes, explain
from evkit.report.coverage.changes import parse_changes
from evkit.report.coverage.config_evidence import TenantConfig, load_tenant_config
from evkit.report.coverage.periods import coverage_periods
from evkit.report.rules.classify import folder_key
from evkit.report.rules.visibility import NOT_COVERED, Gap, clip
from evkit.times import format_utc

LOGONS = ("owner", "delegate", "admin")


def read_tenant_config(paths: Sequence[Path], problems: list[str]) -> TenantConfig | None:
    """The bundles' tenant configuration, or None with the reason appended to `problems`."""
    try:
        return load_tenant_config(list(paths))
    except Exception as exc:  # noqa: BLE001 - any config page failure must become a named problem
        problems.append(f"audit configuration evidence unreadable: {exc}"[:500])
    return None


def folder_item_counts(cfg: Any) -> dict[tuple[str, str], int]:
    """Get-MailboxFolderStatistics rows -> (mailbox, folder_key) -> ItemsInFolder."""
    out: dict[tuple[str, str], int] = {}
    stats = getattr(cfg, "folder_statistics", None) or {}
    for mailbox, rows in stats.items():
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            path, count = row.get("FolderPath"), row.get("ItemsInFolder")
            if isinstance(path, str) and isinstance(count, int) and not isinstance(count, bool):
                out[(str(mailbox).lower(), folder_key(path))] = count
    return out


def config_changes_in_window(records: list[dict[str, Any]], case: CaseFile) -> list[dict[str, Any]]:
    """The audit-configuration changes the `records` (classic shape) made inside the incident
    window, as findings rows, oldest first."""
    out = []
    for change in parse_changes(records):
        if not case.window_start <= change.time < case.window_end:
            continue
        rec = next((r for r in records if r["Id"] == change.record_id), {})
        value = sorted(change.value) if isinstance(change.value, frozenset) else change.value
        out.append({"time_utc": format_utc(change.time), "operation": change.operation,
                    "actor": rec.get("UserId"), "target": change.target,
                    "description": f"{change.field} {change.op} {value!r}"
                                   + (f" (was {change.previous!r})" if change.previous is not None else ""),
                    "record_ids": [change.record_id]})
    return sorted(out, key=lambda r: (r["time_utc"], r["record_ids"], r["description"]))


def coverage_table(cfg: Any, listed: Collection[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The audit coverage table for the `listed` mailboxes (those in scope and those with a period
    that cannot be known, so it agrees with page 1), and every collected mailbox's type.
    `mail_items_accessed_audited` is true only when mail reading is logged for every logon type;
    `mail_items_accessed_logons` says for which ones it is."""
    if cfg is None:
        return [], {}
    rows, types = [], {}
    for m in assess_mailboxes(cfg):
        types[m.mailbox] = m.type
        if m.mailbox not in listed:
            continue
        logons = {logon: m.audited(logon, "MailItemsAccessed") for logon in LOGONS}
        rows.append({"mailbox": m.mailbox, "type": m.type,
                     "mail_items_accessed_audited": all(v is not False for v in logons.values()),
                     "mail_items_accessed_logons": logons,
                     "licence": getattr(m.licence, "tier", str(m.licence)), "bypass": m.bypass,
                     "verdict": m.verdict, "reason": "; ".join(explain(r) for r in m.reasons)})
    return rows, types


def unlogged_stretches(cfg: Any, tampering: list[dict[str, Any]], case: CaseFile,
                       problems: list[str]) -> dict[str, list[Gap]]:
    """Per mailbox (every collected one), the stretches of the incident window in which its
    MailItemsAccessed was not logged for some logon type; the reason names the logon type,
    because an attacker holding the owner's token, a delegate's or an app's is logged apart."""
    if cfg is None:
        return {}
    window = (case.window_start, case.window_end)
    logons_of: dict[tuple[str, datetime, datetime, str], set[str]] = {}
    for logon in LOGONS:
        try:
            periods = coverage_periods(cfg, tampering, window, logon=logon)
        except (ValueError, KeyError) as exc:
            problems.append(f"audit coverage ({logon}) could not be computed: {exc}"[:500])
            continue
        for mailbox, rows in periods.items():
            for p in rows:
                span = clip(p.start, p.end, window)
                if p.covered or span is None:
                    continue
                for code in p.reasons or ("not-audited",):
                    logons_of.setdefault((mailbox, span[0], span[1], code), set()).add(logon)
    out: dict[str, list[Gap]] = {}
    for (mailbox, start, end, code), logons in sorted(logons_of.items()):
        who = "any" if len(logons) == len(LOGONS) else " and ".join(x for x in LOGONS if x in logons)
        out.setdefault(mailbox, []).append(Gap(start, end, f"{explain(code)} ({who} access not logged)"))
    return out


def window_coverage_problems(blind: Sequence[Gap], cfg: Any, case: CaseFile) -> list[str]:
    """The incident window's stretches no bundle covers, and an audit configuration captured
    before the window starts, as problems. (A configuration captured later is the normal case:
    its earlier states are rebuilt by undoing the changes the audit records show; one captured
    before the window would only be carried forward, blind to any later change.)"""
    out = [f"the incident window from {format_utc(g.start)} to {format_utc(g.end)} is not covered by any "
           "bundle's collection: no mailbox can be assessed there" for g in blind if g.reason == NOT_COVERED]
    snapshot = getattr(cfg, "snapshot_utc", None) if cfg is not None and getattr(cfg, "mailboxes", ()) else None
    if isinstance(snapshot, datetime) and snapshot < case.window_start:
        out.append(f"the audit configuration was captured at {format_utc(snapshot)}, before the incident window: "
                   "its state during the window is carried forward from then, and any later change that is "
                   "not in the evidence is unknown")
    return out
