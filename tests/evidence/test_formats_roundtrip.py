"""Every export format in every encoding reads back to the records it was written from, and
damage (malformed rows, PowerShell-mangled cells) is counted and named by row and column."""

from __future__ import annotations

import pytest

from evkit.evidence.formats import detect_format, read_records, summarise_file
from evkit.times import parse_creation_time
from evkit.emulator.exports import (ENCODINGS, FORMATS, SENTINEL_COLUMNS, SENTINEL_RENAMES,
                              sample_records, write_export)

DETECTED_ENCODING = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16-le",
                     "utf-16-le": "utf-16-le", "utf-16-be": "utf-16-be"}


def expected_record(fmt: str, record: dict, *, extra_columns: bool = False) -> dict:
    """What the reader should give back for `record` written as `fmt`, CreationTime aside."""
    out = {k: v for k, v in record.items() if k != "CreationTime"}
    if fmt.startswith("sentinel"):
        # The table has no column for some fields, and empty cells read as absent fields.
        out = {k: v for k, v in out.items()
               if v not in (None, "")
               and (extra_columns or SENTINEL_RENAMES.get(k, k) in SENTINEL_COLUMNS)}
    return out


def assert_same(fmt: str, got: dict, original: dict, *, extra_columns: bool = False) -> None:
    assert parse_creation_time(got["CreationTime"]) == parse_creation_time(original["CreationTime"])
    rest = {k: v for k, v in got.items() if k != "CreationTime"}
    assert rest == expected_record(fmt, original, extra_columns=extra_columns)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path, fmt, encoding):
    records = sample_records()
    path = tmp_path / f"export-{fmt}"
    info = write_export(records, path, fmt, encoding=encoding)
    assert detect_format(path) == fmt
    rows = list(read_records(path))
    assert [r.error for r in rows] == [None] * len(records)
    assert [r.row for r in rows] == list(range(1, len(records) + 1))
    assert [r.record["Id"] for r in rows] == info.ids == [r["Id"] for r in records]
    for parsed, original in zip(rows, records):
        assert parsed.lossy == []
        assert_same(fmt, parsed.record, original)
    summary = summarise_file(path)
    assert summary == {"format": fmt, "encoding": DETECTED_ENCODING[encoding],
                       "record_count": len(records), "error_count": 0, "errors": [],
                       "lossy_count": 0, "lossy": []}


def test_records_keep_the_original_creation_time_string(tmp_path):
    records = sample_records()
    write_export(records, tmp_path / "blob.json", "mgmt-blob")
    write_export(records, tmp_path / "graph.json", "graph-records")
    write_export(records, tmp_path / "sentinel.csv", "sentinel-csv")
    assert [r.record["CreationTime"] for r in read_records(tmp_path / "blob.json")] == \
        [r["CreationTime"] for r in records]
    # Graph's auditData carries a Z; the Log Analytics portal prints its own format
    assert [r.record["CreationTime"] for r in read_records(tmp_path / "graph.json")][0] == \
        "2024-03-12T14:02:11Z"
    assert [r.record["CreationTime"] for r in read_records(tmp_path / "sentinel.csv")][0] == \
        "3/12/2024, 2:02:11.000 PM"


@pytest.mark.parametrize("fmt,tables", [("sentinel-csv", False), ("sentinel-json", False),
                                        ("sentinel-json", True)])
def test_sentinel_extra_columns_round_trip(tmp_path, fmt, tables):
    records = sample_records()
    path = tmp_path / "oa"
    write_export(records, path, fmt, extra_columns=True, la_tables=tables)
    assert detect_format(path) == fmt
    rows = list(read_records(path, fmt))
    for parsed, original in zip(rows, records):
        assert_same(fmt, parsed.record, original, extra_columns=True)
    # without extra columns the fields the published table lacks are gone, as in Sentinel
    write_export(records, path, fmt, la_tables=tables)
    first = next(read_records(path, fmt)).record
    assert "SessionId" not in first and "OperationCount" not in first
    assert first["Folders"] == records[0]["Folders"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_rows_are_counted_with_row_numbers(tmp_path, fmt, encoding):
    records = sample_records() * 2          # 12 rows; Ids repeat, which is fine for a reader
    path = tmp_path / "damaged"
    info = write_export(records, path, fmt, encoding=encoding, malformed={2, 3, 4, 5, 9},
                        mangle={1, 6, 7})
    assert detect_format(path) == fmt
    summary = summarise_file(path)
    assert [e["row"] for e in summary["errors"]] == sorted(info.malformed)
    assert all(e["reason"] for e in summary["errors"])
    assert summary["record_count"] == len(info.ids) == len(records) - len(info.malformed)
    assert info.mangled, "the sample has nested fields to mangle"
    assert [(c["row"], c["column"]) for c in summary["lossy"]] == sorted(info.mangled.items())
    assert all("PowerShell-mangled" in c["reason"] for c in summary["lossy"])
    rows = list(read_records(path))
    assert [r.row for r in rows] == list(range(1, len(records) + 1))
    assert all((r.record is None) == (r.error is not None) for r in rows)


def test_error_reasons_say_what_is_wrong(tmp_path):
    path = tmp_path / "p.csv"
    write_export(sample_records(), path, "purview-csv", malformed={1, 2, 3, 4})
    reasons = [e["reason"] for e in summarise_file(path)["errors"]]
    assert reasons[0].startswith("AuditData is not valid JSON")
    assert reasons[1] == "row has 6 cells, the header has 8"
    assert reasons[2] == "record has no Id"
    assert "bad CreationTime" in reasons[3] and "yesterday afternoon" in reasons[3]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_log_analytics_query_answer_round_trip_and_damage(tmp_path, encoding):
    records = sample_records() * 2
    path = tmp_path / "la.json"
    info = write_export(records, path, "sentinel-json", encoding=encoding, la_tables=True,
                        malformed={2, 3, 4}, mangle={1, 5})
    assert detect_format(path) == "sentinel-json"
    summary = summarise_file(path)
    assert summary["record_count"] == len(info.ids)
    assert [e["row"] for e in summary["errors"]] == sorted(info.malformed)
    assert [(c["row"], c["column"]) for c in summary["lossy"]] == sorted(info.mangled.items())
    write_export(sample_records(), path, "sentinel-json", la_tables=True)
    for parsed, original in zip(read_records(path), sample_records()):
        assert_same("sentinel-json", parsed.record, original)
