"""evkit.emulator.exports writes what the real tools write (headers, time styles, BOMs, quirks)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from datetime import datetime, timezone

import pytest

from evkit.emulator.exports import (CLASSIC_HEADER, PURVIEW_HEADER, PS_TYPE_LINE, graph_record, main,
                              sample_records, us_time, write_export)

RECORDS = sample_records()


def text_of(path, encoding="utf-8"):
    return path.read_bytes().decode(encoding)


def test_us_time_styles():
    dt = datetime(2023, 9, 20, 4, 5, 3, 250000, tzinfo=timezone.utc)
    assert us_time(dt) == "9/20/2023 4:05:03 AM"
    assert us_time(dt, comma=True, millis=True) == "9/20/2023, 4:05:03.250 AM"
    assert us_time(dt.replace(hour=0)) == "9/20/2023 12:05:03 AM"
    assert us_time(dt.replace(hour=12)) == "9/20/2023 12:05:03 PM"


def test_purview_csv_header_and_row(tmp_path):
    path = tmp_path / "p.csv"
    write_export(RECORDS, path, "purview-csv")
    rows = list(csv.reader(io.StringIO(text_of(path))))
    assert rows[0] == PURVIEW_HEADER
    first = rows[1]
    assert first[0] == RECORDS[0]["Id"] and first[1] == "3/12/2024 2:02:11 PM" and first[2] == "50"
    assert first[6:] == ["", ""]
    assert json.loads(first[5]) == RECORDS[0] and "\\/" in first[5]
    assert text_of(path).endswith("\r\n")


def test_classic_csv_header(tmp_path):
    path = tmp_path / "c.csv"
    write_export(RECORDS, path, "purview-csv-classic")
    rows = list(csv.reader(io.StringIO(text_of(path))))
    assert rows[0] == CLASSIC_HEADER and rows[1][0] == "2024-03-12T14:02:11.0000000Z"


def test_ual_csv_has_powershell_type_line_and_quotes_everything(tmp_path):
    path = tmp_path / "u.csv"
    write_export(RECORDS, path, "ual-csv")
    lines = text_of(path).split("\r\n")
    assert lines[0] == PS_TYPE_LINE
    assert lines[1].startswith('"RunspaceId","RecordType","CreationDate"')
    row = next(csv.reader([lines[2]]))
    assert row[1] == "ExchangeItemAggregated" and row[6:8] == ["1", str(len(RECORDS))]


def test_ual_json_objects(tmp_path):
    path = tmp_path / "u.json"
    write_export(RECORDS, path, "ual-json")
    doc = json.loads(text_of(path))
    assert [json.loads(o["AuditData"]) for o in doc] == RECORDS
    assert doc[0]["ResultIndex"] == 1 and doc[0]["ResultCount"] == len(RECORDS)


def test_graph_record_has_the_live_quirks():
    rec = graph_record(RECORDS[0])
    assert rec["auditLogRecordType"] == "ExchangeItemAggregated" and rec["userType"] == "Regular"
    assert rec["userId"] == RECORDS[0]["UserKey"] and rec["userPrincipalName"] == RECORDS[0]["UserId"]
    assert rec["clientIp"] is None and rec["administrativeUnits"] == [""]
    data = rec["auditData"]
    assert data["@odata.type"] == "#microsoft.graph.security.defaultAuditData"
    assert data["RecordType@odata.type"] == "#Int64" and data["RecordType"] == 50
    assert data["CreationTime"].endswith("Z")
    assert "ExternalAccess@odata.type" not in data


def test_sentinel_csv_portal_style(tmp_path):
    path = tmp_path / "s.csv"
    write_export(RECORDS, path, "sentinel-csv")
    rows = list(csv.DictReader(io.StringIO(text_of(path))))
    first = rows[0]
    assert "TimeGenerated [UTC]" in first and "TimeGenerated" not in first
    assert first["TimeGenerated [UTC]"] == "3/12/2024, 2:02:11.000 PM"
    assert first["OfficeId"] == RECORDS[0]["Id"] and first["Client_IPAddress"] == "203.0.113.10"
    assert first["RecordType"] == "ExchangeItemAggregated" and first["UserType"] == "Regular"
    assert json.loads(first["Folders"]) == RECORDS[0]["Folders"]
    assert first["Type"] == "OfficeActivity" and first["ExternalAccess"] == "false"
    assert "SessionId" not in first                   # not an OfficeActivity column


@pytest.mark.parametrize("encoding,prefix", [
    ("utf-8", b"Rec"), ("utf-8-sig", codecs.BOM_UTF8 + b"Rec"),
    ("utf-16", codecs.BOM_UTF16_LE + "Rec".encode("utf-16-le")),
    ("utf-16-le", codecs.BOM_UTF16_LE + "Rec".encode("utf-16-le")),
    ("utf-16-be", codecs.BOM_UTF16_BE + "Rec".encode("utf-16-be")),
])
def test_encodings_write_the_excel_boms(tmp_path, encoding, prefix):
    path = tmp_path / "p.csv"
    write_export(RECORDS, path, "purview-csv", encoding=encoding)
    assert path.read_bytes().startswith(prefix)


def test_damage_is_recorded_in_the_info(tmp_path):
    info = write_export(RECORDS, tmp_path / "p.csv", "purview-csv", malformed={1, 2, 3, 4},
                        mangle={5, 6})
    assert info.malformed == {1: "bad-json", 2: "columns", 3: "no-id", 4: "bad-date"}
    assert info.mangled == {5: "AuditData.Parameters", 6: "AuditData.ExtendedProperties"}
    assert info.ids == [r["Id"] for r in RECORDS[4:]] and info.rows == len(RECORDS)
    text = text_of(tmp_path / "p.csv")
    assert "System.Object[]" in text and "@{Name=MoveToFolder; Value=RSS Feeds}" in text


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_export(RECORDS, tmp_path / "x", "excel")
    with pytest.raises(ValueError):
        write_export(RECORDS, tmp_path / "x", "purview-csv", encoding="latin-1")


def test_cli_writes_one_file_per_format(tmp_path, capsys):
    rc = main(["--scenario", "demo", "--out", str(tmp_path), "--formats",
               "purview-csv,sentinel-json", "--operations", "MailItemsAccessed", "--limit", "2"],
              source=lambda name, seed, window: iter(RECORDS))
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-purview-csv.csv", "demo-sentinel-json.json"]
    assert len(json.loads((tmp_path / "demo-sentinel-json.json").read_text())) == 2
    assert main(["--out", str(tmp_path), "--formats", "xlsx"]) == 2
