"""Audit-tampering records -> typed configuration changes that move coverage in time.

A readiness snapshot (`evkit.report.coverage.config_evidence.TenantConfig`) says how auditing was set when the
collector ran. Classic-schema audit records of `Set-OrganizationConfig`,
`Set-AdminAuditLogConfig`, `Set-MailboxAuditBypassAssociation`, `Set-Mailbox` (audit
properties) and licence changes say when that state was reached. This module only parses them;
`evkit.report.coverage.assess` replays them. Pure: no files, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from evkit.times import utc_or_none
from evkit.report.coverage.licensing import tier_of_text

UNKNOWN: Any = None  # a value the record does not tell

LOGON_PROPERTIES = {"AuditOwner": "owner", "AuditDelegate": "delegate", "AuditAdmin": "admin"}
TAMPERING_OPERATIONS = frozenset({
    "Set-OrganizationConfig", "Set-AdminAuditLogConfig", "Set-MailboxAuditBypassAssociation",
    "Set-Mailbox", "Change user license.", "Update user.",
})
_LICENCE_PROPERTIES = ("AssignedPlan", "AssignedLicense")
_HASHTABLE = re.compile(r"(Add|Remove)\s*[=:]\s*(\[[^\]]*\]|[^;}]*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One change of one audit fact, as a record states it.

    `field` is `org_audit_disabled`, `ingestion_enabled`, `bypass`, `audit_enabled`,
    `set:<logon>` (owner/delegate/admin; `op` add/remove/replace/unknown, `value` a frozenset
    of actions), `default_set` (`value` the logon types restored to Microsoft defaults) or
    `licence` (`value` and `previous` a tier: premium/standard/none). `target` is the lower-cased
    mailbox or account identity, None for tenant-wide switches.
    """

    time: datetime
    record_id: str
    operation: str
    target: str | None
    field: str
    op: str
    value: Any
    previous: Any = UNKNOWN


def is_tampering_record(record: Mapping[str, Any]) -> bool:
    """True for records that can change what is audited (docs/methodology.md §3 tampering findings)."""
    return bool(parse_changes([record]))


def parse_changes(records: Iterable[Mapping[str, Any]]) -> list[ConfigChange]:
    """Every audit-relevant change in the records, oldest first, de-duplicated on record Id.

    For on/off switches the value before each change is filled in from the previous change of
    the same switch, else assumed to be the opposite (the command was run to flip it).
    """
    seen: set[str] = set()
    changes: list[ConfigChange] = []
    for record in records:
        rid = str(record.get("Id", ""))
        if rid and rid in seen:
            continue
        seen.add(rid)
        if record.get("ResultStatus") in ("False", "Failed", False):
            continue  # a rejected cmdlet changed nothing
        changes.extend(_changes_of(record))
    changes.sort(key=lambda c: (c.time, c.record_id, c.field))
    last: dict[tuple[str, str | None], ConfigChange] = {}
    filled: list[ConfigChange] = []
    for change in changes:
        key = (change.field, change.target)
        if isinstance(change.value, bool) and change.previous is UNKNOWN:
            before = last[key].value if key in last else not change.value
            change = replace(change, previous=before)
        last[key] = change
        filled.append(change)
    return filled


