"""`evkit export` as a library call: verify, load, write every table, the timeline and a manifest.

Verification is report.intake's, with the same trust and the same refusals as `evkit report`;
what an --allow-* flag lets through says so in every row (`bundle_verdict`) and in export.json. The
files are written into a hidden folder beside --out and renamed into place at the end, so an
interrupted export leaves no folder that looks complete; an --out that holds anything is refused
(files derived from evidence are never overwritten). Every path written is evkit's own name
(table names, `day=YYYY-MM-DD` partitions of parsed times), never a string from the evidence.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit.evidence.inventory import Inventory, scan_bundles
from evkit.provenance import file_sha256, tool_identity
from evkit.report.analysis import analyse
from evkit.report.casefile import CaseFile, load_case
from evkit.report.coverage import incident
from evkit.report.engine import queries
from evkit.report.engine.cache import TableCache
from evkit.report.engine.export import (PROVENANCE_COLUMNS, PROVENANCE_TABLE, TABLES, DayFile, Rows, Table,
                                        copy_table, day_files, day_folder, days_of_events, events_in_time_order,
                                        run_jobs, sorted_day, with_provenance)
from evkit.report.engine.loader import Engine, needs_disk
from evkit.report.errors import OutputExistsError, RenderError
from evkit.report.export import coverage, timeline
from evkit.report.intake import Intake, Trust, verify_bundles
from evkit.report.outputs.csvcells import neutralise_sql
from evkit.report.outputs.folder import check_output_folder
from evkit.report.pipeline import sign_custody, trusted_cache
from evkit.report.tenancy import case_id_warnings, check_tenants, tenant_of

FORMATS = ("parquet", "csv")
MANIFEST = "export.json"
TIMELINE = "timeline.csv"
SCHEMA = "evkit.export/1"
_COVERAGE_TABLE = "export_mailbox_coverage"
_TIMELINE_PARTS = ".timeline-parts"


@dataclass(frozen=True, slots=True)
class ExportResult:
    tables: dict[str, int]          # table -> rows written
    timeline_rows: int
    manifest_sha256: str
    warnings: tuple[str, ...]       # evidence let through untrusted or invalid, mixed tenants
    problems: int                   # rows of the `problems` table
    custody_skipped: str | None = None
    cache_notes: tuple[str, ...] = ()  # per bundle: read from the table cache, or parsed and why


def run_export(bundles: Sequence[Path], out: Path, *, trust: Trust | None = None, fmt: str = "parquet",
               case_path: Path | None = None, allow_mixed_tenants: bool = False,
               sign: Callable[[Path, dict[str, str]], None] | None = None,
               cache_dir: Path | None = None) -> ExportResult:
    """Verify every bundle (report.intake), then write the tables into `out`, which must be new
    or empty. Raises what `evkit report` raises for the same evidence and trust.

    `cache_dir`: the normalised-table cache `evkit report` uses (report/engine/cache.py), with
    its rule: only bundles verified valid against a trusted key are read from it or stored in
    it. None parses every bundle and stores nothing."""
    trust = Trust() if trust is None else trust
    if fmt not in FORMATS:
        raise RenderError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    check_output_folder(out, force=False)
    case = load_case(case_path) if case_path is not None else None
    inventories = scan_bundles(Path(b) for b in bundles)
    _outside_bundles(out, [inv.root for inv in inventories])
    intake = verify_bundles([inv.root for inv in inventories], trust)
    named = [(inv.name, inv.collection) for inv in inventories]
    warnings = check_tenants(named, allow_mixed=allow_mixed_tenants)
    if case is not None:
        warnings += case_id_warnings(case.case_id, named)
    cache = trusted_cache(cache_dir, inventories, intake)
    staging = _staging(out)
    try:
        tables, timeline_rows, problems, hashes = _write_all(staging, inventories, intake, case, fmt, cache)
        manifest = _manifest(staging, intake, inventories, case, fmt, tables, timeline_rows,
                             tuple(intake.warnings) + tuple(warnings), hashes)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    custody_skipped = sign_custody(sign, intake, {MANIFEST: manifest}, event="export-generated")
    return ExportResult(tables, timeline_rows, manifest, tuple(intake.warnings) + tuple(warnings), problems,
                        custody_skipped, tuple(cache.notes) if cache is not None else ())


def _outside_bundles(out: Path, roots: Sequence[Path]) -> None:
    """Refuse an --out inside a bundle: writing there would alter the evidence."""
    where = out.resolve()
    for root in roots:
        if where.is_relative_to(root.resolve()):
            raise OutputExistsError(f"{out} is inside the bundle {root}; write the export outside the evidence")


def _staging(out: Path) -> Path:
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=parent))
    except OSError as exc:
        raise RenderError(f"cannot write the export beside {out}: {exc.strerror or exc}") from exc


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the finished export to `out` (new, or an empty folder checked again just before)."""
    check_output_folder(out, force=False)
    try:
        if out.is_dir() and not out.is_symlink():
            out.rmdir()
        os.rename(staging, out)
    except OSError as exc:
        raise OutputExistsError(f"cannot put the export at {out}: {exc.strerror or exc}") from exc


