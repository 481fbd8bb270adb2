"""`evkit report` as a library call: verify, load, analyse, write outputs, sign custody.

Each step is one call into the module that owns it; this module only sequences them and
collects what could not be read into the findings' `problems`, so a damaged bundle gives a
report that names the damage rather than a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit.evidence.inventory import Inventory, scan_bundles
from evkit.evidence.itemmeta import audit_inventories, is_resolve_bundle, read_item_metadata
from evkit.report.outputs.itemmeta import ItemMetadata, metadata_block
from evkit.report import entra_analysis
from evkit.report.analysis import Analysis, analyse
from evkit.report.casefile import CaseFile, load_case
from evkit.report.coverage import incident
from evkit.report.coverage.config_evidence import TenantConfig
from evkit.report.engine import queries, source_days
from evkit.report.engine.cache import TableCache
from evkit.report.engine.loader import Engine, needs_disk
from evkit.report.engine.mailbox_state import load_mailbox_state
from evkit.report.mailbox_state import state_block
from evkit.report.intake import Intake, Trust, VerifiedBundle, verify_bundles
from evkit.report.outputs import write
from evkit.report.outputs.findings import BundleInfo, SourceBlocks, build_findings
from evkit.report.outputs.folder import check_output_folder
from evkit.report.rules.crosscheck import silent_days
from evkit.report.rules.signins import merge
from evkit.report.rules.suggest import Suggestion
from evkit.report.rules.visibility import mark_covered
from evkit.report.tenancy import case_id_warnings, check_record_tenants, check_tenants
from evkit.report.engine.suggestion_queries import suggestions

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class ReportResult:
    findings: dict[str, Any]
    outputs: dict[str, str]  # name -> sha256 of what was written
    pdf_skipped: str | None  # why report.pdf was not written, when it was not
    custody_skipped: str | None = None  # why --key signed no custody record, when it did not
    warnings: tuple[str, ...] = ()  # plain sentences for the console: evidence let through
                                    # untrusted or invalid, mixed tenants, an unmatched case id
    cache_notes: tuple[str, ...] = ()  # per bundle: read from the table cache, or parsed and why


# ---- verification (report.intake) --------------------------------------------------------------

def bundle_info(inv: Inventory, seen: VerifiedBundle) -> BundleInfo:
    c = inv.collection
    return BundleInfo(
        path_name=inv.name, case_id=c.get("case_id") if isinstance(c.get("case_id"), str) else None,
        collection_id=c.get("collection_id") if isinstance(c.get("collection_id"), str) else None,
        verdict=seen.verdict, findings=seen.findings, tagmanifest_sha256=seen.tagmanifest_sha256,
        signer=seen.signer, signer_fingerprint=seen.signer_fingerprint, custody=seen.custody,
        finished_utc=c.get("finished_utc") if isinstance(c.get("finished_utc"), str) else None)


# ---- the whole run ------------------------------------------------------------------------------

def _query(engine: Engine, inventories: Sequence[Inventory], case: CaseFile, cfg: TenantConfig | None,
           problems: list[str], cache: TableCache | None = None, *, allow_mixed_tenants: bool = False,
           limitations: list[str] | None = None,
           ) -> tuple[list[dict[str, Any]], Analysis, list[Suggestion], list[dict[str, Any]],
                      entra_analysis.EntraAnalysis, dict[str, Any]]:
    """Load the evidence and ask the engine everything the findings need: (tampering records,
    analysis, suggested indicators, completeness rows, sign-ins and apps, mailbox state); what
    could not be read joins `problems`.
    MixedTenantsError when the records name several tenants and mixing was not allowed."""
    engine.load(inventories, cache)
    problems += check_record_tenants([(inv.name, inv.collection) for inv in inventories],
                                     queries.record_tenants(engine), allow_mixed=allow_mixed_tenants)
    tampering = queries.tampering_records(engine)
    unknown = incident.unlogged_stretches(cfg, tampering, case, problems)
    analysis = analyse(engine, case, folder_items=incident.folder_item_counts(cfg), config_unknown=unknown,
                       unreadable_inputs=queries.blind_problem_count(engine))
    problems += incident.window_coverage_problems(analysis.evidence_gaps, cfg, case)
    entra = entra_analysis.analyse(engine, case)
    suggested = merge(suggestions(engine, case), entra.suggestions)
    mailbox_state = state_block(engine, analysis, load_mailbox_state(engine, inventories))
    problems += queries.load_problems(engine)  # the mailbox-state pages' problems included
    completeness = mark_covered(queries.completeness_rows(engine))
    if limitations is not None:  # days `mgmt` is silent where `ual` is not: a possible gap, not agreement
        limitations += silent_days(source_days.records_per_day(engine), source_days.mgmt_complete_windows(engine))
    return tampering, analysis, suggested, completeness, entra, mailbox_state


def run_report(bundles: Sequence[Path], case_path: Path, out: Path, *, trust: Trust | None = None,
               force: bool = False, sign: Callable[[Path, dict[str, str]], None] | None = None,
               allow_mixed_tenants: bool = False, redact_subjects: bool = False,
               cache_dir: Path | None = None) -> ReportResult:
    """Verify every bundle against `trust` (report.intake), analyse them together and write the
    outputs into `out`, which must be new or empty unless `force`.

    Raises InvalidEvidenceError for evidence intake refuses, OutputExistsError for an occupied
    `out`. `sign(bundle, hashes)` (given with --key) appends the report-generated custody record,
    but only when every bundle verified valid against the trusted key: a signed record must
    never vouch for a report on evidence nobody trusted. Resolve bundles among `bundles` add
    the items' metadata (report.outputs.itemmeta); `redact_subjects` keeps subjects out of it.

    `cache_dir`: the normalised-table cache (report/engine/cache.py); None parses every bundle
    and stores nothing. Only bundles verified valid against a trusted key are read from it or
    stored in it.
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
    meta = item_metadata(inventories, problems, redact_subjects, case.case_id)
    audit = audit_inventories(inventories, problems)  # resolve bundles add item metadata, nothing else
    cfg = incident.read_tenant_config([inv.root for inv in audit], problems)
    cache = trusted_cache(cache_dir, inventories, intake)
    limitations: list[str] = []
    # Two waits overlap other work: reportlab is imported while DuckDB loads on every core
    # without the GIL, and the tables are freed while the outputs are written (DuckDB frees
    # without the GIL too). 1M records: about 0.2 s and 0.1 s less.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="evkit-report") as background:
        renderer = background.submit(write.pdf_renderer)
        engine = Engine(on_disk=needs_disk(audit))
        try:
            tampering, analysis, suggested, completeness, entra, mailbox_state = _query(
                engine, audit, case, cfg, problems, cache, allow_mixed_tenants=allow_mixed_tenants,
                limitations=limitations)
        finally:
            closed = background.submit(engine.close)
        if cfg is None or not getattr(cfg, "mailboxes", ()):
            limitations.append("No mailbox audit configuration was collected: mailboxes whose auditing was off "
                               "cannot be told apart from mailboxes the attacker did not touch.")
        if any(s["items_unnamed"] is None for s in analysis.syncs):
            limitations.append("Folder statistics were not collected for some synced folders: items in them "
                               "that no record names cannot be counted.")
        cov, types = incident.coverage_table(cfg, set(analysis.in_scope) | set(analysis.unknown))
        findings = build_findings(case=case, analysis=analysis, bundles=infos, evidence_valid=intake.valid,
                                  evidence_state=intake.state,
                                  warnings=intake.warnings,
                                  tampering=incident.config_changes_in_window(tampering, case), suggestions=suggested,
                                  coverage=cov, completeness=completeness, problems=problems,
                                  limitations=limitations + entra.limitations, types=types,
                                  blocks=SourceBlocks(
                                      item_metadata=None if meta is None else metadata_block(analysis.verdicts, meta),
                                      mailbox_state=mailbox_state, sign_ins=entra.sections.get("sign_ins"),
                                      applications=entra.sections.get("applications"), points=entra.points,
                                      redact_subjects=redact_subjects))
        hashes, skipped = write.write_outputs(out, findings, analysis, renderer.result(), meta)
        closed.result()
    custody_skipped = sign_custody(sign, intake, hashes)
    return ReportResult(findings, hashes, skipped, custody_skipped, tuple(intake.warnings) + tuple(warnings),
                        tuple(cache.notes) if cache is not None else ())


