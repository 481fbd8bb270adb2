"""The readiness model: "could we investigate a mailbox breach in this tenant today?"

Pure: a TenantConfig (plus bundle facts read by `run.py`) in, one JSON-ready dict out, which
`evkit.report.pdf.readiness` renders and `readiness.json` stores. Every verdict comes from
`evkit.report.coverage.assess`, the same code the breach report uses for its "unknown" class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from evkit.report.coverage.config_evidence import TenantConfig
from evkit.report.coverage.assess import (CAVEATS, DEFAULT_INVESTIGATION_DAYS, LOGON_TYPES,
                             STANDARD_EXPANSION_UTC, VERDICTS, MailboxCoverage, assess_mailboxes,
                             bypassed_accounts, explain, skipped_mailboxes)
from evkit.report.readiness.fixes import plan_fixes
from evkit.times import format_date, format_utc

SCHEMA = "evkit.readiness/1"
WORST_GAPS = 5

LICENCE_RULE = (
    "MailItemsAccessed, Send and SearchQueryInitiated are counted as logged for an account with "
    "Audit (Premium) (service plan M365_ADVANCED_AUDITING enabled), or with Audit (Standard) "
    f"from {format_date(STANDARD_EXPANSION_UTC)} (Microsoft's 2023-2024 expansion); an "
    "account with neither, such as an unlicensed shared mailbox, generates none of them.")


def build_readiness(cfg: TenantConfig, *, bundles: Sequence[Mapping[str, Any]] = (),
                    tenant: Mapping[str, Any] | None = None, evidence_valid: bool = True,
                    evidence_state: str = "valid", warnings: Sequence[str] = (),
                    investigation_days: int = DEFAULT_INVESTIGATION_DAYS) -> dict[str, Any]:
    """The readiness dict; deterministic for the same inputs (no clock, sorted everywhere).
    `evidence_valid`, `evidence_state` and `warnings` are report.intake's (valid, untrusted or
    invalid evidence)."""
    at = cfg.snapshot_utc or STANDARD_EXPANSION_UTC
    rows = assess_mailboxes(cfg, at=at, investigation_days=investigation_days)
    fixes = plan_fixes(cfg, rows, investigation_days=investigation_days)
    return {
        "schema": SCHEMA,
        "evidence_valid": evidence_valid,
        "evidence_state": evidence_state,
        "evidence_warnings": list(warnings),
        "tenant": dict(tenant or {}),
        "as_of_utc": _iso(cfg.snapshot_utc),
        "investigation_days": investigation_days,
        "licence_rule": LICENCE_RULE,
        "bundles": [dict(b) for b in bundles],
        "missing_evidence": list(cfg.missing),
        "switches": _switches(cfg),
        "summary": _summary(cfg, rows, fixes),
        "mailboxes": [_row(r) for r in rows],
        "fixes": [f.to_json(i + 1) for i, f in enumerate(fixes)],
        "limitations": _limitations(cfg),
    }


def _switches(cfg: TenantConfig) -> dict[str, Any]:
    org = cfg.org_config
    admin = cfg.admin_audit_log_config
    disabled = None if org is None else org.get("AuditDisabled") in (True, "True", "true")
    ingestion = None if admin is None else admin.get("UnifiedAuditLogIngestionEnabled", True) in (
        True, "True", "true")
    return {
        "audit_disabled": disabled,
        "unified_audit_log_ingestion_enabled": ingestion,
        "bypassed_accounts": list(bypassed_accounts(cfg)),
        "ok": disabled is False and ingestion is True and not bypassed_accounts(cfg),
    }


def _row(r: MailboxCoverage) -> dict[str, Any]:
    audited = {logon: {a.action: a.audited for a in r.actions if a.logon == logon}
               for logon in LOGON_TYPES}
    return {
        "mailbox": r.mailbox, "display_name": r.display_name, "type": r.type,
        "recipient_type": r.recipient_type, "licence": r.licence.tier,
        "licence_skus": list(r.licence.skus), "bypass": r.bypass,
        "audit_log_age_limit_days": r.audit_log_age_limit_days,
        "default_audit_set": list(r.default_audit_set), "customised_logon_types": list(r.customised),
        "audited": audited, "verdict": r.verdict,
        "reasons": [{"code": c, "text": explain(c)} for c in r.reasons],
        "caveats": [{"code": c, "text": explain(c)} for c in r.caveats],
    }


def _summary(cfg: TenantConfig, rows: Sequence[MailboxCoverage], fixes: Sequence[Any]) -> dict[str, Any]:
    counts = Counter(r.verdict for r in rows)
    total = len(rows)
    share = round(100 * counts["investigable"] / total) if total else 0
    gaps = _worst_gaps(rows)
    return {
        "mailboxes": total, "investigable": counts["investigable"], "partly": counts["partly"],
        "blind": counts["blind"], "investigable_percent": share,
        "by_type": {t: {v: sum(r.verdict == v for r in rows if r.type == t) for v in VERDICTS}
                    for t in sorted({r.type for r in rows})},
        "headline": _headline(cfg, rows, fixes, share),
        "worst_gaps": gaps,
    }


def _worst_gaps(rows: Sequence[MailboxCoverage]) -> list[dict[str, Any]]:
    """Gap codes ranked by how many mailboxes they blind, then by how many they touch."""
    by_code: dict[str, list[MailboxCoverage]] = {}
    blinding: Counter[str] = Counter()
    for r in rows:
        for code in r.reasons:
            by_code.setdefault(code, []).append(r)
        blinding.update(_blinding_codes(r))
    ranked = sorted(by_code.items(), key=lambda kv: (-blinding[kv[0]], -len(kv[1]), kv[0]))
    out = []
    for code, hit in ranked[:WORST_GAPS]:
        hit = sorted(hit, key=lambda r: (code not in _blinding_codes(r), r.mailbox))
        out.append({"code": code, "text": explain(code), "mailboxes": len(hit),
                    "blinded": blinding[code], "examples": [r.mailbox for r in hit[:3]]})
    return out


def _blinding_codes(row: MailboxCoverage) -> tuple[str, ...]:
    """The reasons owner-logon MailItemsAccessed is not logged (what makes a mailbox blind)."""
    for a in row.actions:
        if a.logon == "owner" and a.action == "MailItemsAccessed":
            return a.reasons
    return ()


def _headline(cfg: TenantConfig, rows: Sequence[MailboxCoverage], fixes: Sequence[Any],
              share: int) -> str:
    total = len(rows)
    if not total:
        return ("No mailbox configuration was collected, so readiness cannot be judged: run a "
                "collection with the config and licences sources.")
    if any("org-audit-disabled" in r.reasons for r in rows):
        return ("Today a mailbox breach in this tenant could not be investigated: mailbox auditing "
                "is switched off for the whole organisation. Run "
                "'Set-OrganizationConfig -AuditDisabled $false' now, then work through the fixes below.")
    if any("ingestion-disabled" in r.reasons for r in rows):
        return ("Today a mailbox breach in this tenant could not be investigated: the unified audit "
                "log is not recording. Run 'Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled "
                "$true' now, then work through the fixes below.")
    blind = sum(r.verdict == "blind" for r in rows)
    urgent = sum(f.severity in ("critical", "high") for f in fixes)
    if blind:
        return (f"{share}% of mailboxes ({sum(r.verdict == 'investigable' for r in rows)} of {total}) "
                f"could be fully investigated today; {blind} would show nothing an attacker read. "
                f"Apply the {urgent} high-priority fixes below first.")
    if share < 100:
        return (f"Every mailbox logs what an attacker reads, but only {share}% of mailboxes are fully "
                "investigable: apply the fixes below to log sends, searches and every logon type.")
    return (f"All {total} mailboxes could be investigated today: reads, sends and searches are "
            "logged for owner, delegate and admin access.")


def _limitations(cfg: TenantConfig) -> list[str]:
    out = [
        "This is the configuration when it was collected; it says nothing about earlier months. "
        "The breach report reconstructs earlier states from audit-tampering records.",
        "Send is not applicable to delegate logons (delegate sends are logged as SendAs and "
        "SendOnBehalf); SearchQueryInitiated exists for owner logons only.",
        "An audit bypass association hides the account's actions on every mailbox, not only "
        "its own; the per-mailbox rows show it for the account's own mailbox.",
        LICENCE_RULE,
    ]
    skipped = skipped_mailboxes(cfg)
    if skipped:
        out.append(f"Not assessed (system mailboxes that hold no one's mail): {', '.join(skipped)}.")
    for piece in cfg.missing:
        out.append(f"Not collected: {piece} ({_missing_effect(piece)}).")
    return out


def _missing_effect(piece: str) -> str:
    kind = piece.split(".", 1)[1]
    caveat = {"Get-OrganizationConfig": "org-config-missing", "Get-AdminAuditLogConfig":
              "ingestion-config-missing", "Get-MailboxAuditBypassAssociation": "bypass-evidence-missing"}
    if kind in caveat and caveat[kind] in CAVEATS:
        return explain(caveat[kind])
    if kind == "Get-Mailbox":
        return "no mailbox can be judged"
    return explain("licence-unknown")


def _iso(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None

