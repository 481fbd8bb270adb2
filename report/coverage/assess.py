"""The one answer to "was this mailbox's access logged?", for readiness and for the breach report.

Inputs are the collected configuration (`evkit.report.coverage.config_evidence.TenantConfig`) and, for the
breach report, audit-tampering records that move the answer in time. Facts used
(docs/microsoft-365.md):

* org switches (6.1): `AuditDisabled` True audits no mailbox at all; `UnifiedAuditLogIngestionEnabled`
  False keeps every record out of the unified audit log, which is what evkit reads.
* audit sets (6.2, 6.3): `AuditOwner`/`AuditDelegate`/`AuditAdmin` as Get-Mailbox lists them
  are what is audited; `DefaultAuditSet` only says which logon types Microsoft still manages
  (a customised type receives no new defaults, 5.4, so the fix differs). A pre-expansion
  Standard tenant lists no MailItemsAccessed even for Microsoft-managed sets (ICEWOLF capture,
  6.3): we trust the list, not an assumed default. SearchQueryInitiated exists for owner
  logons only and is never a default. Delegate sends are SendAs/SendOnBehalf, so Send is not
  applicable to delegate logons.
* bypass (6.4): an account with `AuditBypassEnabled` True is logged nowhere; for its own
  mailbox that hides every owner logon, including an attacker using the stolen account.
* licence rule (5.3, 5.4, 4.3): MailItemsAccessed, Send and SearchQueryInitiated are generated
  only for an account holding Audit (Premium) (`M365_ADVANCED_AUDITING` enabled) at any time,
  or Audit (Standard) from `STANDARD_EXPANSION_UTC` on. Microsoft announced the expansion in
  July 2023 and, in its February 2024 post, declared the events on by default with no
  prerequisites; we take 2024-02-01 (the emulator's ground truth uses the same date). Before
  it, Standard-only mailboxes are reported as not covered, so the breach report says it cannot
  know instead of "no evidence of access". An account with neither (typically an unlicensed
  shared mailbox) generates none of them.
* retention: the mailbox audit log keeps `AuditLogAgeLimit` (6.2); the unified audit log keeps
  Standard records 180 days and Premium records one year (5.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from evkit.report.coverage.config_evidence import (ADMIN_AUDIT_LOG_CONFIG, BYPASS, LICENSE_DETAILS, ORG_CONFIG,
                                    USERS, TenantConfig)
from evkit.report.coverage.licensing import Licence, licence_from_details, licence_from_user

LOGON_TYPES = ("owner", "delegate", "admin")
ACTIONS = ("MailItemsAccessed", "Send", "SearchQueryInitiated")
APPLICABLE: Mapping[str, tuple[str, ...]] = {
    "owner": ("MailItemsAccessed", "Send", "SearchQueryInitiated"),
    "delegate": ("MailItemsAccessed",),
    "admin": ("MailItemsAccessed", "Send"),
}
AUDIT_PROPERTY = {"owner": "AuditOwner", "delegate": "AuditDelegate", "admin": "AuditAdmin"}
#: Microsoft-managed defaults after the 2023-2024 expansion (docs/microsoft-365.md §6.3, starred rows)
DEFAULT_ACTIONS: Mapping[str, frozenset[str]] = {
    "owner": frozenset({"ApplyRecord", "HardDelete", "MailItemsAccessed", "MoveToDeletedItems",
                        "Send", "SoftDelete", "Update", "UpdateCalendarDelegation",
                        "UpdateFolderPermissions", "UpdateInboxRules"}),
    "delegate": frozenset({"ApplyRecord", "Create", "HardDelete", "MailItemsAccessed",
                           "MoveToDeletedItems", "SendAs", "SendOnBehalf", "SoftDelete",
                           "Update", "UpdateFolderPermissions", "UpdateInboxRules"}),
    "admin": frozenset({"ApplyRecord", "Create", "HardDelete", "MailItemsAccessed",
                        "MoveToDeletedItems", "Send", "SendAs", "SendOnBehalf", "SoftDelete",
                        "Update", "UpdateCalendarDelegation", "UpdateFolderPermissions",
                        "UpdateInboxRules"}),
}
LICENSED_ACTIONS = frozenset(ACTIONS)
STANDARD_EXPANSION_UTC = datetime(2024, 2, 1, tzinfo=timezone.utc)
UAL_RETENTION_DAYS = {"premium": 365, "standard": 180, "none": 180, "unknown": 180}
DEFAULT_INVESTIGATION_DAYS = 90
DEFAULT_AUDIT_TYPES = frozenset({"user", "shared", "group"})
ASSESSED_TYPES = DEFAULT_AUDIT_TYPES | {"resource"}
VERDICTS = ("investigable", "partly", "blind")

#: reason codes -> plain text. Codes are stable (tests, JSON, ground truth); text is for people.
REASONS: Mapping[str, str] = {
    "org-audit-disabled": "mailbox auditing is switched off for the whole organisation (AuditDisabled)",
    "ingestion-disabled": "the unified audit log is not recording (UnifiedAuditLogIngestionEnabled is off)",
    "mailbox-auditing-off": "this mailbox type is audited only with AuditEnabled, which is off",
    "bypass": "the mailbox's account has an audit bypass association: nothing it does is logged",
    "audit-set-lacks-MailItemsAccessed": "MailItemsAccessed is missing from the mailbox's audit set",
    "audit-set-lacks-Send": "Send is missing from the mailbox's audit set",
    "audit-set-lacks-SearchQueryInitiated": "SearchQueryInitiated is not audited (it is off by default)",
    "audit-set-unknown": "the audit set in force at that time cannot be reconstructed",
    "no-audit-licence": "the account holds no licence with Audit (Premium) or Audit (Standard)",
    "audit-standard-before-expansion": "Audit (Standard) did not yet generate these events (before 2024-02-01)",
    "mailbox-audit-retention-short": "the mailbox audit log keeps records for less than the investigation window",
    "ual-retention-short": "the unified audit log keeps this licence's records for less than the investigation window",
    "org-config-missing": "organisation audit settings were not collected (assumed on)",
    "ingestion-config-missing": "audit log ingestion setting was not collected (assumed on)",
    "bypass-evidence-missing": "bypass associations were not collected (assumed none)",
    "licence-unknown": "the account's licence was not collected (assumed sufficient)",
    "audit-set-assumed-default": "the audit set before a recorded change is assumed to be Microsoft's default",
}
#: gaps reported with a fix that do not lower a mailbox's verdict
SEARCH_ONLY = frozenset({"audit-set-lacks-SearchQueryInitiated"})
#: codes that do not stop logging; they qualify a covered answer
CAVEATS = frozenset({"org-config-missing", "ingestion-config-missing", "bypass-evidence-missing",
                     "licence-unknown", "audit-set-assumed-default"})


def explain(code: str) -> str:
    """Plain-language text for a reason code (the code itself when unknown)."""
    return REASONS.get(code, code)


@dataclass(frozen=True, slots=True)
class AuditState:
    """The audit facts of one mailbox at one instant; sets are effective (defaults resolved).

    None means not known: a missing piece of evidence, or a state that cannot be
    reconstructed from the tampering records.
    """

    org_audit_disabled: bool | None
    ingestion_enabled: bool | None
    audit_enabled: bool | None
    sets: Mapping[str, frozenset[str] | None]
    bypass: bool | None
    licence: str
    assumed: frozenset[str] = frozenset()  # logon types whose set is assumed Microsoft's default


@dataclass(frozen=True, slots=True)
class ActionCoverage:
    logon: str
    action: str
    audited: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MailboxCoverage:
    """Readiness facts of one mailbox now: what is audited, for whom, and the verdict."""

    mailbox: str
    display_name: str
    type: str
    recipient_type: str
    licence: Licence
    bypass: bool | None
    audit_log_age_limit_days: float | None
    default_audit_set: tuple[str, ...]
    customised: tuple[str, ...]
    actions: tuple[ActionCoverage, ...]
    verdict: str
    reasons: tuple[str, ...]
    caveats: tuple[str, ...] = ()

    def audited(self, logon: str, action: str) -> bool | None:
        """True/False for an applicable (logon, action); None when not applicable."""
        for a in self.actions:
            if a.logon == logon and a.action == action:
                return a.audited
        return None


@dataclass(frozen=True, slots=True)
class CoveragePeriod:
    """A stretch of time in which a mailbox's access was (not) logged, and why."""

    start: datetime
    end: datetime
    covered: bool
    reasons: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- mailbox identity and type