def trusted_cache(cache_dir: Path | None, inventories: Sequence[Inventory], intake: Intake) -> TableCache | None:
    """The table cache in `cache_dir` (None: no cache) for the bundles among `inventories` that
    verified valid against a trusted key, the only ones it may serve or store (docs/report-cache.md)."""
    if cache_dir is None:
        return None
    return TableCache(cache_dir, {inv.name: seen.tagmanifest_sha256
                                  for inv, seen in zip(inventories, intake.bundles, strict=True)
                                  if seen.trusted and seen.tagmanifest_sha256})


def item_metadata(inventories: Sequence[Inventory], problems: list[str], redact: bool,
                  case_id: str = "") -> ItemMetadata | None:
    """The item metadata of the resolve bundles among the evidence, or None when there are none;
    a resolve bundle of another case is named (its answers are still of the same messages)."""
    bundles = tuple(inv.name for inv in inventories if is_resolve_bundle(inv))
    if not bundles:
        return None
    problems += [f"{inv.name}: a resolve bundle of case {inv.collection.get('case_id')!r}, not {case_id!r}; "
                 "it is read for the items this report names" for inv in inventories
                 if is_resolve_bundle(inv) and case_id and inv.collection.get("case_id") != case_id]
    by_item, unreadable = read_item_metadata(inventories)
    problems += unreadable
    return ItemMetadata(by_item, bundles, redact)


def sign_custody(sign: Callable[[Path, dict[str, str]], None] | None, intake: Intake,
                 hashes: dict[str, str], event: str = "report-generated") -> str | None:
    """Append the `event` custody record to every bundle, or say why none was written."""
    if sign is None:
        return None
    if not intake.valid:
        return (f"no {event} custody record was written: the evidence was not verified as "
                "valid against a key you trust, and a signed record must not vouch for it")
    for seen in intake.bundles:
        sign(seen.root, hashes)
    return None