def _changes_of(record: Mapping[str, Any]) -> list[ConfigChange]:
    operation = str(record.get("Operation", ""))
    when = utc_or_none(record.get("CreationTime"))
    if operation not in TAMPERING_OPERATIONS or when is None:
        return []
    rid = str(record.get("Id", ""))
    base = dict(time=when, record_id=rid, operation=operation)
    if operation in ("Change user license.", "Update user."):
        return _licence_changes(record, base)
    params = _parameters(record)
    target = _target(record, params)
    out: list[ConfigChange] = []
    if operation == "Set-OrganizationConfig" and "AuditDisabled" in params:
        out.append(_flag(base, None, "org_audit_disabled", params["AuditDisabled"]))
    elif operation == "Set-AdminAuditLogConfig" and "UnifiedAuditLogIngestionEnabled" in params:
        out.append(_flag(base, None, "ingestion_enabled", params["UnifiedAuditLogIngestionEnabled"]))
    elif operation == "Set-MailboxAuditBypassAssociation" and "AuditBypassEnabled" in params:
        out.append(_flag(base, target, "bypass", params["AuditBypassEnabled"]))
    elif operation == "Set-Mailbox":
        if "AuditEnabled" in params:
            out.append(_flag(base, target, "audit_enabled", params["AuditEnabled"]))
        for prop, logon in LOGON_PROPERTIES.items():
            if prop in params:
                op, actions = parse_audit_value(params[prop])
                out.append(ConfigChange(**base, target=target, field=f"set:{logon}", op=op,
                                        value=actions))
        if "DefaultAuditSet" in params:
            logons = frozenset(a.lower() for a in _split(params["DefaultAuditSet"]))
            out.append(ConfigChange(**base, target=target, field="default_set", op="replace",
                                    value=logons & {"owner", "delegate", "admin"}))
    return [c for c in out if c.value is not UNKNOWN or c.op == "unknown"]


def _flag(base: dict[str, Any], target: str | None, field: str, raw: str) -> ConfigChange:
    return ConfigChange(**base, target=target, field=field, op="replace", value=parse_bool(raw))


def _licence_changes(record: Mapping[str, Any], base: dict[str, Any]) -> list[ConfigChange]:
    props = {str(p.get("Name")): p for p in record.get("ModifiedProperties") or []
             if isinstance(p, Mapping)}
    target = _licence_target(record)
    for name in _LICENCE_PROPERTIES:
        if name in props:
            old = tier_of_text(str(props[name].get("OldValue") or ""))
            new = tier_of_text(str(props[name].get("NewValue") or ""))
            if old != new and target:
                return [ConfigChange(**base, target=target, field="licence", op="replace",
                                     value=new, previous=old)]
            return []
    return []


def _licence_target(record: Mapping[str, Any]) -> str | None:
    for item in record.get("Target") or []:
        if isinstance(item, Mapping) and "@" in str(item.get("ID", "")):
            return str(item["ID"]).lower()
    object_id = record.get("ObjectId")
    return str(object_id).lower() if object_id else None


def _parameters(record: Mapping[str, Any]) -> dict[str, str]:
    params = record.get("Parameters") or []
    out: dict[str, str] = {}
    if isinstance(params, list):
        for p in params:
            if isinstance(p, Mapping) and p.get("Name"):
                out[str(p["Name"]).lstrip("-")] = str(p.get("Value", ""))
    return out


def _target(record: Mapping[str, Any], params: Mapping[str, str]) -> str | None:
    for value in (params.get("Identity"), record.get("ObjectId")):
        if value:
            return str(value).strip().strip('"').lower()
    return None


def parse_bool(raw: object) -> bool | None:
    text = str(raw).strip().lower().lstrip("$")
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def parse_audit_value(raw: str) -> tuple[str, frozenset[str] | None]:
    """(op, actions) from a `-AuditOwner` value: `@{Add="A","B"}`, `@{Remove=A}`, a list, JSON.

    A value serialised as an opaque `System.Collections.Hashtable` gives ("unknown", None).
    """
    text = str(raw).strip()
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        for key, value in loaded.items():
            if str(key).lower() in ("add", "remove"):
                items = value if isinstance(value, list) else [value]
                return str(key).lower(), frozenset(str(i) for i in items)
    if isinstance(loaded, list):
        return "replace", frozenset(str(i) for i in loaded)
    if "hashtable" in text.lower():
        return "unknown", None
    match = _HASHTABLE.search(text)
    if match:
        return match.group(1).lower(), frozenset(_split(match.group(2)))
    return "replace", frozenset(_split(text))


def _split(text: str) -> list[str]:
    return [p for p in (s.strip().strip("\"'[]{}@ ") for s in re.split(r"[,;\s]+", text)) if p]

