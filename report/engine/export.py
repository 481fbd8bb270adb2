"""The SQL of `evkit export`: the engine's normalised tables written out as files by DuckDB.

Each exported table is a SELECT over the tables and views the loader built (docs/internals.md,
"report tables"), with the provenance every row carries (docs/export.md): the record id, the
bundle, file and position of the copy used, and the bundle's tag-manifest SHA-256 and verdict
(`bundle_verdict`) from `export_bundles`, a table the caller fills from intake. DuckDB streams
each COPY from the tables to the files (hive partitions `day=YYYY-MM-DD/`), so memory stays
bounded whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evkit.report.engine.loader import Engine

PROVENANCE_TABLE = "export_bundles"
PROVENANCE_COLUMNS = {"bundle": "VARCHAR", "tagmanifest_sha256": "VARCHAR", "bundle_verdict": "VARCHAR",
                      "signer": "VARCHAR", "signer_fingerprint": "VARCHAR", "signer_trusted": "BOOLEAN",
                      "tenant_id": "VARCHAR"}

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
    """One exported table: `select` yields its rows (with `bundle`), `ts` the column its day is
    taken from (None: not partitioned)."""

    name: str
    select: str
    ts: str | None = "ts"
    by_day_scan: bool = False  # written a day at a time when `events` is in time order (copy_by_day)


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

# What the load could not read, the completeness ledger and the bundles themselves: without
# them an empty result in the exported tables could read as "no activity".
_CONTEXT_TABLES = (
    Table("problems", "SELECT * FROM problems", ts=None),
    Table("gaps", "SELECT * FROM gaps", ts=None),
    Table("bundles", f"SELECT b.* EXCLUDE (path), p.* EXCLUDE (bundle, tagmanifest_sha256, bundle_verdict) "
                     f"FROM bundles b LEFT JOIN {PROVENANCE_TABLE} p USING (bundle)", ts=None),
)

RECORD_TABLES = (
    Table("events", "SELECT id AS record_id, * EXCLUDE (id) FROM events", by_day_scan=True),
    Table("accessed_items", _joined("accessed_items")),
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


def with_provenance(table: Table) -> str:
    """SQL: the table's rows with the bundle's tag-manifest SHA-256 and verdict, and `day`."""
    day = f", {DAY.format(ts='x.' + table.ts)} AS day" if table.ts else ""
    return (f"SELECT x.*, p.tagmanifest_sha256, p.bundle_verdict{day} "
            f"FROM ({table.select}) x LEFT JOIN {PROVENANCE_TABLE} p ON p.bundle = x.bundle")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_safe_columns(engine: Engine, relation: str, neutralise: Callable[[str], str]) -> str:
    """SQL select list of `relation` for a CSV file: nested values as JSON text, every text
    value through `neutralise` (SQL of a text expression to SQL)."""
    out = []
    for name, kind in engine.rows(f"SELECT column_name, column_type FROM (DESCRIBE {relation})"):
        quoted = '"' + name.replace('"', '""') + '"'
        if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "JSON")):
            out.append(f"{neutralise(f'to_json({quoted})::VARCHAR')} AS {quoted}")
        elif kind == "VARCHAR":
            out.append(f"{neutralise(quoted)} AS {quoted}")
        else:
            out.append(quoted)
    return ", ".join(out)


def copy_table(engine: Engine, select: str, dest: Path, *, partition: bool,
               csv_neutralise: Callable[[str], str] | None = None, order: str | None = None,
               drop: tuple[str, ...] = ()) -> int:
    """Write the rows of `select` to `dest`: a folder of hive partitions by `day` when
    `partition`, else one file. Parquet, or CSV when `csv_neutralise` (the spreadsheet formula
    neutraliser as SQL, report.outputs.csvcells.neutralise_sql) is given; `order` sorts the rows
    and `drop` names columns used only for it. Returns the rows written."""
    relation = f"({select})"
    if csv_neutralise is not None:
        relation = f"(SELECT {_csv_safe_columns(engine, relation, csv_neutralise)} FROM {relation})"
    options = "FORMAT csv, HEADER true" if csv_neutralise is not None else "FORMAT parquet, COMPRESSION zstd"
    if partition:
        options += ", PARTITION_BY (day), FILENAME_PATTERN 'part-{i}'"
    dest.parent.mkdir(parents=True, exist_ok=True)
    columns = f"* EXCLUDE ({', '.join(drop)})" if drop else "*"
    ordered = f" ORDER BY {order}" if order else ""
    rows = engine.rows(f"COPY (SELECT {columns} FROM {relation}{ordered}) TO {_literal(dest.as_posix())} "
                       f"({options})")
    return int(rows[0][0]) if rows else 0


def events_in_time_order(engine: Engine) -> bool:
    """Whether most of the events table's vectors hold records of one day (pages are stored in
    time order, so a bundle's records usually are): then a scan filtered to one day reads little
    beyond that day's rows."""
    [(pairs, vectors)] = engine.rows(f"""SELECT count(*), count(DISTINCT v) FROM (
        SELECT DISTINCT rowid // {_VECTOR} AS v, CAST(ts AS DATE) AS d FROM events)""")
    return bool(pairs <= 2 * max(vectors, 1))


def copy_by_day(engine: Engine, table: Table, dest: Path,
                csv_neutralise: Callable[[str], str] | None = None) -> int:
    """The hive layout of copy_table(partition=True), written with one COPY per day that filters
    on `ts` (pushed into the scan). DuckDB's partitioned writer copies every row into per-day
    buffers first: for `events`, with its nested columns, that took 2.5 times the CPU of one
    plain write (1M records: 10 s against 4 s; a COPY per day: 3.5 s)."""
    assert table.ts is not None
    days = [d for (d,) in engine.rows(f"SELECT DISTINCT CAST({table.ts} AS DATE) FROM ({table.select})")]
    written = 0
    for day in sorted(days, key=lambda d: (d is None, d)):
        where = (f"{table.ts} IS NULL" if day is None else
                 f"{table.ts} >= DATE '{day.isoformat()}' AND {table.ts} < DATE '{day.isoformat()}' + 1")
        select = with_provenance(Table(table.name, f"SELECT * FROM ({table.select}) WHERE {where}", ts=None))
        folder = dest / f"day={NULL_DAY if day is None else day.isoformat()}"
        suffix = ".csv" if csv_neutralise is not None else ".parquet"
        written += copy_table(engine, select, folder / f"part-0{suffix}", partition=False,
                              csv_neutralise=csv_neutralise)
    return written
