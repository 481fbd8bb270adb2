"""Prioritised fixes for audit-coverage gaps: the exact command, and the related CIS title.

Each gap code from `evkit.report.coverage.assess` maps to one remedy. Commands are Exchange Online
PowerShell (`Connect-ExchangeOnline` first) except licence assignment, which is Microsoft
Graph PowerShell. CIS titles were checked against published copies of the CIS Microsoft 365
Foundations Benchmark (v4.0.0 section 6.1 and v5.0.0 6.1.2 as reproduced in Tenable audit
files; 3.1.1 as quoted by Maester for v6.0.1); gaps no CIS recommendation covers say so rather
than borrow a title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evkit.report.coverage.config_evidence import TenantConfig
from evkit.report.coverage.assess import AUDIT_PROPERTY, MailboxCoverage, bypassed_accounts, explain
from evkit.report.coverage.licensing import PREMIUM_ADDON_SKU, PREMIUM_SKUS

CIS_AUDIT_DISABLED = {"id": "6.1.1", "benchmark": "CIS Microsoft 365 Foundations Benchmark v4.0.0",
                      "title": "(L1) Ensure 'AuditDisabled' organizationally is set to 'False'"}
CIS_AUDIT_SEARCH = {"id": "3.1.1", "benchmark": "CIS Microsoft 365 Foundations Benchmark v6.0.1",
                    "title": "(L1) Ensure Microsoft 365 audit log search is Enabled"}
CIS_BYPASS = {"id": "6.1.4", "benchmark": "CIS Microsoft 365 Foundations Benchmark v4.0.0",
              "title": "(L1) Ensure 'AuditBypassEnabled' is not enabled on mailboxes"}
CIS_AUDIT_ACTIONS = {"id": "6.1.2", "benchmark": "CIS Microsoft 365 Foundations Benchmark v5.0.0",
                     "title": "(L1) Ensure mailbox audit actions are configured"}
CIS_E5_USERS = {"id": "6.1.3", "benchmark": "CIS Microsoft 365 Foundations Benchmark v4.0.0",
                "title": "(L1) Ensure mailbox auditing for E5 users is Enabled"}
CIS_E3_USERS = {"id": "6.1.2", "benchmark": "CIS Microsoft 365 Foundations Benchmark v4.0.0",
                "title": "(L1) Ensure mailbox auditing for E3 users is Enabled"}
NO_CIS = None  # no CIS recommendation covers this gap

SEVERITY = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Fix:
    severity: str
    code: str
    target: str
    action: str
    command: str
    why: str
    cis: Mapping[str, str] | None
    note: str = ""

    def to_json(self, priority: int) -> dict[str, Any]:
        return {"priority": priority, "severity": self.severity, "finding": self.code,
                "target": self.target, "action": self.action, "command": self.command,
                "why": self.why, "note": self.note, "cis": dict(self.cis) if self.cis else None}


def plan_fixes(cfg: TenantConfig, rows: Sequence[MailboxCoverage], *,
               investigation_days: int) -> list[Fix]:
    """Every fix, most urgent first: tenant switches, then what blinds a mailbox, then the rest."""
    fixes: list[Fix] = []
    codes = {c for r in rows for c in r.reasons}
    if "org-audit-disabled" in codes:
        fixes.append(Fix("critical", "org-audit-disabled", "organisation",
                         "Turn mailbox auditing back on for the organisation",
                         "Set-OrganizationConfig -AuditDisabled $false",
                         explain("org-audit-disabled"), CIS_AUDIT_DISABLED))
    if "ingestion-disabled" in codes:
        fixes.append(Fix("critical", "ingestion-disabled", "organisation",
                         "Turn unified audit log recording back on",
                         "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true",
                         explain("ingestion-disabled"), CIS_AUDIT_SEARCH,
                         "run in Exchange Online PowerShell: Security & Compliance PowerShell "
                         "always reads this switch as False"))
    for account in bypassed_accounts(cfg):
        fixes.append(Fix("high", "bypass", account, "Remove the audit bypass association",
                         f'Set-MailboxAuditBypassAssociation -Identity "{_ps(account)}" '
                         "-AuditBypassEnabled $false",
                         "nothing this account does on any mailbox is logged", CIS_BYPASS))
    spare = _spare_premium_sku(cfg)
    for row in sorted(rows, key=lambda r: ({"blind": 0, "partly": 1}.get(r.verdict, 2), r.mailbox)):
        fixes.extend(_mailbox_fixes(row, spare, investigation_days))
    fixes.extend(_search_fixes(rows))
    order = {s: i for i, s in enumerate(SEVERITY)}
    return sorted(fixes, key=lambda f: order[f.severity])  # stable: mailbox order kept inside


def _mailbox_fixes(row: MailboxCoverage, spare: tuple[str, str], days: int) -> list[Fix]:
    out: list[Fix] = []
    ident = _ps(row.mailbox)
    reasons = set(row.reasons)
    blind = row.verdict == "blind"
    if "mailbox-auditing-off" in reasons:
        out.append(Fix("high", "mailbox-auditing-off", row.mailbox, "Turn auditing on for this mailbox",
                       f'Set-Mailbox -Identity "{ident}" -AuditEnabled $true',
                       explain("mailbox-auditing-off"), CIS_AUDIT_ACTIONS))
    if "no-audit-licence" in reasons:
        part, sku_id = spare
        out.append(Fix("high" if blind else "medium", "no-audit-licence", row.mailbox,
                       f"Assign a licence with Audit (Premium) ({part}) to this {row.type} mailbox",
                       f'Set-MgUserLicense -UserId "{ident}" -AddLicenses @{{SkuId="{sku_id}"}} '
                       "-RemoveLicenses @()",
                       "without Audit (Premium) or Audit (Standard) the account generates no "
                       "MailItemsAccessed, Send or SearchQueryInitiated records",
                       NO_CIS, "Microsoft Graph PowerShell (Connect-MgGraph -Scopes "
                       "User.ReadWrite.All); the account needs a usage location first"))
    licence_gap = bool(reasons & {"no-audit-licence", "audit-standard-before-expansion"})
    if "audit-standard-before-expansion" in reasons:
        part, sku_id = spare
        out.append(Fix("high" if blind else "medium", "audit-standard-before-expansion", row.mailbox,
                       f"Add Audit (Premium) ({part}) to this mailbox's Audit (Standard) licence",
                       f'Set-MgUserLicense -UserId "{ident}" -AddLicenses @{{SkuId="{sku_id}"}} '
                       "-RemoveLicenses @()",
                       explain("audit-standard-before-expansion"), CIS_E5_USERS,
                       "Microsoft adds MailItemsAccessed and Send to Microsoft-managed audit sets "
                       "once the licence is active (within 24 hours)"))
    missing: dict[str, list[str]] = {a.logon: [] for a in row.actions}
    for a in row.actions:
        if not a.audited and f"audit-set-lacks-{a.action}" in a.reasons and a.action != "SearchQueryInitiated":
            missing[a.logon].append(a.action)
    restore = [t for t in missing if missing[t] and t in row.customised]
    managed = [t for t in missing if missing[t] and t not in row.customised]
    mia = any("MailItemsAccessed" in v for v in missing.values())
    code = "audit-set-lacks-MailItemsAccessed" if mia else "audit-set-lacks-Send"
    owner_mia = "MailItemsAccessed" in missing.get("owner", [])
    severity = "high" if owner_mia else "medium"
    if restore:
        lacking = sorted({x for t in restore for x in missing[t]})
        out.append(Fix(severity, code, row.mailbox,
                       "Restore Microsoft's default audit set (" + ", ".join(lacking) + " missing for "
                       + ", ".join(restore) + " logons)",
                       f'Set-Mailbox -Identity "{ident}" -DefaultAuditSet Admin,Delegate,Owner',
                       explain(code), CIS_AUDIT_ACTIONS,
                       "restoring resets customised logon types to the defaults; re-add "
                       "SearchQueryInitiated afterwards"))
    if managed and not licence_gap:  # with a licence gap, the licence fix brings the defaults
        params = " ".join(f"-{AUDIT_PROPERTY[t]} @{{Add=" + ",".join(f'"{x}"' for x in missing[t]) + "}"
                          for t in managed)
        what = "; ".join(f"{', '.join(missing[t])} for {t} logons" for t in managed)
        out.append(Fix(severity, code, row.mailbox, f"Add {what}",
                       f'Set-Mailbox -Identity "{ident}" {params}', explain(code), CIS_AUDIT_ACTIONS,
                       "a Microsoft-managed set that lacks MailItemsAccessed predates the 2024 "
                       "expansion; adding the actions customises the set"))
    if "mailbox-audit-retention-short" in reasons:
        out.append(Fix("low", "mailbox-audit-retention-short", row.mailbox,
                       f"Keep the mailbox audit log for at least {days} days",
                       f'Set-Mailbox -Identity "{ident}" -AuditLogAgeLimit {days}',
                       f"AuditLogAgeLimit is {_days(row.audit_log_age_limit_days)} days",
                       NO_CIS))
    if "ual-retention-short" in reasons:
        out.append(Fix("low", "ual-retention-short", row.mailbox,
                       "Keep unified audit records for the investigation window",
                       "", f"Audit (Standard) keeps records 180 days; the window is {days} days: "
                       "assign Audit (Premium) (1 year) or export the audit log regularly", NO_CIS))
    return out


def _search_fixes(rows: Sequence[MailboxCoverage]) -> list[Fix]:
    """SearchQueryInitiated is off by default: one command for many mailboxes, else per mailbox."""
    off = [r.mailbox for r in rows if "audit-set-lacks-SearchQueryInitiated" in r.reasons]
    why = "without it, what an attacker searched for in a mailbox is not recorded"
    note = ("SearchQueryInitiated is off by default even after the 2024 expansion; it needs the same "
            "licence as MailItemsAccessed, and must be re-added after restoring a default audit set")
    if len(off) == 1:
        return [Fix("medium", "audit-set-lacks-SearchQueryInitiated", off[0],
                    "Audit the owner's mailbox searches",
                    f'Set-Mailbox -Identity "{_ps(off[0])}" -AuditOwner @{{Add="SearchQueryInitiated"}}',
                    why, CIS_AUDIT_ACTIONS, note)]
    if not off:
        return []
    return [Fix("medium", "audit-set-lacks-SearchQueryInitiated", f"{len(off)} mailboxes",
                "Audit owners' mailbox searches in every user and shared mailbox",
                "Get-Mailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox,SharedMailbox | "
                'Set-Mailbox -AuditOwner @{Add="SearchQueryInitiated"}',
                why + ": " + ", ".join(off), CIS_AUDIT_ACTIONS, note)]


def _spare_premium_sku(cfg: TenantConfig) -> tuple[str, str]:
    """A Premium SKU the tenant owns with free seats, else the E5 Compliance add-on."""
    for sku in sorted(cfg.subscribed_skus, key=lambda s: str(s.get("skuPartNumber", ""))):
        part = str(sku.get("skuPartNumber", ""))
        free = int((sku.get("prepaidUnits") or {}).get("enabled", 0) or 0) - int(sku.get("consumedUnits", 0) or 0)
        if part in PREMIUM_SKUS and free > 0 and sku.get("skuId"):
            return part, str(sku["skuId"])
    return PREMIUM_ADDON_SKU


def _ps(value: str) -> str:
    """A value safe inside a double-quoted PowerShell string (no expansion, no breakout)."""
    return "".join(ch for ch in value if ch.isprintable()).replace("`", "``").replace(
        '"', '`"').replace("$", "`$")


def _days(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"
