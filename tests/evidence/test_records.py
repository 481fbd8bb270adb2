"""Reading one inventory item in Python never raises: damaged evidence is a row naming why."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from evkit.evidence.inventory import scan_bundle
from evkit.evidence.raw import read_raw_rows
from evkit.evidence.records import page_rows

PAGE = json.dumps({"value": [{"AuditData": json.dumps({"Id": "r1", "CreationTime": "2023-06-01T00:00:00"})}]})


def _corrupt_gzip() -> bytes:
    """A gzip stream whose header is fine and whose deflate data is not (zlib, not OSError)."""
    data = bytearray(gzip.compress(PAGE.encode() * 50, 6, mtime=0))
    data[15:25] = b"\xff" * 10
    return bytes(data)


def _bundle(root: Path, body: bytes) -> Path:
    unit = root / "data" / "raw" / "ual" / "u"
    unit.mkdir(parents=True)
    (unit / "p000001.json.gz").write_bytes(body)
    (unit / "p000001.meta.json").write_text(json.dumps(
        {"kind": "ual.page", "status": 200, "body_file": "p000001.json.gz", "stored_encoding": "gzip"}))
    (root / "data" / "collection.json").write_text("{}")
    return root


def test_a_page_with_corrupt_compressed_data_is_a_named_row(tmp_path):
    inv = scan_bundle(_bundle(tmp_path / "b", _corrupt_gzip()))
    (page,) = inv.record_pages
    rows = list(page_rows(page))
    assert [(r.row, r.record) for r in rows] == [(0, None)]
    assert rows[0].error.startswith("page unreadable: ")


def test_raw_rows_of_corrupt_compressed_data_are_a_named_row():
    rows = list(read_raw_rows({"kind": "ual.page", "status": 200}, _corrupt_gzip()))
    assert [(r.row, r.record) for r in rows] == [(0, None)]
    assert "ual.page body is not valid JSON" in rows[0].error


def test_a_good_compressed_page_reads(tmp_path):
    inv = scan_bundle(_bundle(tmp_path / "b", gzip.compress(PAGE.encode(), 6, mtime=0)))
    (page,) = inv.record_pages
    assert [r.record["Id"] for r in page_rows(page)] == ["r1"]
