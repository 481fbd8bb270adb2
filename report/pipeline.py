"""`evkit report` as a library call: verify, load, analyse, write outputs, sign custody.

Each step is one call into the module that owns it; this module only sequences them and
collects what could not be read into the findings' `problems`, so a damaged bundle gives a
report that names the damage rather than a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evkit.evidence.inventory import Inventory, scan_bundles
from evkit.report.analysis import Analysis, analyse
from evkit.report.casefile import CaseFile, load_case
from evkit.report.rules.classify import folder_key
from evkit.report.engine.loader import Engine, needs_disk
from evkit.report.errors import RenderError
from evkit.report.intake import Intake, Trust, VerifiedBundle, verify_bundles
from evkit.report.outputs.csvcells import csv_bytes
from evkit.report.outputs.findings import BundleInfo, build_findings
from evkit.report.outputs.folder import check_output_folder
from evkit.report.rules.suggest import Suggestion
from evkit.report.tenancy import case_id_warnings, check_tenants
from evkit.report.engine.suggestion_queries import suggestions
from evkit.report.rules.visibility import NOT_COVERED, Gap, clip
from evkit.times import format_utc

logger = logging.getLogger(__name__)

ITEM_COLUMNS = ("mailbox", "internet_message_id", "folder", "classification", "reason",
                "first_access_utc", "last_access_utc", "record_ids")
OUTPUTS = ("findings.json", "items.csv", "report.pdf")


@dataclass(frozen=True, slots=True)
class ReportResult:
    findings: dict[str, Any]
    outputs: dict[str, str]  # name -> sha256 of what was written
    pdf_skipped: str | None  # why report.pdf was not written, when it was not
    custody_skipped: str | None = None  # why --key signed no custody record, when it did not
    warnings: tuple[str, ...] = ()  # plain sentences for the console: evidence let through
                                    # untrusted or invalid, mixed tenants, an unmatched case id


# ---- verification (report.intake) --------------------------------------------------------------

def bundle_info(inv: Inventory, seen: VerifiedBundle) -> BundleInfo:
    c = inv.collection
    return BundleInfo(
        path_name=inv.name, case_id=c.get("case_id") if isinstance(c.get("case_id"), str) else None,
        collection_id=c.get("collection_id") if isinstance(c.get("collection_id"), str) else None,
        verdict=seen.verdict, findings=seen.findings, tagmanifest_sha256=seen.tagmanifest_sha256,
        signer=seen.signer, signer_fingerprint=seen.signer_fingerprint, custody=seen.custody,
        finished_utc=c.get("finished_utc") if isinstance(c.get("finished_utc"), str) else None)


# ---- tenant configuration (report.coverage) -----------------------------------------------------

def tenant_config(paths: Sequence[Path], problems: list[str]):
    try:
        from evkit.report.coverage.config_evidence import load_tenant_config  # noqa: PLC0415
        return load_tenant_config(list(paths))
    except ImportError:
        problems.append("audit configuration was not assessed (report.config_evidence unavailable)")
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


_TAMPER_FIELDS = ("id", "ts", "operation", "account", "object_id", "result_status", "parameters",
                  "modified_properties", "target")


def tampering_records(engine: Engine) -> list[dict[str, Any]]:
    """Candidate audit-tampering records, rebuilt in classic shape for report.coverage_events."""
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


def tampering_findings(records: list[dict[str, Any]], case: CaseFile) -> list[dict[str, Any]]:
    try:
        from evkit.report.coverage.changes import parse_changes  # noqa: PLC0415
    except ImportError:
        return []
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


def coverage_rows(cfg: Any, listed: Collection[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The audit coverage table for the `listed` mailboxes (those in scope and those with a period
    that cannot be known, so it agrees with page 1), and every collected mailbox's type.
    `mail_items_accessed_audited` is true only when mail reading is logged for every logon type;
    `mail_items_accessed_logons` says for which ones it is."""
    if cfg is None:
        return [], {}
    from evkit.report.coverage.assess import assess_mailboxes, explain  # noqa: PLC0415
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


LOGONS = ("owner", "delegate", "admin")


def unknown_from_config(cfg: Any, tampering: list[dict[str, Any]], case: CaseFile,
                        problems: list[str]) -> dict[str, list[Gap]]:
    """Per mailbox (every collected one), the stretches of the incident window in which its
    MailItemsAccessed was not logged for some logon type; the reason names the logon type,
    because an attacker holding the owner's token, a delegate's or an app's is logged apart."""
    if cfg is None:
        return {}
    from evkit.report.coverage.assess import explain  # noqa: PLC0415
    from evkit.report.coverage.periods import coverage_periods  # noqa: PLC0415
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


def coverage_problems(blind: Sequence[Gap], cfg: Any, case: CaseFile) -> list[str]:
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


# ---- outputs ----------------------------------------------------------------------------------

def items_csv(analysis: Analysis) -> bytes:
    """items.csv; cells a spreadsheet would evaluate are neutralised (report.outputs.csvcells)."""
    return csv_bytes(ITEM_COLUMNS, ([v.mailbox, v.imid, v.folder, v.classification.value, v.reason,
                                     format_utc(v.first_access) if v.first_access else "",
                                     format_utc(v.last_access) if v.last_access else "",
                                     " ".join(v.record_ids)] for v in analysis.verdicts))


