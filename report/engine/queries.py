"""The engine questions `evkit report` asks besides the analysis: audit-configuration change
records, the load's problems and the completeness ledger. Each takes a loaded Engine."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from evkit.report.engine.loader import Engine
from evkit.times import format_utc

_TAMPER_FIELDS = ("id", "ts", "operation", "account", "object_id", "result_status", "parameters",
                  "modified_properties", "target")


def tampering_records(engine: Engine) -> list[dict[str, Any]]:
    """Candidate audit-tampering records, rebuilt in classic shape for report.coverage.changes."""
    rows = engine.dicts(f"""SELECT {', '.join(_TAMPER_FIELDS)} FROM events
        WHERE operation IN ('Set-OrganizationConfig', 'Set-AdminAuditLogConfig',
              'Set-MailboxAuditBypassAssociation', 'Set-Mailbox', 'Change user license.', 'Update user.')
        ORDER BY ts NULLS LAST, id""")
    out = []
    for r in rows:
        out.append({"Id": r["id"], "CreationTime": format_utc(r["ts"].replace(tzinfo=timezone.utc)) if r["ts"] else None,
                    "Operation": r["operation"], "UserId": r["account"], "ObjectId": r["object_id"],
                    "ResultStatus": r["result_status"], "Parameters": r["parameters"] or [],
                    "ModifiedProperties": r["modified_properties"] or [], "Target": r["target"] or []})
    return out


def blind_problem_count(engine: Engine) -> int:
    """How many load problems left an input unreadable (the analysis cannot see into it)."""
    [(blind,)] = engine.rows("SELECT count(*) FROM problems WHERE blind")
    return int(blind)


def record_tenants(engine: Engine) -> list[tuple[str, str, int]]:
    """(bundle, tenant, records): the tenants (OrganizationId, lower-cased) each bundle's records name."""
    return [(b, t, n) for b, t, n in engine.rows("SELECT bundle, tenant, records FROM record_tenants ORDER BY ALL")]


def load_problems(engine: Engine) -> list[str]:
    """Every problem the load recorded, as "<source or bundle>: <problem>" sentences, sorted."""
    return [f"{src or bundle}: {p}" if src or bundle else p for bundle, src, p in
            engine.rows("SELECT bundle, src, problem FROM problems ORDER BY 1, 2, 3")]


def ledger_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every ledger entry (table `gaps`) with its bundle's collection window (`bundle_start`,
    `bundle_end`), which report.rules.visibility.ledger_gaps gives an entry stating no window."""
    return engine.dicts("""SELECT g.*, b.window_start AS bundle_start, b.window_end AS bundle_end
        FROM gaps g LEFT JOIN bundles b USING (bundle)""")


def completeness_rows(engine: Engine) -> list[dict[str, Any]]:
    """The completeness ledger: one row per (bundle, source, unit) with its status, counts and
    window (report.rules.visibility.mark_covered adds which other source covers it)."""
    return engine.dicts("""SELECT bundle, source, unit, status, reason, expected, received,
        window_start, window_end FROM gaps ORDER BY bundle, source, unit""")
