"""The bulk load runs chunks as concurrent statements: the tables and the named problems must
be the same whatever the number of workers and however the chunks interleave."""

from __future__ import annotations

import json

import pytest

from bundlekit import mia, page_files, write_bundle
from evkit.report.engine import loader as engine_mod
from evkit.report.engine.loader import Engine
from evkit.evidence.inventory import scan_bundle

A = "alice@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z")
UNIT = "20230601T000000Z_20230602T000000Z"


def _bundle(tmp_path):
    recs = [mia(f"r{i:03d}", f"2023-06-01T{i % 24:02d}:00:00", A, folders={"\\Inbox": [f"<m{i}@x>"]})
            for i in range(60)]
    files = {}
    files.update(page_files(UNIT, "p900001", b'{"value": [ not json'))          # whole page unreadable
    bad_row = {"value": [{"AuditData": json.dumps(recs[0])}, {"AuditData": "{cut off"},
                         {"AuditData": json.dumps(mia("extra", "2023-06-01T05:00:00", A))}]}
    files.update(page_files(UNIT, "p900002", json.dumps(bad_row).encode()))   # one malformed record
    no_record = {"value": [{"AuditData": json.dumps(recs[1])}, {"NoAuditData": True}, {"AuditData": 42}]}
    files.update(page_files(UNIT, "p900003", json.dumps(no_record).encode()))  # JSON, but no records
    files.update(page_files(UNIT, "p900004", b'{"value": []}'))                 # empty: nothing to say
    files.update(page_files(UNIT, "p900005", b'{"error": {"code": "x"}}'))      # no list at all
    pretty = {"value": [{"AuditData": json.dumps(mia("pretty", "2023-06-01T06:00:00", A))}]}
    files.update(page_files(UNIT, "p900006", json.dumps(pretty, indent=2).encode()))  # several lines
    b1 = write_bundle(tmp_path / "B1", recs, window=WINDOW, page_size=4, extra_files=files)
    b2 = write_bundle(tmp_path / "B2", recs[30:] + recs[:3], window=WINDOW, page_size=5)
    return [scan_bundle(b1), scan_bundle(b2)]


def _tables(inventories, threads: int, on_disk: bool = False):
    with Engine(threads=threads, on_disk=on_disk) as e:
        e.load(inventories)
        events = e.rows("SELECT id, ts, bundle, src, pos FROM events ORDER BY id")
        sources = e.rows("SELECT id, bundle, src, pos FROM record_sources ORDER BY ALL")
        problems = e.rows("SELECT bundle, src, problem FROM problems ORDER BY ALL")
        assert e.rows("SELECT current_setting('threads')") == [(threads,)]  # restored after the load
    return events, sources, problems


@pytest.mark.parametrize("on_disk", [False, True])
def test_concurrent_chunks_give_the_same_tables_as_one_worker(tmp_path, monkeypatch, on_disk):
    monkeypatch.setattr(engine_mod, "_CHUNK_BYTES", 1)  # one page per chunk: many concurrent statements
    inventories = _bundle(tmp_path)
    events, sources, problems = _tables(inventories, threads=2, on_disk=on_disk)
    assert (events, sources, problems) == _tables(inventories, threads=1)
    assert len(events) == 62 and len({e[0] for e in events}) == 62   # "pretty" read by the Python reader
    assert {e[2] for e in events if e[0] in ("r030", "r000")} == {"B1"}  # first by bundle, file, position
    named = {src.rsplit("/", 1)[-1]: text for _, src, text in problems}
    assert set(named) == {"p900001.json.gz", "p900002.json.gz", "p900003.json.gz", "p900005.json.gz"}
    assert "has no list of records" in named["p900005.json.gz"]
    # a malformed record fails the bulk statement for its page, which the Python reader then
    # reads record by record: the good ones load, the bad one is named by its row
    assert named["p900002.json.gz"].startswith("row 2: AuditData is not valid JSON")
    assert named["p900003.json.gz"] == ("2 element(s) hold no readable audit record (missing, or not "
                                         "a JSON object) and were not read")   # counted in bulk
    assert "JSON" in named["p900001.json.gz"]  # read by the Python reader, which says why