_ID_FIELDS = ("UserPrincipalName", "PrimarySmtpAddress", "WindowsEmailAddress", "Alias", "Name",
              "DisplayName", "Identity", "Id", "ExternalDirectoryObjectId", "ExchangeGuid", "Guid",
              "DistinguishedName", "SamAccountName", "ExchangeObjectId", "ObjectId")
_TYPES = {"usermailbox": "user", "sharedmailbox": "shared", "roommailbox": "resource",
          "equipmentmailbox": "resource", "groupmailbox": "group", "discoverymailbox": "discovery"}


def mailbox_key(mailbox: Mapping[str, Any]) -> str:
    """The name a mailbox goes by in every evkit output: its UPN (or address), lower-cased."""
    for name in ("UserPrincipalName", "PrimarySmtpAddress", "WindowsEmailAddress", "Identity", "Name"):
        if mailbox.get(name):
            return str(mailbox[name]).lower()
    return ""


def identifiers(obj: Mapping[str, Any]) -> frozenset[str]:
    """Every name an object may be referred to by (UPN, alias, GUIDs, addresses), lower-cased."""
    ids = {str(obj[f]).strip().lower() for f in _ID_FIELDS if obj.get(f)}
    for addr in obj.get("EmailAddresses") or []:
        text = str(addr)
        ids.add((text.split(":", 1)[1] if ":" in text else text).lower())
    return frozenset(i for i in ids if i)


