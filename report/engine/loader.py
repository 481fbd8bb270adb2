"""The analysis engine: every bundle's records in DuckDB tables, de-duplicated by record Id.

The only module importing duckdb (with engine_*.py). Raw API pages are read by DuckDB itself
(gzip and JSON parsing in C, one json_transform per record), which keeps `evkit report` within
a small multiple of reading the bytes at all; imports and any page DuckDB cannot read are
parsed in Python (evkit.evidence.records) and fed through the same normalisation. The database lives
in a temporary file when the evidence is large, so memory stays bounded.

Event times (`ts`) come from the one parser of evidence times, `evkit.times.iso_utc`:
the ISO forms raw pages carry are converted in SQL by a fast path that agrees with it
(engine_sql.fast_time), and every other distinct time string is parsed once in Python.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb

from evkit.evidence.formats import ParsedRow
from evkit.evidence.inventory import Inventory, Page, source_name
from evkit.evidence.kinds import RECORD_LAYOUTS, RecordLayout
from evkit.evidence.raw import gzip_stated_size
from evkit.evidence.records import import_rows, page_rows
from evkit.report.engine import entra
from evkit.report.engine.cache import CacheWriter, TableCache
from evkit.report.engine.sql import (DERIVED, EVENT_COLUMNS, RECORD_SHAPE, decoded_record, json_text_gate,
                                     misshapen_nested, unreadable_nested)
from evkit.report.errors import QueryError
from evkit.times import iso_utc

logger = logging.getLogger(__name__)



def _page_read(layout: RecordLayout) -> tuple[str, str, str, str]:
    """How read_json reads one record kind's pages (evkit.evidence.kinds.RECORD_LAYOUTS):
    whether the page is an object holding the record list (`records`) or the list itself, the
    list's column name and type, and the field of each element holding the record (text or
    object). The type lets DuckDB parse each page once and take the list out as it parses;
    reading the page as JSON text and applying json_transform parsed it twice (once to validate
    the text): 1M records, a third less CPU for this step (60 pages: 1.23 s -> 0.79 s)."""
    records = "true" if layout.list_field else "false"
    column = layout.list_field or "value"
    if layout.record_field is None:
        return records, column, "JSON[]", ""
    record_type = "VARCHAR" if layout.record_is_text else "JSON"
    return records, column, f"STRUCT({layout.record_field} {record_type})[]", f".{layout.record_field}"


_PAGE_READS = {kind: _page_read(layout) for kind, layout in RECORD_LAYOUTS.items()}
# Pages are read in chunks of up to about this many body bytes, one statement per chunk, so the
# two workers share the load. Every statement costs planning and a commit (measured: 10-20 ms
# of CPU, against about 45 ms per page of 5,000 records), so chunks are large; peak memory did
# not grow with the chunk size (1M records: 1.0 GB with 48 MB or 576 MB chunks), as DuckDB
# streams the pages of a statement.
_CHUNK_BYTES = 256 << 20
_CHUNK_FILES = 256
_MIN_SPLIT_BYTES = 16 << 20  # below this per worker, one statement is cheaper than several
_NAMED_ROWS = 100       # unreadable rows named one by one per file; beyond them, one line with the total
_MAX_OBJECT = 64 << 20  # one page or blob; bigger ones go through the Python reader
_TIME_BATCH = 10_000
# Columns that say where a copy came from, not what it records: never compared between copies.
# (The recorded time text is compared as the parsed `ts`: exports write the same instant in
# other forms.)
_NOT_CONTENT = frozenset({"readable", "id_missing", "imported", "unread", "bundle", "src", "pos", "creation_time"})
_CONFLICTS_LISTED = 100  # conflicts named one by one in the problems; all are in `conflicts`

TABLES = ("events", "record_sources", "duplicate_sources", "conflicts", "conflict_copies", "record_copies",
          "accessed_items", "synced_folders", "item_mentions", "searches", "sends", "event_keys", "sessions", "gaps",
          "bundles", "problems", *entra.TABLES)


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class Engine:
    """A DuckDB database of one or more bundles' records. Use as a context manager."""

    def __init__(self, *, on_disk: bool = False, memory_limit: str = "1GB", threads: int = 2) -> None:
        """on_disk: keep the tables in a temporary database file (see `needs_disk`)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="evkit-report-")
        tmp = Path(self._tmp.name)
        self.con = duckdb.connect(str(tmp / "evidence.duckdb") if on_disk else ":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self._threads = max(1, int(threads))
        self.con.execute(f"SET threads = {self._threads}")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(f"SET temp_directory = '{(tmp / 'spill').as_posix()}'")
        self._jsonl = tmp / "python-records.jsonl"
        self._jsonl_handle: TextIO | None = None
        self._cache_writer: CacheWriter | None = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._cache_writer is not None:
                self._cache_writer.join()
            self.con.close()
        finally:
            self._tmp.cleanup()

    # ---- loading -------------------------------------------------------------------------

    def load(self, inventories: Sequence[Inventory], cache: TableCache | None = None) -> None:
        """Build every table from the bundles; unreadable input becomes rows in `problems`.
        With a `cache` (engine/cache.py), a bundle it holds is read from there instead of parsed,
        and every bundle parsed is stored in it."""
        # blind: the problem hides records (an unreadable file or row), so what they held is unknown
        self.con.execute("CREATE TABLE problems (bundle VARCHAR, src VARCHAR, problem VARCHAR, blind BOOLEAN)")
        self._create_events_all()
        self._load_bundle_tables(inventories)
        parse = [inv for inv in inventories if cache is None or not cache.read(self.con, inv)]
        jobs: list[tuple[Inventory, str, list[Page]]] = []
        for inv in parse:
            by_kind: dict[str, list[Page]] = {}
            for page in inv.record_pages:
                by_kind.setdefault(page.kind, []).append(page)
            jobs += [(inv, kind, chunk) for kind in sorted(by_kind)
                     for chunk in _chunks(by_kind[kind], self._threads)]
        jobs, oversized = _without_oversized(jobs)
        failed = oversized + self._bulk_load(jobs)
        for inv, page in failed + self._pages_without_rows(jobs, failed):
            self._python_rows(inv, source_name(inv, page.body), page_rows(page), imported=False)
        for inv in parse:
            for item in inv.imports:
                src = source_name(inv, item.body)
                if not self._python_rows(inv, src, import_rows(item), imported=True) and item.format == "unknown":
                    self._problem(inv.name, src, "in no format evkit reads: sealed as evidence, but no record "
                                  "was read from it, so what it holds is not in this report")
        self._flush_python_rows()
        self._decode_json_text()
        self._parse_other_times()
        if cache is not None and parse:
            # stored while the report goes on: the writer reads the tables as they are now
            self._cache_writer = CacheWriter(self.con, cache, parse)
        # the inventory's problems come from scanning, which every report does: never cached
        for inv in inventories:
            for problem in inv.problems:
                self._problem(inv.name, "", problem)
        self._finish_events()
        for name, sql in DERIVED.items():
            self.con.execute(f"CREATE VIEW {name} AS {sql}")
        entra.load(self.con, inventories, self._problem)

    def _bulk_load(self, jobs: list[tuple[Inventory, str, list[Page]]]) -> list[tuple[Inventory, Page]]:
        """Bulk-read every chunk of pages; return the pages DuckDB could not read, in job order.

        DuckDB reads compressed JSON files one thread per statement, so the chunks run as
        concurrent statements (one connection per worker, appends do not conflict), each
        single-threaded: the load uses every core, memory stays a chunk per worker, and the
        table contents do not depend on the order the chunks finish in (de-duplication and
        every query order by bundle, file, position or id)."""
        workers = max(1, min(self._threads, len(jobs)))
        if workers == 1:
            return [bad for job in jobs for bad in self._load_pages(self.con, *job)]
        pending: queue.SimpleQueue[tuple[int, tuple[Inventory, str, list[Page]]]] = queue.SimpleQueue()
        # largest first, so the last chunks to start are small ones and the workers end together
        for n, job in sorted(enumerate(jobs), key=lambda nj: -sum(map(_weight, nj[1][2]))):
            pending.put((n, job))
        failed: dict[int, list[tuple[Inventory, Page]]] = {}

        def work(con: duckdb.DuckDBPyConnection) -> None:
            with con:
                while True:
                    try:
                        n, job = pending.get_nowait()
                    except queue.Empty:
                        return
                    failed[n] = self._load_pages(con, *job)

        self.con.execute("SET threads = 1")
        try:
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(work, self.con.cursor()) for _ in range(workers)]:
                    future.result()
        finally:
            self.con.execute(f"SET threads = {self._threads}")
        return [bad for n in sorted(failed) for bad in failed[n]]

    def _pages_without_rows(self, jobs: list[tuple[Inventory, str, list[Page]]],
                            failed: list[tuple[Inventory, Page]]) -> list[tuple[Inventory, Page]]:
        """Bulk-read pages that gave no row: an empty list (nothing to report) or no list at all
        (a problem). Both are rare, so the Python reader tells them apart and names the problem;
        handling it in the bulk SQL would copy every page's record list once more."""
        loaded = {src for (src,) in self.con.execute("SELECT DISTINCT src FROM events_all").fetchall()}
        skip = {id(page) for _, page in failed}
        return [(inv, page) for inv, _, pages in jobs for page in pages
                if id(page) not in skip and source_name(inv, page.body) not in loaded]

    def _create_events_all(self) -> None:
        self.con.execute(
            "CREATE TABLE events_all AS SELECT true AS readable, "
            f"{EVENT_COLUMNS}, imported, unread, NULL::VARCHAR AS json_text FROM (SELECT NULL::VARCHAR AS bundle, "
            f"NULL::VARCHAR AS src, 0::BIGINT AS pos, false AS imported, json_transform('{{}}', '{RECORD_SHAPE}') AS r, "
            "NULL::VARCHAR[] AS unread) LIMIT 0")

    def _insert_records(self, source_sql: str, params: list[Any],
                        con: duckdb.DuckDBPyConnection | None = None, *, decode: bool = False) -> None:
        """source_sql yields (bundle, src, pos, rec VARCHAR, imported BOOLEAN); normalise and
        append. `imported` marks records from imported files (an API copy outranks them);
        `unread` lists the nested fields whose text could not be decoded (sql.unreadable_nested).

        A record that may hold nested fields as JSON text (sql.json_text_gate) keeps its text in
        `json_text`, and _decode_json_text reads it again through sql.decoded_record (`decode`),
        which also fills `unread`. Every record is still parsed here, so a malformed one fails this
        statement as before. Decoding inline, behind a CASE, cost a fifth of this statement's CPU
        even when no record needed it (1M records: about 1 s of CPU)."""
        if decode:
            (con or self.con).execute(
                "INSERT INTO events_all SELECT r IS NOT NULL AND NOT (r.Id IS NULL AND r.CreationTime IS NULL "
                f"AND r.Operation IS NULL) AS readable, {EVENT_COLUMNS}, imported, unread, NULL::VARCHAR AS json_text "
                "FROM (SELECT bundle, src, pos, imported, r, "
                f"list_concat({unreadable_nested('dec')}, {misshapen_nested('r', 'dec')}) AS unread FROM ("
                f"SELECT *, json_transform(dec, '{RECORD_SHAPE}') AS r FROM ("
                f"SELECT bundle, src, pos, imported, {decoded_record('rec::VARCHAR')} AS dec "
                f"FROM ({source_sql}))))", params)
            return
        (con or self.con).execute(
            "INSERT INTO events_all SELECT r IS NOT NULL AND NOT (r.Id IS NULL AND r.CreationTime IS NULL "
            f"AND r.Operation IS NULL) AS readable, {EVENT_COLUMNS}, imported, NULL::VARCHAR[] AS unread, json_text "
            f"FROM (SELECT bundle, src, pos, imported, json_transform(rec, '{RECORD_SHAPE}') AS r, "
            f"CASE WHEN {json_text_gate('rec::VARCHAR')} THEN rec END AS json_text FROM ({source_sql}))", params)

    def _decode_json_text(self) -> None:
        """Replace each record kept with its text in `json_text` by the record read with its
        nested JSON-text fields decoded (sql.decoded_record), then drop the column."""
        con = self.con
        [(pending,)] = con.execute("SELECT count(*) FROM events_all WHERE json_text IS NOT NULL").fetchall()
        if pending:
            con.execute("""CREATE TEMP TABLE json_text_records AS SELECT bundle, src, pos, json_text AS rec,
                           imported FROM events_all WHERE json_text IS NOT NULL""")
            con.execute("DELETE FROM events_all WHERE json_text IS NOT NULL")
            self._insert_records("SELECT * FROM json_text_records", [], decode=True)
            con.execute("DROP TABLE json_text_records")
        con.execute("ALTER TABLE events_all DROP COLUMN json_text")

    def _load_pages(self, con: duckdb.DuckDBPyConnection, inv: Inventory, kind: str,
                    pages: list[Page]) -> list[tuple[Inventory, Page]]:
        """Bulk-read `pages`; a chunk that fails is split to isolate the bad file(s), which are
        returned for the Python reader while the good ones still load in bulk."""
        try:
            self._bulk_pages(con, inv, kind, pages)
            return []
        except duckdb.Error as exc:
            logger.info("bulk read of %d %s page(s) failed, retrying smaller: %s", len(pages), kind, exc)
            if len(pages) == 1:
                return [(inv, pages[0])]
        return [bad for page in pages for bad in self._load_pages(con, inv, kind, [page])]

    def _bulk_pages(self, con: duckdb.DuckDBPyConnection, inv: Inventory, kind: str, pages: list[Page]) -> None:
        # One parse per page into the list of elements; an element without a record becomes a
        # NULL record, counted by _finish_events, never skipped; a page without the list gives
        # no row and is read again by _pages_without_rows. A page that is not JSON at all, whose
        # list or elements have another type, or with a record that is malformed JSON, fails the
        # statement: _load_pages isolates the page, and the Python reader names what is wrong.
        # 'newline_delimited' reads each line of a file as one value: API responses are single
        # lines, so a blob that is a JSON array is not split into rows before it is typed, and
        # no scan for where an object ends is needed (a quarter less CPU than 'unstructured').
        # A body spread over several lines fails the statement and is read by the Python reader
        # like any other page the bulk read cannot take.
        prefix = inv.root.as_posix().rstrip("/") + "/"
        records, column, list_type, record_field = _PAGE_READS[kind]
        source = (
            f"SELECT ? AS bundle, ? || substr(filename, ?) AS src, generate_subscripts({column}, 1) AS pos, "
            f"unnest({column}){record_field} AS rec, false AS imported "
            f"FROM read_json(?, format = 'newline_delimited', records = {records}, "
            f"columns = {{{column}: '{list_type}'}}, maximum_object_size = {_MAX_OBJECT}, filename = true)")
        files = [p.body.as_posix() for p in pages]
        self._insert_records(source, [inv.name, inv.name + "/", len(prefix) + 1, files], con)

    def _python_rows(self, inv: Inventory, src: str, rows: Iterable[ParsedRow], *, imported: bool) -> int:
        """Queue the readable rows for loading, name the unreadable ones; the count queued."""
        if self._jsonl_handle is None:
            self._jsonl_handle = self._jsonl.open("w", encoding="utf-8")
        queued = unreadable = 0
        for row in rows:
            if row.record is None:
                unreadable += 1
                if unreadable <= _NAMED_ROWS:   # the first ones by row; the total below
                    where = f"row {row.row}: " if row.row else ""
                    self._problem(inv.name, src, f"{where}{row.error or 'unreadable'}")
                continue
            line = {"bundle": inv.name, "src": src, "pos": row.row, "imported": imported,
                    "rec": escape_surrogates(json.dumps(row.record, ensure_ascii=False))}
            self._jsonl_handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            queued += 1
        if unreadable > _NAMED_ROWS:
            self._problem(inv.name, src, f"{unreadable} rows in all could not be read (the first "
                          f"{_NAMED_ROWS} are named above)")
        return queued

    def _flush_python_rows(self) -> None:
        if self._jsonl_handle is None:
            return
        self._jsonl_handle.close()
        self._insert_records(
            "SELECT bundle, src, pos, rec, imported FROM read_json(?, format = 'newline_delimited', "
            "columns = {bundle: 'VARCHAR', src: 'VARCHAR', pos: 'BIGINT', rec: 'VARCHAR', imported: 'BOOLEAN'}, "
            f"maximum_object_size = {_MAX_OBJECT})", [self._jsonl.as_posix()])

    def _parse_other_times(self) -> None:
        """Give `ts` to records whose time is outside the SQL fast path (engine_sql.fast_time),
        through the one parser of evidence times; each distinct string is parsed once, and the
        record's own `creation_time` stays as recorded."""
        cur = self.con.execute("SELECT DISTINCT creation_time FROM events_all "
                               "WHERE readable AND ts IS NULL AND creation_time IS NOT NULL")
        parsed = Path(self._tmp.name) / "times.jsonl"
        found = 0
        with parsed.open("w", encoding="utf-8") as fh:
            while batch := cur.fetchmany(_TIME_BATCH):
                for (text,) in batch:
                    iso = iso_utc(text)
                    if iso is not None:
                        fh.write(json.dumps({"ct": text, "ts": iso.rstrip("Z")}, ensure_ascii=False) + "\n")
                        found += 1
        if found:
            self.con.execute(
                "UPDATE events_all SET ts = t.ts FROM read_json(?, format = 'newline_delimited', "
                f"columns = {{ct: 'VARCHAR', ts: 'TIMESTAMP'}}, maximum_object_size = {_MAX_OBJECT}) t "
                "WHERE events_all.ts IS NULL AND events_all.creation_time = t.ct", [parsed.as_posix()])
        parsed.unlink()

    def _finish_events(self) -> None:
        con = self.con
        con.execute("""
            INSERT INTO problems
            SELECT bundle, src, count(*)::VARCHAR
                   || ' element(s) hold no readable audit record (missing, or not a JSON object) and were not read',
                   true
            FROM events_all WHERE NOT readable GROUP BY bundle, src
            UNION ALL
            SELECT bundle, src, count(*)::VARCHAR || ' record(s) have no Id; they cannot be de-duplicated', false
            FROM events_all WHERE readable AND id_missing GROUP BY bundle, src
            UNION ALL
            SELECT bundle, src, count(*)::VARCHAR || ' record(s) have no readable CreationTime; never attributed',
                   true
            FROM events_all WHERE readable AND ts IS NULL GROUP BY bundle, src
        """)
        con.execute("DELETE FROM events_all WHERE NOT readable")
        # Which tenant each bundle's records name, every copy counted (tenancy.check_record_tenants);
        # the column itself is not part of `events`.
        con.execute("""CREATE TABLE record_tenants AS SELECT bundle, trim(organization_id) AS tenant,
                       count(*) AS records FROM events_all WHERE trim(organization_id) <> ''
                       GROUP BY ALL ORDER BY ALL""")
        con.execute("ALTER TABLE events_all DROP COLUMN organization_id")
        self._deduplicate()
        # After de-duplication: a field another copy of the record holds readable is not lost.
        con.execute("""
            INSERT INTO problems
            SELECT bundle, src, count(*)::VARCHAR || ' record(s) hold a nested field as text that is not '
                   || 'the list or object it should be (first: record ' || arg_min(id || ': '
                   || array_to_string(unread, ', '), pos) || '); what those fields held is not in this report',
                   true
            FROM events_all WHERE len(unread) > 0 GROUP BY bundle, src
            UNION ALL
            SELECT bundle, src, count(*)::VARCHAR || ' MailItemsAccessed record(s) have no readable '
                   || 'MailAccessType (first: record ' || arg_min(id, pos) || '): whether they opened items '
                   || 'and whether logging was throttled after them is unknown', true
            FROM events_all WHERE operation = 'MailItemsAccessed' AND access_type IS NULL GROUP BY bundle, src""")
        con.execute("ALTER TABLE events_all DROP COLUMN unread")
        con.execute("ALTER TABLE events_all DROP COLUMN readable")
        con.execute("ALTER TABLE events_all DROP COLUMN id_missing")
        con.execute("ALTER TABLE events_all DROP COLUMN imported")
        con.execute("ALTER TABLE events_all RENAME TO events")
        con.execute("""CREATE VIEW record_sources AS SELECT id, bundle, src, pos FROM events
                       UNION ALL SELECT id, bundle, src, pos FROM duplicate_sources""")
        con.execute("CREATE VIEW record_copies AS SELECT * FROM events UNION ALL SELECT * FROM conflict_copies")

    def _deduplicate(self) -> None:
        """One row per record id in events_all; the other occurrences go to duplicate_sources.

        Which copy is used never depends on bundle names or argument order: a copy collected
        from the API outranks an imported one, then the copy with more fields, then the one
        whose normalised content sorts first (bundle, file and position only break ties between
        identical copies). Copies whose content differs from the one used are conflicts: listed
        in `conflicts` and in the problems, and kept whole in `conflict_copies`, so attribution
        and confirmed items consider every copy (adding evidence never removes a finding).

        Only ids seen more than once are ranked, so the common case (no duplicates) costs one
        GROUP BY, not a rewrite of the table; record_sources (every occurrence) is a view, not
        a copy of every record's provenance (that copy took 4.4 s at 10M records)."""
        con = self.con
        columns = [row[0] for row in con.execute("DESCRIBE events_all").fetchall()]
        content = [c for c in columns if c not in _NOT_CONTENT]
        fields = " + ".join(f'("{c}" IS NOT NULL)::INTEGER' for c in content)
        packed = ", ".join(f'"{c}"' for c in content)
        # hash(): DuckDB's own 64-bit hash of the values (not of their text), about five times
        # cheaper than md5 over the row cast to text, and fixed for a given DuckDB version.
        con.execute(f"""
            CREATE TEMP TABLE dup_ranked AS
            SELECT *, row_number() OVER (PARTITION BY id ORDER BY imported, fields DESC, content,
                                         bundle, src, pos) AS n
            FROM (SELECT rowid AS rid, id, bundle, src, pos, imported, {fields} AS fields,
                         hash({packed}) AS content
                  FROM events_all WHERE id IN (SELECT id FROM events_all GROUP BY id HAVING count(*) > 1))""")
        # Conflicts are rare: only their copies are compared column by column.
        con.execute("""CREATE TEMP TABLE conflict_rows AS
            SELECT d.*, k.content <> d.content AS differs_from_used FROM dup_ranked d
            JOIN dup_ranked k ON k.id = d.id AND k.n = 1
            WHERE d.id IN (SELECT id FROM dup_ranked GROUP BY id HAVING count(DISTINCT content) > 1)""")
        differs = ", ".join(f"CASE WHEN u.\"{c}\" IS DISTINCT FROM x.\"{c}\" THEN '{c}' END" for c in content)
        # A field one copy lacks (an export that leaves out SessionId) is not a contradiction:
        # `contradicting` holds the fields this copy states that another copy of the record (the
        # one used or any other) states with a different value. Two copies that each state a
        # SessionId the used copy lacks contradict each other, not the used copy. A copy holding a
        # field as text that could not be read (`unread`, or a CreationTime no form of time reads)
        # may state anything there: each field it differs in counts as contradicting, never as "lacking".
        stated = ", ".join(f'count(DISTINCT e."{c}") > 1 AS "apart {c}"' for c in content)
        # With two copies that is `u <> x`; only records with more copies (rare) are aggregated.
        con.execute(f"""CREATE TEMP TABLE stated_apart AS SELECT d.id, {stated}
                        FROM conflict_rows d JOIN events_all e ON e.rowid = d.rid
                        WHERE d.id IN (SELECT id FROM conflict_rows GROUP BY id HAVING count(*) > 2) GROUP BY d.id""")
        contradicts = ", ".join(f"CASE WHEN x.\"{c}\" IS NOT NULL AND coalesce(s.\"apart {c}\", u.\"{c}\" <> x.\"{c}\") "
                                f"THEN '{c}' END" for c in content)
        con.execute(f"""
            CREATE TABLE conflicts AS
            SELECT k.id, k.bundle AS used_bundle, k.src AS used_src, k.pos AS used_pos,
                   CASE WHEN NOT k.imported AND o.imported THEN 'collected from the API'
                        WHEN k.fields > o.fields THEN 'more fields' ELSE 'equal standing; first by content'
                   END AS used_because,
                   o.bundle AS other_bundle, o.src AS other_src, o.pos AS other_pos,
                   list_filter([{differs}], lambda x: x IS NOT NULL) AS differing,
                   CASE WHEN coalesce(len(u.unread), 0) > 0 OR coalesce(len(x.unread), 0) > 0
                             OR (u.ts IS NULL AND u.creation_time IS NOT NULL)
                             OR (x.ts IS NULL AND x.creation_time IS NOT NULL)
                        THEN list_filter([{differs}], lambda x: x IS NOT NULL)
                        ELSE list_filter([{contradicts}], lambda x: x IS NOT NULL) END AS contradicting
            FROM conflict_rows k JOIN conflict_rows o ON o.id = k.id AND o.differs_from_used
            JOIN events_all u ON u.rowid = k.rid JOIN events_all x ON x.rowid = o.rid
            LEFT JOIN stated_apart s ON s.id = k.id
            WHERE k.n = 1""")
        con.execute("DROP TABLE stated_apart")
        con.execute("""CREATE TABLE conflict_copies AS SELECT * EXCLUDE (readable, id_missing, imported, unread)
                       FROM events_all WHERE rowid IN (SELECT rid FROM conflict_rows WHERE differs_from_used)""")
        con.execute("DROP TABLE conflict_rows")
        con.execute("""CREATE TABLE duplicate_sources AS
                       SELECT id, bundle, src, pos FROM dup_ranked WHERE n > 1""")
        con.execute("DELETE FROM events_all WHERE rowid IN (SELECT rid FROM dup_ranked WHERE n > 1)")
        con.execute("DROP TABLE dup_ranked")
        self._conflict_problems()

    def _conflict_problems(self) -> None:
        """The conflicts as problems: each record whose copies state different values named (the
        first 100, then a count); copies that differ only in fields one of them lacks (an export
        that leaves fields out) summed up per file and missing fields, as no value contradicts."""
        con = self.con
        contradicted = "id IN (SELECT id FROM conflicts WHERE len(contradicting) > 0)"
        rows = con.execute(f"""
            SELECT id, used_bundle, used_src, min(used_because),
                   list_sort(list_distinct(flatten(list(contradicting)))),
                   string_agg(other_src, ', ' ORDER BY other_src, other_pos) FROM conflicts
            WHERE {contradicted}
            GROUP BY id, used_bundle, used_src ORDER BY id LIMIT ?""", [_CONFLICTS_LISTED]).fetchall()
        [(total,)] = con.execute(f"SELECT count(DISTINCT id) FROM conflicts WHERE {contradicted}").fetchall()
        for rid, bundle, src, because, differing, others in rows:
            self._problem(bundle, src, f"record {rid}: copies with this Id differ in "
                          f"{', '.join(differing) or 'content'}; used this copy ({because}), "
                          f"not the one in {others}", blind=False)
        if total > len(rows):
            self._problem("", "", f"{total - len(rows)} further record Id(s) have copies "
                          "with different content (all are in the table `conflicts`, evkit sql)", blind=False)
        lacking = con.execute(f"""
            SELECT other_bundle, other_src, list_sort(list_distinct(flatten(list(differing)))), count(DISTINCT id),
                   min(used_because), count(DISTINCT used_src), min(used_src)
            FROM conflicts WHERE NOT {contradicted}
            GROUP BY other_bundle, other_src ORDER BY other_bundle, other_src""").fetchall()
        for bundle, src, fields, count, because, files, first in lacking:
            where = first if files == 1 else f"{files:,} files ({first}, ...)"
            self._problem(bundle, src, f"{count:,} record(s) here have copies in {where} that differ only in fields "
                          f"one copy lacks ({', '.join(fields)}); no value contradicts; the other copies are used "
                          f"({because})", blind=False)

    def _load_bundle_tables(self, inventories: Sequence[Inventory]) -> None:
        self.con.execute("""CREATE TABLE bundles (bundle VARCHAR, path VARCHAR, case_id VARCHAR,
            collection_id VARCHAR, kind VARCHAR, window_start VARCHAR, window_end VARCHAR,
            started_utc VARCHAR, finished_utc VARCHAR)""")
        self.con.execute("""CREATE TABLE gaps (bundle VARCHAR, source VARCHAR, unit VARCHAR,
            window_start VARCHAR, window_end VARCHAR, status VARCHAR, reason VARCHAR,
            expected BIGINT, received BIGINT)""")
        for inv in inventories:
            c = inv.collection
            window = stated if isinstance(stated := c.get("window"), dict) else {}
            self.con.execute("INSERT INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                inv.name, str(inv.root), _text(c.get("case_id")), _text(c.get("collection_id")),
                _text(c.get("kind")), _text(window.get("start")), _text(window.get("end")),
                _text(c.get("started_utc")), _text(c.get("finished_utc"))])
            for e in inv.ledger:
                w = stated if isinstance(stated := e.get("window"), dict) else {}
                self.con.execute("INSERT INTO gaps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    inv.name, _text(e.get("source")), _text(e.get("unit")), _text(w.get("start")),
                    _text(w.get("end")), _text(e.get("status")), _text(e.get("reason")),
                    _int(e.get("expected")), _int(e.get("received"))])

    def _problem(self, bundle: str, src: str, problem: str, *, blind: bool = True) -> None:
        self.con.execute("INSERT INTO problems VALUES (?, ?, ?, ?)",
                         [bundle, *(t.encode("utf-8", "backslashreplace").decode("utf-8")
                                    for t in (src, problem[:500])), blind])

    # ---- querying ------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def put_table(self, name: str, columns: dict[str, str], rows: Iterable[Sequence[Any]]) -> None:
        """Create (or replace) a small table from Python values, e.g. indicator hits."""
        cols = ", ".join(f"{c} {t}" for c, t in columns.items())
        self.con.execute(f"CREATE OR REPLACE TABLE {name} ({cols})")
        marks = ", ".join("?" for _ in columns)
        data = [list(r) for r in rows]
        if data:
            self.con.executemany(f"INSERT INTO {name} VALUES ({marks})", data)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str) -> QueryResult:
        """An analyst's query (`evkit sql`); engine errors become QueryError."""
        try:
            cur = self.con.execute(sql)
            columns = [d[0] for d in cur.description] if cur.description else []
            return QueryResult(columns, cur.fetchall() if columns else [])
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