def findings_json(findings: Mapping[str, Any]) -> bytes:
    return (json.dumps(findings, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _pdf_renderer() -> Callable[[dict, Path], None] | None:
    try:
        from evkit.report.pdf.report import render_report  # noqa: PLC0415 - reportlab only when rendering
    except ImportError:
        return None
    return render_report


def write_outputs(out: Path, findings: dict[str, Any], analysis: Analysis,
                  render: Callable[[dict, Path], None] | None) -> tuple[dict[str, str], str | None]:
    """Write the three outputs; `render` is the PDF renderer (_pdf_renderer), None without one."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {"items.csv": items_csv(analysis), "findings.json": findings_json(findings)}
        for name, blob in written.items():
            (out / name).write_bytes(blob)
        hashes = {name: hashlib.sha256(blob).hexdigest() for name, blob in written.items()}
        if render is None:
            return hashes, "report.pdf not written: the PDF renderer (report.pdf) is not installed"
        render(findings, out / "report.pdf")
        hashes["report.pdf"] = hashlib.sha256((out / "report.pdf").read_bytes()).hexdigest()
        return dict(sorted(hashes.items())), None
    except OSError as exc:
        raise RenderError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc


# ---- the whole run ------------------------------------------------------------------------------

def _query(engine: Engine, inventories: Sequence[Inventory], case: CaseFile, cfg: Any, problems: list[str]
           ) -> tuple[list[dict[str, Any]], Analysis, list[Suggestion], list[dict[str, Any]]]:
    """Load the evidence and ask the engine everything the findings need: (tampering records,
    analysis, suggested indicators, completeness rows); what could not be read joins `problems`."""
    engine.load(inventories)
    tampering = tampering_records(engine)
    unknown = unknown_from_config(cfg, tampering, case, problems)
    [(blind,)] = engine.rows("SELECT count(*) FROM problems WHERE blind")
    analysis = analyse(engine, case, folder_items=folder_item_counts(cfg), config_unknown=unknown,
                       unreadable_inputs=blind)
    problems += coverage_problems(analysis.evidence_gaps, cfg, case)
    suggested = suggestions(engine, case)
    problems += [f"{src or bundle}: {p}" for bundle, src, p in
                 engine.rows("SELECT bundle, src, problem FROM problems ORDER BY 1, 2, 3")]
    completeness = engine.dicts("""SELECT bundle, source, unit, status, reason, expected, received
        FROM gaps ORDER BY bundle, source, unit""")
    return tampering, analysis, suggested, completeness


def run_report(bundles: Sequence[Path], case_path: Path, out: Path, *, trust: Trust | None = None,
               force: bool = False, sign: Callable[[Path, dict[str, str]], None] | None = None,
               allow_mixed_tenants: bool = False) -> ReportResult:
    """Verify every bundle against `trust` (report.intake), analyse them together and write the
    outputs into `out`, which must be new or empty unless `force`.

    Raises InvalidEvidenceError for evidence intake refuses, OutputExistsError for an occupied
    `out`. `sign(bundle, hashes)` (given with --key) appends the report-generated custody record,
    but only when every bundle verified valid against the trusted key: a signed record must
    never vouch for a report on evidence nobody trusted.
    """
    trust = Trust() if trust is None else trust
    check_output_folder(out, force=force)
    case = load_case(case_path)
    inventories = scan_bundles(Path(b) for b in bundles)
    roots = [inv.root for inv in inventories]
    intake = verify_bundles(roots, trust)
    infos = [bundle_info(inv, seen) for inv, seen in zip(inventories, intake.bundles, strict=True)]
    named = [(inv.name, inv.collection) for inv in inventories]
    mixed = check_tenants(named, allow_mixed=allow_mixed_tenants)
    warnings = mixed + case_id_warnings(case.case_id, named)
    problems: list[str] = list(warnings)
    cfg = tenant_config(roots, problems)
    limitations: list[str] = []
    # Two waits overlap other work: reportlab is imported while DuckDB loads on every core
    # without the GIL, and the tables are freed while the outputs are written (DuckDB frees
    # without the GIL too). 1M records: about 0.2 s and 0.1 s less.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="evkit-report") as background:
        renderer = background.submit(_pdf_renderer)
        engine = Engine(on_disk=needs_disk(inventories))
        try:
            tampering, analysis, suggested, completeness = _query(engine, inventories, case, cfg, problems)
        finally:
            closed = background.submit(engine.close)
        if cfg is None or not getattr(cfg, "mailboxes", ()):
            limitations.append("No mailbox audit configuration was collected: mailboxes whose auditing was off "
                               "cannot be told apart from mailboxes the attacker did not touch.")
        if any(s["items_unnamed"] is None for s in analysis.syncs):
            limitations.append("Folder statistics were not collected for some synced folders: items in them "
                               "that no record names cannot be counted.")
        cov, types = coverage_rows(cfg, set(analysis.in_scope) | set(analysis.unknown))
        findings = build_findings(case=case, analysis=analysis, bundles=infos, evidence_valid=intake.valid,
                                  evidence_state=intake.state,
                                  warnings=intake.warnings,
                                  tampering=tampering_findings(tampering, case), suggestions=suggested,
                                  coverage=cov, completeness=completeness, problems=problems,
                                  limitations=limitations, types=types)
        hashes, skipped = write_outputs(out, findings, analysis, renderer.result())
        closed.result()
    custody_skipped = _sign_custody(sign, intake, hashes)
    return ReportResult(findings, hashes, skipped, custody_skipped, tuple(intake.warnings) + tuple(warnings))


def _sign_custody(sign: Callable[[Path, dict[str, str]], None] | None, intake: Intake,
                  hashes: dict[str, str]) -> str | None:
    """Append the report-generated record to every bundle, or say why none was written."""
    if sign is None:
        return None
    if not intake.valid:
        return ("no report-generated custody record was written: the evidence was not verified as "
                "valid against a key you trust, and a signed record must not vouch for it")
    for seen in intake.bundles:
        sign(seen.root, hashes)
    return None