def mailbox_type(mailbox: Mapping[str, Any]) -> str:
    return _TYPES.get(str(mailbox.get("RecipientTypeDetails", "")).lower(), "other")


# ---------------------------------------------------------------- state from the snapshot

def state_now(cfg: TenantConfig, mailbox: Mapping[str, Any]) -> AuditState:
    """The mailbox's audit facts at the snapshot (collection) time."""
    ids = identifiers(mailbox)
    sets: dict[str, frozenset[str] | None] = {
        logon: frozenset(str(a) for a in mailbox.get(prop) or [])
        for logon, prop in AUDIT_PROPERTY.items()}
    org = cfg.org_config or {}
    admin = cfg.admin_audit_log_config or {}
    return AuditState(
        org_audit_disabled=_tri(org.get("AuditDisabled"), False) if cfg.has(ORG_CONFIG) else None,
        ingestion_enabled=(_tri(admin.get("UnifiedAuditLogIngestionEnabled"), True)
                           if cfg.has(ADMIN_AUDIT_LOG_CONFIG) else None),
        audit_enabled=_bool(mailbox.get("AuditEnabled")),
        sets=sets,
        bypass=_bypassed(cfg, ids),
        licence=licence_of(cfg, mailbox).tier,
    )


def _bypassed(cfg: TenantConfig, ids: frozenset[str]) -> bool | None:
    if not cfg.has(BYPASS):
        return None
    return any(_bool(b.get("AuditBypassEnabled")) and identifiers(b) & ids
               for b in cfg.bypass_associations)


def bypassed_accounts(cfg: TenantConfig) -> tuple[str, ...]:
    """Accounts whose actions are logged nowhere, on any mailbox (for the tenant findings)."""
    names = {str(b.get("Name") or b.get("Identity") or b.get("ObjectId") or "?")
             for b in cfg.bypass_associations if _bool(b.get("AuditBypassEnabled"))}
    return tuple(sorted(names))


def licence_of(cfg: TenantConfig, mailbox: Mapping[str, Any]) -> Licence:
    """The audit tier of the mailbox's account, from the best licence evidence collected."""
    ids = identifiers(mailbox)
    for key in sorted(ids):
        if key in cfg.license_details:
            return licence_from_details(cfg.license_details[key])
    for user in cfg.users:
        user_ids = {str(user.get(k, "")).lower() for k in ("id", "userPrincipalName", "mail")}
        if user_ids & ids:
            return licence_from_user(user, cfg.subscribed_skus)
    if not (cfg.has(USERS) or cfg.has(LICENSE_DETAILS)):
        return Licence("unknown", (), "licence evidence not collected")
    return Licence("unknown", (), "no user object for this mailbox in the licence evidence")


def _tri(value: object, default: bool) -> bool:
    """A switch's value; a property absent from the answer has its documented default."""
    return default if value is None else _bool(value)


