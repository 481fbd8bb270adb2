"""The SQL of `evkit export`: the engine's normalised tables written out as files by DuckDB.

Each exported table is a SELECT over the tables and views the loader built (docs/internals.md,
"report tables"), with the provenance every row carries (docs/export.md): the record id, the
bundle, file and position of the copy used, and the bundle's tag-manifest SHA-256 and verdict
(`bundle_verdict`) from `export_bundles`, a table the caller fills from intake.

Every file is one COPY of one day's rows (hive partitions `day=YYYY-MM-DD/`), so memory stays
bounded whatever the number of records, in a fixed order, so the same evidence gives the same
bytes however the engine's tables were filled (parsed in parallel or read from the table cache,
in whatever order). The tables read from `events` take each day's records from a copy of them
sorted by time and record id (sorted_day, with their provenance joined), in that order: DuckDB
keeps a table's insertion order through scans, filters, projections and unnests while
`preserve_insertion_order` is on, which run_jobs turns on (not through a join, which may build
its table from either side); the other tables are sorted by all their columns. One sort of a day's records
instead of one per file took a fifth less CPU. The COPYs are independent jobs that run_jobs runs
two at a time, each on its own cursor and core.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from evkit.report.engine.loader import Engine
from evkit.report.engine.parquet import PARQUET_OPTIONS, sql_literal
from evkit.report.engine.sql import accessed_items

T = TypeVar("T")


class Rows(Protocol):
    """What runs a statement and returns its rows: the Engine, or one of run_jobs' cursors."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


PROVENANCE_TABLE = "export_bundles"
PROVENANCE_COLUMNS = {"bundle": "VARCHAR", "tagmanifest_sha256": "VARCHAR", "bundle_verdict": "VARCHAR",
                      "signer": "VARCHAR", "signer_fingerprint": "VARCHAR", "signer_trusted": "BOOLEAN",
                      "tenant_id": "VARCHAR"}

# The provenance columns the export adds from PROVENANCE_TABLE to every row of a record table.
_PROVENANCE = "tagmanifest_sha256, bundle_verdict"
# The operations the report's timeline draws in its sign-in lane (report.analysis.timeline_kind).
SIGN_IN_OPERATIONS = ("UserLoggedIn", "UserLoginFailed", "MailboxLogin")
DAY = "strftime({ts}, '%Y-%m-%d')"
# The folder of the NULL day: the Hive convention, which DuckDB writes for a NULL partition value
# and DuckDB, Spark, Trino and pyarrow read back as NULL (records whose time could not be read
# keep their rows).
NULL_DAY = "__HIVE_DEFAULT_PARTITION__"
# DuckDB's vector: a table scan reads the other columns only for vectors in which the filter on
# `ts` matches some row.
_VECTOR = 2048


@dataclass(frozen=True, slots=True)
class Table:
    """One exported table: `select` yields its rows (with `bundle`, `src`, `pos`), `ts` the
    column its day is taken from (None: not partitioned). With `per_day`, `select` is a
    template over `{events}`, a table of one day's records with the columns of `events` and
    the provenance columns (sorted_day), and yields the rows with them; the other tables are
    materialised once with their provenance, then written a day at a time."""

    name: str
    select: str
    ts: str | None = "ts"
    per_day: bool = False


def _joined(view: str, columns: str = "v.*") -> str:
    """Rows of a derived view, with the bundle, file and position of the record each came from."""
    return f"SELECT {columns}, e.bundle, e.src, e.pos FROM {view} v JOIN events e ON e.id = v.record_id"


_SESSIONS = """
    SELECT s.*, f.record_id, e.bundle, e.src, e.pos
    FROM sessions s
    JOIN (SELECT value AS session_id,
                 min(struct_pack(t := coalesce(ts, TIMESTAMP '9999-12-31'), id := id)).id AS record_id
          FROM event_keys WHERE kind = 'session' GROUP BY value) f USING (session_id)
    JOIN events e ON e.id = f.record_id"""

_SIGN_INS = f"""
    SELECT id AS record_id, ts, operation, account, mailbox, result_status,
           coalesce(client_ip_address, client_ip, actor_ip) AS ip, client_info, user_agent, app_id,
           client_app_id, session_id, aad_session_id, logon_type, bundle, src, pos
    FROM events WHERE operation IN ({', '.join(f"'{op}'" for op in SIGN_IN_OPERATIONS)})"""

# The engine's accessed_items view (report.engine.sql.accessed_items) over one day's records,
# with the copy's provenance (carried through the unnests: a third cheaper than joining it back).
_ACCESSED_ITEMS = accessed_items("{events}", carry=f", bundle, src, pos, {_PROVENANCE}")