def _write_all(root: Path, inventories: Sequence[Inventory], intake: Intake, case: CaseFile | None,
               fmt: str, cache: TableCache | None) -> tuple[dict[str, int], int, int, dict[str, str]]:
    """(rows per table, timeline rows, problem rows, SHA-256 per file), every file written under
    `root`."""
    digests = {seen.root.name: seen.tagmanifest_sha256 for seen in intake.bundles}
    neutralise = neutralise_sql if fmt == "csv" else None
    suffix = ".csv" if fmt == "csv" else ".parquet"
    with Engine(on_disk=needs_disk(inventories)) as engine:
        engine.load(inventories, cache)
        engine.put_table(PROVENANCE_TABLE, PROVENANCE_COLUMNS, [
            (inv.name, seen.tagmanifest_sha256, seen.verdict, seen.signer, seen.signer_fingerprint, seen.trusted,
             tenant_of(inv.collection)) for inv, seen in zip(inventories, intake.bundles, strict=True)])
        problems: list[str] = []
        cfg = incident.read_tenant_config([inv.root for inv in inventories], problems)
        for problem in problems:  # an unreadable configuration is a problem row like any other
            engine.execute("INSERT INTO problems VALUES ('', '', ?, false)", [problem])
        engine.put_table(_COVERAGE_TABLE, coverage.COLUMNS, coverage.coverage_rows(cfg, digests))
        if case is not None:
            _classify(engine, case, cfg)
        days = days_of_events(engine, in_time_order=events_in_time_order(engine))
        per_day = [t for t in TABLES if t.per_day]
        jobs: list[Callable[[Rows], list[_Written]]] = [
            functools.partial(_write_day, n, day, relation, per_day, root, suffix, neutralise, case is not None)
            for n, (day, relation) in enumerate(days)]
        if not days:  # no record: the timeline is its header alone
            jobs.append(functools.partial(_write_day, 0, None, "events", [], root, suffix, neutralise,
                                          case is not None))
        files = list(day_files(engine, [t for t in TABLES if t.ts is not None and not t.per_day], root, suffix))
        files += [DayFile(t.name, with_provenance(t.select), root / t.name / f"part-0{suffix}")
                  for t in TABLES if t.ts is None]
        files.append(DayFile("mailbox_coverage", f"SELECT * FROM {_COVERAGE_TABLE}",
                             root / "mailbox_coverage" / f"part-0{suffix}"))
        jobs += [functools.partial(_write_file, file, neutralise) for file in files]
        written = [w for ws in run_jobs(engine, jobs) for w in ws]
    counts = {name: 0 for name in [t.name for t in TABLES] + ["mailbox_coverage", TIMELINE]}
    parts = sorted(dest for table, dest, _, _ in written if table == TIMELINE)
    hashes = {TIMELINE: _join_parts(parts, root / TIMELINE)}
    for table, dest, rows, digest in written:
        counts[table] += rows
        if digest is not None:
            hashes[dest.relative_to(root).as_posix()] = digest
    timeline_rows = counts.pop(TIMELINE)
    return dict(sorted(counts.items())), timeline_rows, counts["problems"], hashes


# (table, file, rows, the file's SHA-256; None for a part of the timeline, and when a day had no
# rows and no file was kept)
_Written = tuple[str, Path, int, str | None]


