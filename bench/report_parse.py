"""Where the cold report's parse goes: the CPU of each step of the engine's bulk load, measured
one step at a time on bench/report.py's bundle, next to the floor's own JSON scan.

Each line runs one DuckDB statement over every page of the bundle on one thread and prints its
CPU seconds (the process's user + system time), which other load on a shared machine disturbs
far less than wall time. Each statement does all the work of the line before it and one step
more (store and columns each build on transform), so the differences are the steps' costs:

  scan        the floor's scan: read, gunzip and parse each page, one short field per record
  records     the same, taking each record's text out (AuditData)
  parse       + parse each record's text as JSON (json_valid: yyjson alone)
  transform   + json_transform into the engine's record shape (engine/sql.py RECORD_SHAPE)
  store       transform + keep the typed records in a table (the struct, not normalised)
  columns     transform + the engine's columns (EVENT_COLUMNS: ids trimmed and lower-cased,
              times, properties) kept in a table (`store` shows what keeping alone costs)
  normalise   columns + the json_text gate: the engine's insert as it runs
  cache       writing that table as the cache does (engine/parquet.py, one Parquet file)

The engine runs the load on two workers and the cache in a thread beside the report, so a
report's wall time is roughly these CPU seconds over the cores, plus the analysis and outputs
(bench/report.py measures the whole report).

  python bench/report_parse.py [--records N] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_report():
    """bench/report.py (its bundle), loaded by path: `report` is also a package folder."""
    spec = importlib.util.spec_from_file_location("bench_report", HERE / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def steps() -> dict[str, str]:
    """The statements, by step; `?` is the list of page files."""
    from evkit.report.engine.sql import EVENT_COLUMNS, RECORD_SHAPE, json_text_gate

    def pages(record: str) -> str:
        return (f"read_json(?, format = 'newline_delimited', records = true, "
                f"columns = {{value: 'STRUCT({record} VARCHAR)[]'}}, maximum_object_size = 67108864, "
                "filename = true)")

    source = (f"SELECT 'b' AS bundle, filename AS src, generate_subscripts(value, 1) AS pos, "
              f"unnest(value).AuditData AS rec FROM {pages('AuditData')}")
    typed = f"SELECT *, json_transform(rec, '{RECORD_SHAPE}') AS r FROM ({source})"
    return {
        "scan": f"SELECT sum(len(value)) FROM {pages('RecordId')}",
        "records": f"SELECT sum(strlen(rec)) FROM ({source})",
        "parse": f"SELECT count(*) FILTER (WHERE json_valid(rec)) FROM ({source})",
        "transform": f"SELECT count(r.Id) FROM ({typed})",
        "store": f"CREATE OR REPLACE TABLE typed AS SELECT r, bundle, src, pos FROM ({typed})",
        "columns": f"CREATE OR REPLACE TABLE events_all AS SELECT {EVENT_COLUMNS} FROM ({typed})",
        "normalise": (f"CREATE OR REPLACE TABLE events_all AS SELECT {EVENT_COLUMNS}, "
                      f"CASE WHEN {json_text_gate('rec')} THEN rec END AS json_text FROM ({typed})"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench/out/report"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated bundle")
    args = ap.parse_args()
    _, bundle = _bench_report().prepared_bundle(args.workdir, args.records, keep=args.keep)
    files = sorted(p.as_posix() for p in (bundle / "data" / "raw" / "ual").rglob("*.json.gz"))

    import duckdb

    from evkit.report.engine.parquet import write_parquet

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    cpu: dict[str, float] = {}
    for name, sql in steps().items():
        start = time.process_time()
        con.execute(sql, [files]).fetchall()
        cpu[name] = time.process_time() - start
    con.execute("DROP TABLE typed")
    with tempfile.TemporaryDirectory(prefix="evkit-bench-") as tmp:
        start = time.process_time()
        write_parquet(con, "SELECT * EXCLUDE (json_text) FROM events_all", Path(tmp) / "events.parquet")
        cpu["cache"] = time.process_time() - start
    scan = cpu["scan"]
    print(f"{len(files)} pages, {args.records:,} records; CPU seconds on one thread "
          "(the step's own cost = its line minus the line before)")
    base = {"records": "scan", "parse": "records", "transform": "parse", "store": "transform",
            "columns": "transform", "normalise": "columns"}
    for name, seconds in cpu.items():
        own = seconds - cpu[base[name]] if name in base else seconds
        print(f"  {name:10s} {seconds:6.2f}s  step {own:5.2f}s  {own / scan:4.2f}x the scan")
    total = cpu["normalise"] + cpu["cache"]
    print(f"parse + cache {total:.2f}s = {total / scan:.2f}x the floor's scan ({scan:.2f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
