"""The engine's loading contract: de-duplication, provenance, both storage modes, chunking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundlekit import mia, page_files, record, write_bundle
from evkit.report.engine import loader as engine_mod
from evkit.report.engine.loader import Engine, needs_disk
from evkit.evidence.inventory import Page, scan_bundle, scan_bundles

A = "alice@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z")


def _records(n: int) -> list[dict]:
    return [mia(f"r{i:04d}", f"2023-06-01T{i % 24:02d}:00:00", A, folders={"\\Inbox": [f"<m{i}@x>"]})
            for i in range(n)] + [record("s1", "2023-06-01T10:00:00Z", "Send", A,
                                         Item={"InternetMessageId": "<s@x>", "Subject": "hi"})]


@pytest.mark.parametrize("on_disk", [False, True])
def test_records_are_deduplicated_across_pages_and_bundles(tmp_path, on_disk, monkeypatch):
    monkeypatch.setattr(engine_mod, "_CHUNK_BYTES", 1)  # one page per bulk read
    recs = _records(30)
    b1 = write_bundle(tmp_path / "B1", recs + recs[:5], window=WINDOW, page_size=7)
    b2 = write_bundle(tmp_path / "B2", recs[10:], window=WINDOW, page_size=50)
    with Engine(on_disk=on_disk) as e:
        e.load([scan_bundle(b1), scan_bundle(b2)])
        assert e.rows("SELECT count(*), count(DISTINCT id) FROM events") == [(31, 31)]
        assert e.rows("SELECT count(*) FROM record_sources") == [(31 + 5 + 21,)]
        # the later occurrences, each with where it was seen
        assert e.rows("SELECT count(*), count(DISTINCT id) FROM duplicate_sources") == [(5 + 21, 5 + 21)]
        assert e.rows("SELECT bundle, count(*) FROM duplicate_sources GROUP BY 1 ORDER BY 1") == [
            ("B1", 5), ("B2", 21)]
        assert e.rows("SELECT count(*) FROM duplicate_sources d JOIN events e USING (id) "
                      "WHERE (d.bundle, d.src, d.pos) < (e.bundle, e.src, e.pos)") == [(0,)]
        # the kept copy is the first by bundle, file, position
        assert e.rows("SELECT bundle FROM events WHERE id = 'r0020'") == [("B1",)]
        assert e.rows("SELECT count(*) FROM accessed_items") == [(30,)]
        assert e.rows("SELECT internet_message_id FROM sends") == [("<s@x>",)]
        assert e.rows("SELECT count(*) FROM problems") == [(0,)]


def test_needs_disk_follows_the_page_bytes(tmp_path, monkeypatch):
    inv = scan_bundle(write_bundle(tmp_path / "B", _records(3), window=WINDOW))
    assert needs_disk([inv]) is False
    monkeypatch.setattr(engine_mod, "_IN_MEMORY_BYTES", 10)
    assert needs_disk([inv]) is True


def _pages(sizes: list[int]) -> list[Page]:
    return [Page(Path(f"p{n}.meta.json"), Path(f"p{n}.json.gz"), "ual.page", 200, {}, size)
            for n, size in enumerate(sizes)]


def test_chunks_are_equal_runs_in_a_multiple_of_the_workers():
    mb = 1 << 20
    pages = _pages([7 * mb] * 200)  # 1.4 GB: six budget-sized runs would be 37 x 5 + 15
    chunks = engine_mod._chunks(pages, workers=2)
    assert [page for chunk in chunks for page in chunk] == pages  # every page once, in order
    assert len(chunks) % 2 == 0 and len(chunks) >= 1400 // 256
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1
    assert all(sum(p.size for p in chunk) <= engine_mod._CHUNK_BYTES for chunk in chunks)
    # uneven pages: runs still balance by bytes, not by count
    uneven = _pages([1 * mb, 10 * mb] * 20)
    weights = [sum(p.size for p in chunk) for chunk in engine_mod._chunks(uneven, workers=2)]
    assert len(weights) == 2 and abs(weights[0] - weights[1]) <= 10 * mb


def test_small_evidence_is_one_statement_and_every_page_is_kept():
    assert len(engine_mod._chunks(_pages([100_000] * 30), workers=2)) == 1
    assert engine_mod._chunks([], workers=2) == []
    unknown = engine_mod._chunks(_pages([0] * 8), workers=4)  # sizes not in the sidecars: guessed
    assert [len(c) for c in unknown] == [2, 2, 2, 2]


def test_query_errors_are_query_errors(tmp_path):
    from evkit.report.errors import QueryError

    inv = scan_bundle(write_bundle(tmp_path / "B", _records(2), window=WINDOW))
    with Engine() as e:
        e.load([inv])
        with pytest.raises(QueryError, match="nope"):
            e.query("SELECT nope FROM events")
        result = e.query("SELECT operation, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
        assert result.columns == ["operation", "n"] and result.rows == [("MailItemsAccessed", 2), ("Send", 1)]


def test_mgmt_blobs_and_graph_records_load_like_ual_pages(tmp_path):
    import json

    from bundlekit import page_files

    recs = _records(4)
    files = {}
    files.update(page_files("Audit.Exchange", "blob-1", json.dumps(recs[:2] + [42]).encode(),
                            kind="mgmt.blob", source="mgmt"))
    graph = {"value": [{"id": r["Id"], "auditData": r} for r in recs[2:]] + [{"id": "x"}]}
    files.update(page_files("q1", "records-000001", json.dumps(graph).encode(), kind="graph.records",
                            source="graph"))
    bundle = write_bundle(tmp_path / "B", recs[:1], window=WINDOW, extra_files=files)
    with Engine() as e:
        e.load([scan_bundle(bundle)])
        assert e.rows("SELECT count(*) FROM events") == [(5,)]
        assert sorted(r[0] for r in e.rows("SELECT src FROM problems")) == [
            "B/data/raw/graph/q1/records-000001.json.gz", "B/data/raw/mgmt/Audit.Exchange/blob-1.json.gz"]


def test_bundles_whose_folders_share_a_name_stay_apart(tmp_path):
    unit = "20230601T000000Z_20230602T000000Z"
    recs = _records(6)
    # the same page file in both: records in the first, no record list (a problem) in the second
    with_rows = page_files(unit, "p900005", json.dumps({"value": [{"AuditData": json.dumps(recs[0])}]}).encode())
    no_list = page_files(unit, "p900005", b'{"error": {"code": "x"}}')
    first = write_bundle(tmp_path / "one" / "B", recs[:3], window=WINDOW, page_size=2, extra_files=with_rows)
    second = write_bundle(tmp_path / "two" / "B", recs[3:], window=WINDOW, page_size=2, extra_files=no_list)
    inventories = scan_bundles([second, first])
    assert [(inv.name, inv.root) for inv in inventories] == [("B", first), ("B (2)", second)]
    with Engine() as e:
        e.load(inventories)
        assert e.rows("SELECT bundle, count(*) FROM events GROUP BY 1 ORDER BY 1") == [("B", 3), ("B (2)", 4)]
        problems = e.rows("SELECT bundle, src, problem FROM problems")
    assert [(b, src.rsplit("/", 1)[-1]) for b, src, _ in problems] == [("B (2)", "p900005.json.gz")]
    assert "has no list of records" in problems[0][2]


def test_a_problem_naming_no_source_is_stated_without_a_leading_colon(tmp_path, monkeypatch):
    """Beyond the conflicts named one by one, the total is one problem of the whole load."""
    from evkit.report.engine import queries
    monkeypatch.setattr(engine_mod, "_CONFLICTS_LISTED", 1)
    recs = _records(3)
    other = [dict(r, ClientIPAddress="192.0.2.99") for r in recs]
    b1 = write_bundle(tmp_path / "B1", recs, window=WINDOW)
    b2 = write_bundle(tmp_path / "B2", other, window=WINDOW)
    with Engine() as e:
        e.load([scan_bundle(b1), scan_bundle(b2)])
        problems = queries.load_problems(e)
    # 4 records differ; one of them only gains the address its first copy lacked (not a contradiction)
    assert problems[0].startswith("2 further record Id(s) have copies with different content")
    assert sum("differ only in fields one copy lacks (client_ip_address)" in p for p in problems) == 1
    assert not any(p.startswith(":") for p in problems)


def test_copies_that_each_state_a_field_the_used_copy_lacks_differently_are_a_contradiction(tmp_path):
    """Two copies state different SessionIds that the copy used (more fields) lacks: they
    contradict each other, so the record is named, never summed up as 'no value contradicts'."""
    from evkit.report.engine import queries
    base = mia("r1", "2023-06-01T10:00:00", A, folders={"\\Inbox": ["<m@x>"]})
    base.pop("SessionId", None)
    used = write_bundle(tmp_path / "A", [dict(base, ClientIP="192.0.2.1", ActorIpAddress="192.0.2.2")],
                        window=WINDOW)
    first = write_bundle(tmp_path / "B", [dict(base, SessionId="11111111-1111-1111-1111-111111111111")],
                         window=WINDOW)
    second = write_bundle(tmp_path / "C", [dict(base, SessionId="22222222-2222-2222-2222-222222222222")],
                          window=WINDOW)
    with Engine() as e:
        e.load([scan_bundle(b) for b in (used, first, second)])
        assert e.rows("SELECT other_bundle, contradicting FROM conflicts ORDER BY 1") == [
            ("B", ["session_id"]), ("C", ["session_id"])]
        problems = queries.load_problems(e)
    assert not [p for p in problems if "no value contradicts" in p], problems
    [named] = [p for p in problems if "record r1: copies with this Id differ in session_id;" in p]
    assert named.startswith("A/") and "(more fields)" in named, named


def test_a_copy_whose_field_could_not_be_read_is_never_summed_up_as_only_lacking_it(tmp_path):
    """A SIEM copy holds Folders as JSON text cut short (naming another item): its folders are
    unreadable, not absent, so 'no value contradicts' cannot be said; the record is named."""
    from bundlekit import mgmt_blob, write_import_bundle
    from evkit.report.engine import queries
    rec = mia("r1", "2023-06-01T10:00:00", A, folders={"\\Inbox": ["<m@x>"]})
    cut = dict(rec, Folders='[{"Path": "\\\\Inbox", "FolderItems": [{"InternetMessageId": "<other@x>"}]')
    api = write_bundle(tmp_path / "A", [rec], window=WINDOW)
    siem = write_import_bundle(tmp_path / "B", {"siem.json": mgmt_blob([cut])})
    with Engine() as e:
        e.load([scan_bundle(api), scan_bundle(siem)])
        assert e.rows("SELECT other_bundle, contradicting FROM conflicts") == [("B", ["folders"])]
        problems = queries.load_problems(e)
    assert not [p for p in problems if "no value contradicts" in p], problems
    assert [p for p in problems if "record r1: copies with this Id differ in folders;" in p
            and "B/data/imports/siem.json" in p], problems


def test_a_copy_whose_creation_time_could_not_be_read_is_never_summed_up_as_only_lacking_it(tmp_path):
    """A copy states a CreationTime no form of time reads: not a copy that lacks one."""
    from evkit.report.engine import queries
    rec = mia("r1", "2023-06-01T10:00:00", A, folders={"\\Inbox": ["<m@x>"]})
    api = write_bundle(tmp_path / "A", [rec], window=WINDOW)
    other = write_bundle(tmp_path / "B", [dict(rec, CreationTime="the 31st of June")], window=WINDOW)
    with Engine() as e:
        e.load([scan_bundle(api), scan_bundle(other)])
        assert e.rows("SELECT other_bundle, contradicting FROM conflicts") == [("B", ["ts"])]
        problems = queries.load_problems(e)
    assert not [p for p in problems if "no value contradicts" in p], problems
    assert [p for p in problems if "record r1: copies with this Id differ in ts;" in p], problems