# What the load could not read, the completeness ledger and the bundles themselves: without
# them an empty result in the exported tables could read as "no activity".
_CONTEXT_TABLES = (
    Table("problems", "SELECT * FROM problems", ts=None),
    Table("gaps", "SELECT * FROM gaps", ts=None),
    Table("bundles", f"SELECT b.* EXCLUDE (path), p.* EXCLUDE (bundle, tagmanifest_sha256, bundle_verdict) "
                     f"FROM bundles b LEFT JOIN {PROVENANCE_TABLE} p USING (bundle)", ts=None),
)

RECORD_TABLES = (
    Table("events", f"SELECT id AS record_id, * EXCLUDE (id, {_PROVENANCE}), {_PROVENANCE} FROM {{events}}",
          per_day=True),
    Table("accessed_items", _ACCESSED_ITEMS, per_day=True),
    Table("synced_folders", _joined("synced_folders")),
    Table("searches", _joined("searches")),
    Table("sends", _joined("sends")),
    Table("sessions", _SESSIONS, ts="first_utc"),
    Table("sign_ins", _SIGN_INS),
    # the Entra sign-in log when the `signins` source was collected (docs/microsoft-365.md §10);
    # `sign_ins` above are the audit log's own logon records
    Table("entra_sign_ins", "SELECT id AS record_id, * EXCLUDE (id), NULL::BIGINT AS pos FROM signins"),
)
TABLES = RECORD_TABLES + _CONTEXT_TABLES


def with_provenance(select: str, ts: str | None = None) -> str:
    """SQL: the rows of `select` with the bundle's tag-manifest SHA-256 and verdict, and `day`
    (the UTC day of the column `ts`) when `ts` is given."""
    day = f", {DAY.format(ts='x.' + ts)} AS day" if ts else ""
    return (f"SELECT x.*, p.tagmanifest_sha256, p.bundle_verdict{day} "
            f"FROM ({select}) x LEFT JOIN {PROVENANCE_TABLE} p ON p.bundle = x.bundle")


def _csv_safe_columns(runner: Rows, relation: str, neutralise: Callable[[str], str]) -> str:
    """SQL select list of `relation` for a CSV file: nested values as JSON text, every text
    value through `neutralise` (SQL of a text expression to SQL)."""
    out = []
    for name, kind in runner.rows(f"SELECT column_name, column_type FROM (DESCRIBE {relation})"):
        quoted = '"' + name.replace('"', '""') + '"'
        if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "JSON")):
            out.append(f"{neutralise(f'to_json({quoted})::VARCHAR')} AS {quoted}")
        elif kind == "VARCHAR":
            out.append(f"{neutralise(quoted)} AS {quoted}")
        else:
            out.append(quoted)
    return ", ".join(out)


def copy_table(runner: Rows, select: str, dest: Path, *, csv_neutralise: Callable[[str], str] | None = None,
               order: str | None = "ALL", drop: tuple[str, ...] = (), header: bool = True) -> int:
    """Write the rows of `select`, sorted by `order` (None: as they come), to the file `dest`: Parquet (the options
    of report/engine/parquet.py), or CSV when `csv_neutralise` (the spreadsheet formula
    neutraliser as SQL, report.outputs.csvcells.neutralise_sql) is given; `drop` names columns
    used only for sorting; `header`: a CSV file's header row. Returns the rows written; a file of no rows is not kept."""
    relation = f"({select})"
    if csv_neutralise is not None:
        relation = f"(SELECT {_csv_safe_columns(runner, relation, csv_neutralise)} FROM {relation})"
    options = f"FORMAT csv, HEADER {str(header).lower()}" if csv_neutralise is not None else PARQUET_OPTIONS
    dest.parent.mkdir(parents=True, exist_ok=True)
    columns = f"* EXCLUDE ({', '.join(drop)})" if drop else "*"
    ordered = f" ORDER BY {order}" if order else ""
    rows = runner.rows(f"COPY (SELECT {columns} FROM {relation}{ordered}) "
                       f"TO {sql_literal(dest.as_posix())} ({options})")
    written = int(rows[0][0]) if rows else 0
    if not written and dest.parent.name.startswith("day="):
        dest.unlink(missing_ok=True)
        dest.parent.rmdir()
    return written