def _bool(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("true", "$true", "1")


# ---------------------------------------------------------------- evaluation

def evaluate(state: AuditState, kind: str, logon: str, action: str,
             at: datetime) -> tuple[bool, tuple[str, ...]]:
    """Whether (logon, action) on a mailbox of `kind` was logged at `at`, with reason codes.

    Blocking reasons make it False; caveats (CAVEATS) qualify a True.
    """
    reasons: list[str] = []
    if state.org_audit_disabled:
        reasons.append("org-audit-disabled")
    if state.ingestion_enabled is False:
        reasons.append("ingestion-disabled")
    if kind not in DEFAULT_AUDIT_TYPES and not state.audit_enabled:
        reasons.append("mailbox-auditing-off")
    if logon == "owner" and state.bypass:
        reasons.append("bypass")
    actions = state.sets.get(logon)
    if actions is None:
        reasons.append("audit-set-unknown")
    elif action not in actions:
        reasons.append(f"audit-set-lacks-{action}")
    if action in LICENSED_ACTIONS:
        if state.licence == "none":
            reasons.append("no-audit-licence")
        elif state.licence == "standard" and at < STANDARD_EXPANSION_UTC:
            reasons.append("audit-standard-before-expansion")
    caveats = [c for c, missing in (
        ("org-config-missing", state.org_audit_disabled is None),
        ("ingestion-config-missing", state.ingestion_enabled is None),
        ("bypass-evidence-missing", state.bypass is None and logon == "owner"),
        ("licence-unknown", state.licence == "unknown" and action in LICENSED_ACTIONS),
    ) if missing]
    if logon in state.assumed:
        caveats.append("audit-set-assumed-default")
    return (not reasons, tuple(reasons) if reasons else tuple(caveats))


def assess_mailbox(cfg: TenantConfig, mailbox: Mapping[str, Any], *, at: datetime,
                   investigation_days: int = DEFAULT_INVESTIGATION_DAYS) -> MailboxCoverage:
    """Readiness of one mailbox at `at`: per logon type and action, then a verdict.

    blind: owner-logon MailItemsAccessed is not logged (an attacker using the account reads
    unseen). partly: that is logged but something else needed to say what was read or sent is
    not (reads by delegate or admin logons, Send, retention). investigable: all of that is.
    SearchQueryInitiated is reported (reason and fix) but does not lower the verdict: it is off
    by default in every tenant (docs/microsoft-365.md §5.3) and shows what was searched, not what was read.
    """
    kind = mailbox_type(mailbox)
    state = state_now(cfg, mailbox)
    rows: list[ActionCoverage] = []
    caveats: set[str] = set()
    for logon in LOGON_TYPES:
        for action in APPLICABLE[logon]:
            ok, why = evaluate(state, kind, logon, action, at)
            rows.append(ActionCoverage(logon, action, ok, () if ok else why))
            if ok:
                caveats.update(why)
    licence = licence_of(cfg, mailbox)
    age = parse_days(mailbox.get("AuditLogAgeLimit"))
    reasons = order_reasons({r for a in rows for r in a.reasons})
    if age is not None and age < investigation_days:
        reasons.append("mailbox-audit-retention-short")
    if UAL_RETENTION_DAYS[licence.tier] < investigation_days:
        reasons.append("ual-retention-short")
    owner_mia = next(a for a in rows if a.logon == "owner" and a.action == "MailItemsAccessed")
    lowering = [r for r in reasons if r not in SEARCH_ONLY]
    verdict = "blind" if not owner_mia.audited else "partly" if lowering else "investigable"
    default = tuple(sorted({str(x) for x in mailbox.get("DefaultAuditSet") or []}))
    return MailboxCoverage(
        mailbox=mailbox_key(mailbox), display_name=str(mailbox.get("DisplayName") or ""),
        type=kind, recipient_type=str(mailbox.get("RecipientTypeDetails") or ""),
        licence=licence, bypass=state.bypass, audit_log_age_limit_days=age,
        default_audit_set=default,
        customised=tuple(t for t in LOGON_TYPES if t not in {d.lower() for d in default}),
        actions=tuple(rows), verdict=verdict, reasons=tuple(reasons),
        caveats=tuple(sorted(caveats)))


def assess_mailboxes(cfg: TenantConfig, *, at: datetime | None = None,
                     investigation_days: int = DEFAULT_INVESTIGATION_DAYS) -> tuple[MailboxCoverage, ...]:
    """Every collected user, shared, group and resource mailbox, sorted by name.

    System mailboxes (discovery, arbitration, public folder...) hold no one's mail and are
    left out (`skipped_mailboxes` lists them). `at` defaults to the snapshot time.
    """
    when = at or cfg.snapshot_utc or datetime.now(timezone.utc)
    rows = [assess_mailbox(cfg, m, at=when, investigation_days=investigation_days)
            for m in cfg.mailboxes if mailbox_key(m) and mailbox_type(m) in ASSESSED_TYPES]
    return tuple(sorted(rows, key=lambda r: r.mailbox))


def skipped_mailboxes(cfg: TenantConfig) -> tuple[str, ...]:
    """Mailboxes assess_mailboxes leaves out, as "name (RecipientTypeDetails)"."""
    return tuple(sorted(f"{mailbox_key(m)} ({m.get('RecipientTypeDetails') or 'unknown type'})"
                        for m in cfg.mailboxes if mailbox_key(m) and mailbox_type(m) not in ASSESSED_TYPES))


def order_reasons(codes: Iterable[str]) -> list[str]:
    """Reason codes in REASONS order (most basic first), then any others alphabetically."""
    order = list(REASONS)
    return sorted(set(codes), key=lambda c: (order.index(c) if c in order else len(order), c))


def parse_days(value: object) -> float | None:
    """Days in a .NET TimeSpan string such as "90.00:00:00" or "1.12:00:00"."""
    if value is None:
        return None
    text = str(value).strip()
    days_part, _, clock = text.partition(".") if ":" in text.partition(".")[2] else ("0", "", text)
    try:
        days = float(days_part)
        h, m, s = (float(x) for x in (clock.split(":") + ["0", "0", "0"])[:3])
    except ValueError:
        return None
    return days + (h * 3600 + m * 60 + s) / 86400