def _write_day(n: int, day: str | None, relation: str, tables: Sequence[Table], root: Path, suffix: str,
               neutralise: Callable[[str], str] | None, classified: bool, runner: Rows) -> list[_Written]:
    """The files of the `n`th day of records (`relation`, report.engine.export.days_of_events):
    each table's of that day and the day's part of the timeline (CSV whatever the format), all
    from one copy of the day's records sorted by time and record id."""
    name = f"export_day_{n}"
    sorted_day(runner, name, relation)
    written = []
    for table in tables:
        dest = root / table.name / day_folder(day) / f"part-0{suffix}"
        rows = copy_table(runner, table.select.replace("{events}", name), dest, csv_neutralise=neutralise,
                          order=None)
        written.append((table.name, dest, rows, file_sha256(dest) if dest.exists() else None))
    dest = root / _TIMELINE_PARTS / f"{n:05d}.csv"
    # the classification is joined: sorted again then
    rows = copy_table(runner, timeline.timeline_select(classified=classified, source=name), dest,
                      csv_neutralise=neutralise_sql, order="ts, record_id" if classified else None, drop=("ts",),
                      header=n == 0)
    written.append((TIMELINE, dest, rows, None))
    runner.rows(f"DROP TABLE {name}")
    return written


def _write_file(file: DayFile, neutralise: Callable[[str], str] | None, runner: Rows) -> list[_Written]:
    """Write one file, its rows sorted by all their columns."""
    rows = copy_table(runner, file.select, file.dest, csv_neutralise=neutralise)
    return [(file.table, file.dest, rows, file_sha256(file.dest) if file.dest.exists() else None)]


def _join_parts(parts: Sequence[Path], dest: Path) -> str:
    """Append the timeline's parts, in order, into `dest`, removing them; its SHA-256."""
    digest = hashlib.sha256()
    with dest.open("xb") as out:
        for part in parts:
            with part.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
            part.unlink()
    if parts:
        parts[0].parent.rmdir()
    return digest.hexdigest()


def _classify(engine: Engine, case: CaseFile, cfg: Any) -> None:
    """The report's analysis for `case` (as report.pipeline runs it), as a classification per record."""
    problems: list[str] = []
    tampering = queries.tampering_records(engine)
    unknown = incident.unlogged_stretches(cfg, tampering, case, problems)
    analysis = analyse(engine, case, folder_items=incident.folder_item_counts(cfg), config_unknown=unknown,
                       unreadable_inputs=queries.blind_problem_count(engine))
    engine.put_table(timeline.CLASSES_TABLE, {"record_id": "VARCHAR", "classification": "VARCHAR"},
                     timeline.record_classes(analysis.verdicts, (a.record_id for a in analysis.attributed)))


def _manifest(root: Path, intake: Intake, inventories: Sequence[Inventory], case: CaseFile | None, fmt: str,
              tables: dict[str, int], timeline_rows: int, warnings: tuple[str, ...], hashes: dict[str, str]) -> str:
    """Write export.json (what was exported from what, every file's SHA-256, as hashed when it
    was written); its SHA-256. Any other entry in the folder is refused."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or rel not in hashes:
            raise RenderError(f"unexpected entry in the export: {rel}")
        files[rel] = hashes[rel]
    doc = {
        "schema": SCHEMA, "tool": tool_identity().describe(), "format": fmt,
        "evidence_state": intake.state, "warnings": list(warnings),
        "bundles": [{"bundle": inv.name, "case_id": inv.collection.get("case_id"),
                     "collection_id": inv.collection.get("collection_id"), "tenant_id": tenant_of(inv.collection),
                     "verdict": seen.verdict, "tagmanifest_sha256": seen.tagmanifest_sha256, **seen.signer_json()}
                    for inv, seen in zip(inventories, intake.bundles, strict=True)],
        "tables": {name: {"rows": n, "path": f"{name}/",
                          "partitioned_by": "day" if _partitioned(name) else None} for name, n in tables.items()},
        "timeline": {"path": TIMELINE, "rows": timeline_rows,
                     "classified_for_case": case.case_id if case is not None else None},
        "files": files,
    }
    blob = (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    (root / MANIFEST).write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


def _partitioned(name: str) -> bool:
    return any(t.name == name and t.ts is not None for t in TABLES)