def events_in_time_order(engine: Engine) -> bool:
    """Whether most of the events table's vectors hold records of one day (pages are stored in
    time order, so a bundle's records usually are): then a scan filtered to one day reads little
    beyond that day's rows."""
    [(pairs, vectors)] = engine.rows(f"""SELECT count(*), count(DISTINCT v) FROM (
        SELECT DISTINCT rowid // {_VECTOR} AS v, CAST(ts AS DATE) AS d FROM events)""")
    return bool(pairs <= 2 * max(vectors, 1))


@dataclass(frozen=True, slots=True)
class DayFile:
    """One file to write: the rows of `select` (with provenance, without `day`) into `dest`,
    sorted by all their columns."""

    table: str
    select: str
    dest: Path


def days_of_events(engine: Engine, *, in_time_order: bool) -> list[tuple[str | None, str]]:
    """(day, SQL relation of that day's records of `events`) for every UTC day of a record,
    oldest first, records without a time last (day None). The relation filters on `ts`, which
    the scan skips by its zone maps when `events` is `in_time_order`; else it reads a copy of
    `events` sorted by time, made once here."""
    source = "events"
    if not in_time_order:
        engine.execute("CREATE TABLE export_events_by_time AS SELECT * FROM events ORDER BY ts")
        source = "export_events_by_time"
    days = [None if d is None else d.isoformat() for (d,) in
            engine.rows(f"SELECT DISTINCT CAST(ts AS DATE) AS d FROM {source} ORDER BY d NULLS LAST")]
    return [(day, f"(SELECT * FROM {source} WHERE "
                  + ("ts IS NULL)" if day is None else f"ts >= DATE '{day}' AND ts < DATE '{day}' + 1)"))
            for day in days]


def day_folder(day: str | None) -> str:
    return f"day={NULL_DAY if day is None else day}"


def sorted_day(runner: Rows, name: str, relation: str) -> None:
    """Table `name`: the records of `relation` (one day's, days_of_events) with their bundle's
    provenance columns, sorted by time and record id, the order in which every file read from it
    holds them (see above)."""
    runner.rows(f"CREATE TABLE {name} AS SELECT e.*, {', '.join('p.' + c for c in _PROVENANCE.split(', '))} "
                f"FROM {relation} e LEFT JOIN {PROVENANCE_TABLE} p ON p.bundle = e.bundle ORDER BY e.ts, e.id")


def day_files(engine: Engine, tables: Sequence[Table], root: Path, suffix: str) -> Iterator[DayFile]:
    """Every file of the record tables not read from `events` a day at a time, a day each (hive
    folders `day=YYYY-MM-DD/` under `root/<table>`): each table materialised once with its day."""
    for table in tables:
        assert table.ts is not None and not table.per_day
        name = f"export_{table.name}"
        engine.execute(f"CREATE TABLE {name} AS {with_provenance(table.select, table.ts)}")
        for (day,) in engine.rows(f"SELECT DISTINCT day FROM {name} ORDER BY day NULLS LAST"):
            where = "day IS NULL" if day is None else f"day = {sql_literal(day)}"
            yield DayFile(table.name, f"SELECT * EXCLUDE (day) FROM {name} WHERE {where}",
                          root / table.name / day_folder(day) / f"part-0{suffix}")


class _Cursor:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()


def run_jobs(engine: Engine, jobs: Sequence[Callable[[Rows], T]], workers: int = 2) -> list[T]:
    """Run every job (a function of a statement runner) on `workers` cursors of the engine's
    database at once, in the order given; their results in that order. DuckDB runs statements
    of several cursors in parallel, outside the GIL. The first failure is raised once all stop."""
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for n in range(len(jobs)):
        pending.put(n)
    results: dict[int, T] = {}
    failures: list[BaseException] = []

    def work(cursor: duckdb.DuckDBPyConnection) -> None:
        with cursor:
            while not failures:
                try:
                    n = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[n] = jobs[n](_Cursor(cursor))
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
                    failures.append(exc)

    # each statement on one core: the cursors, not DuckDB's threads, share the cores; and
    # tables read in their insertion order (sorted_day)
    [(cores, keep_order)] = engine.rows("SELECT current_setting('threads'), "
                                          "current_setting('preserve_insertion_order')")
    engine.execute("SET threads = 1")
    engine.execute("SET preserve_insertion_order = true")
    running = [threading.Thread(target=work, args=(engine.con.cursor(),), name=f"evkit-export-{n}")
                for n in range(max(1, min(workers, len(jobs))))]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    engine.execute(f"SET threads = {int(cores)}")
    engine.execute(f"SET preserve_insertion_order = {str(bool(keep_order)).lower()}")
    if failures:
        raise failures[0]
    return [results[n] for n in range(len(jobs))]