# In memory the tables take about a third of the page bytes (measured: 1M MailItemsAccessed
# records, 1.5 GB of pages, 0.55 GB peak for the load, under 1 GB for the whole report);
# beyond this many page bytes they go to a temporary file instead (measured at 1M: about the
# same load time, 0.33 GB peak), so memory stays flat as evidence grows.
_IN_MEMORY_BYTES = 2 << 30


def needs_disk(inventories: Sequence[Inventory]) -> bool:
    """Whether the evidence is too large for in-memory tables within the memory target."""
    total = sum(p.size or p.body.stat().st_size * 10 for inv in inventories for p in inv.record_pages)
    total += sum(i.body.stat().st_size for inv in inventories for i in inv.imports)
    return total > _IN_MEMORY_BYTES


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(json_text: str) -> str:
    """JSON text with each lone surrogate (`\\udc00` decoded from a damaged export; it is not
    a character and cannot be stored as UTF-8) written as the six characters `\\udc00`, so the
    record loads and every output shows where it was."""
    return _SURROGATE.sub(lambda m: f"\\\\u{ord(m.group()):04x}", json_text)


def _chunks(pages: list[Page], workers: int = 1) -> list[list[Page]]:
    """Consecutive runs of pages of about equal bytes (at least one page each).

    Enough runs that each stays within about the byte and file budgets, and, when the pages
    are worth splitting at all, a multiple of `workers`: equal runs finish together, where runs
    cut at the budget left one worker alone on the last full run while the other idled
    (1M records: 6.4 s for the load with runs of 37, 37, 37 / 37, 37, 15 pages; 4.9 s with six
    runs of 33-34)."""
    if not pages:
        return []
    weights = [_weight(page) for page in pages]
    total = sum(weights)
    count = max(-(-total // _CHUNK_BYTES), -(-len(pages) // _CHUNK_FILES))
    if total >= _MIN_SPLIT_BYTES * workers:
        count = -(-count // workers) * workers
    count = min(count, len(pages))
    chunks: list[list[Page]] = [[]]
    done = 0
    for page, weight in zip(pages, weights):
        if chunks[-1] and done * count >= total * len(chunks):
            chunks.append([])
        chunks[-1].append(page)
        done += weight
    return chunks


def _weight(page: Page) -> int:
    """A page's body bytes, for balancing work (a guess where the sidecar does not say)."""
    return page.size or _MAX_OBJECT // 4


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _without_oversized(jobs: list[tuple[Inventory, str, list[Page]]]
                       ) -> tuple[list[tuple[Inventory, str, list[Page]]], list[tuple[Inventory, Page]]]:
    """(jobs without the compressed pages whose gzip trailer claims more than a bulk read takes,
    those pages): they go to the Python reader, which refuses them by their trailer or its cap
    without inflating them whole (a gzip bomb must not take the report's memory)."""
    kept: list[tuple[Inventory, str, list[Page]]] = []
    oversized: list[tuple[Inventory, Page]] = []
    for inv, kind, pages in jobs:
        fits = []
        for page in pages:
            stated = gzip_stated_size(page.body) if page.body.name.endswith(".gz") else None
            if stated is not None and stated > _MAX_OBJECT:
                oversized.append((inv, page))
            else:
                fits.append(page)
        if fits:
            kept.append((inv, kind, fits))
    return kept, oversized
