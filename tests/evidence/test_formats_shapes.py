"""Files shaped by hand after real exports (not by the emulator), unknown files, encodings,
JSON streaming edge cases and time parsing."""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone

import pytest

from evkit.evidence.formats import LossyCell, detect_format, read_records, summarise_file
from evkit.evidence.formats.encoding import sniff_encoding
from evkit.times import parse_creation_time

AUDIT = {"CreationTime": "2023-09-20T04:05:03", "Id": "a3b5c7d9-0000-4000-8000-000000000001",
         "Operation": "UserLoggedIn", "RecordType": 15, "UserId": "bob@contoso.com",
         "ExtendedProperties": [{"Name": "UserAgent", "Value": "Mozilla/5.0 (Windows NT 10.0)"}]}


def purview_line(record: dict) -> str:
    data = json.dumps(record, separators=(",", ":")).replace("/", "\\/").replace('"', '""')
    return (f'{record["Id"]},9/20/2023 4:05:03 AM,15,UserLoggedIn,bob@contoso.com,"{data}",,\r\n')


def test_purview_export_as_downloaded(tmp_path):
    path = tmp_path / "Audit_Search.csv"
    header = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n"
    path.write_bytes(codecs.BOM_UTF8 + (header + purview_line(AUDIT)).encode())
    assert detect_format(path) == "purview-csv"
    [row] = read_records(path)
    assert row.record == AUDIT
    assert summarise_file(path)["encoding"] == "utf-8-sig"


def test_classic_four_column_export_and_powershell_variant(tmp_path):
    data = json.dumps(AUDIT).replace('"', '""')
    path = tmp_path / "classic.csv"
    path.write_text(f'CreationDate,UserIds,Operations,AuditData\n2023-09-20T04:05:03.0000000Z,bob@contoso.com,UserLoggedIn,"{data}"\n')
    assert detect_format(path) == "purview-csv-classic"
    assert [r.record for r in read_records(path)] == [AUDIT]
    path.write_text('CreationDate,UserIds,RecordType,AuditData\n'
                    f'9/20/2023 4:05:03 AM,bob@contoso.com,AzureActiveDirectoryStsLogon,"{data}"\n')
    assert detect_format(path) == "purview-csv-classic"


def test_search_unifiedauditlog_export_csv_with_type_line(tmp_path):
    data = json.dumps(AUDIT).replace('"', '""')
    path = tmp_path / "ual.csv"
    path.write_text(
        "#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.AuditRecord\n"
        '"RunspaceId","RecordType","CreationDate","UserIds","Operations","AuditData",'
        '"ResultIndex","ResultCount","Identity","IsValid","ObjectState"\n'
        f'"x","AzureActiveDirectoryStsLogon","9/20/2023 4:05:03 AM","bob@contoso.com","UserLoggedIn","{data}",'
        f'"1","1","{AUDIT["Id"]}","True","Unchanged"\n',
        encoding="utf-16")
    assert detect_format(path) == "ual-csv"
    [row] = read_records(path)
    assert row.row == 1 and row.record == AUDIT


def test_powershell_5_convertto_json_single_object_and_msdate(tmp_path):
    path = tmp_path / "ual.json"
    obj = {"RecordType": 15, "CreationDate": "\\/Date(1695182703000)\\/", "UserIds": "bob@contoso.com",
           "Operations": "UserLoggedIn", "AuditData": json.dumps(AUDIT), "ResultIndex": 1,
           "ResultCount": 1}
    path.write_text(json.dumps(obj, indent=4))
    assert detect_format(path) == "ual-json"
    assert [r.record for r in read_records(path)] == [AUDIT]
    assert parse_creation_time("/Date(1695182703000)/") == datetime(2023, 9, 20, 4, 5, 3, tzinfo=timezone.utc)


def test_graph_records_page_from_the_live_api(tmp_path):
    page = {"@odata.context": "x", "value": [{
        "id": "d87d2977-96b6-4c65-aa44-032f7e314400", "createdDateTime": "2024-05-02T08:28:17Z",
        "auditLogRecordType": "AzureActiveDirectoryStsLogon", "operation": "UserLoggedIn",
        "userType": "Regular", "userId": "bbcfc3c5-0000", "userPrincipalName": "alice@contoso.com",
        "clientIp": None, "administrativeUnits": [""],
        "auditData": {"@odata.type": "#microsoft.graph.security.defaultAuditData",
                      "CreationTime": "2024-05-02T08:28:17Z", "Id": "d87d2977-96b6-4c65-aa44-032f7e314400",
                      "Operation": "UserLoggedIn", "RecordType@odata.type": "#Int64", "RecordType": 15,
                      "UserKey": "bbcfc3c5-0000", "UserType@odata.type": "#Int64", "UserType": 0,
                      "ExtendedProperties@odata.type": "#Collection(microsoft.graph.security.defaultAuditData)",
                      "ExtendedProperties": [{"@odata.type": "#microsoft.graph.security.defaultAuditData",
                                              "Name": "UserAgent", "Value": "x"}],
                      "ClientIP": "2001:db8::1038", "UserId": "alice@contoso.com"}}],
        "@odata.nextLink": "https://graph.microsoft.com/beta/next"}
    path = tmp_path / "records.json"
    path.write_text(json.dumps(page))
    assert detect_format(path) == "graph-records"
    [row] = read_records(path)
    assert row.record == {"CreationTime": "2024-05-02T08:28:17Z", "Id": "d87d2977-96b6-4c65-aa44-032f7e314400",
                          "Operation": "UserLoggedIn", "RecordType": 15, "UserKey": "bbcfc3c5-0000",
                          "UserType": 0, "ExtendedProperties": [{"Name": "UserAgent", "Value": "x"}],
                          "ClientIP": "2001:db8::1038", "UserId": "alice@contoso.com"}


SENTINEL_HEADER = ('TenantId,SourceSystem,"TimeGenerated [UTC]",RecordType,Operation,UserType,UserKey,'
                   'OfficeWorkload,UserId,ClientIP,ExternalAccess,Logon_Type,Client_IPAddress,'
                   'OperationProperties,Folders,OfficeId,OrganizationId,OfficeTenantId,Type,_ResourceId\n')


def test_sentinel_portal_csv_maps_columns_back(tmp_path):
    props = json.dumps([{"Name": "MailAccessType", "Value": "Sync"}]).replace('"', '""')
    folders = json.dumps([{"Id": "LgAA", "Path": "\\Inbox"}]).replace('"', '""')
    path = tmp_path / "query_data.csv"
    path.write_text(SENTINEL_HEADER +
                    f'ws,OfficeActivityManager,"3/12/2024, 2:05:40.000 PM",ExchangeItemAggregated,'
                    f'MailItemsAccessed,Regular,1003,Exchange,alice@contoso.com,,False,Owner,198.51.100.77,'
                    f'"{props}","{folders}",0b5c,org-1,org-1,OfficeActivity,/subscriptions/x\n')
    assert detect_format(path) == "sentinel-csv"
    [row] = read_records(path)
    assert row.error is None and row.lossy == []
    assert row.record == {"CreationTime": "3/12/2024, 2:05:40.000 PM", "RecordType": 50,
                          "Operation": "MailItemsAccessed", "UserType": 0, "UserKey": "1003",
                          "Workload": "Exchange", "UserId": "alice@contoso.com", "ExternalAccess": False,
                          "LogonType": 0, "ClientIPAddress": "198.51.100.77",
                          "OperationProperties": [{"Name": "MailAccessType", "Value": "Sync"}],
                          "Folders": [{"Id": "LgAA", "Path": "\\Inbox"}], "Id": "0b5c",
                          "OrganizationId": "org-1"}
    assert parse_creation_time(row.record["CreationTime"]) == datetime(2024, 3, 12, 14, 5, 40, tzinfo=timezone.utc)


def test_sentinel_mangled_by_powershell_round_trip(tmp_path):
    path = tmp_path / "oa.csv"
    path.write_text(SENTINEL_HEADER +
                    'ws,x,"3/12/2024, 2:05:40.000 PM",ExchangeItemAggregated,MailItemsAccessed,Regular,1,'
                    'Exchange,alice@contoso.com,,False,0,1.2.3.4,'
                    '"@{Name=MailAccessType; Value=Sync} @{Name=IsThrottled; Value=False}",System.Object[],'
                    '0b5c,org,org,OfficeActivity,\n')
    summary = summarise_file(path)
    assert summary["record_count"] == 1 and summary["errors"] == []
    assert [(c["row"], c["column"]) for c in summary["lossy"]] == [(1, "OperationProperties"), (1, "Folders")]
    assert "System.Object[]" in summary["lossy"][1]["reason"]


def test_sentinel_local_time_header_is_reported(tmp_path):
    path = tmp_path / "oa.csv"
    path.write_text('"TimeGenerated [Local Time]",OfficeId,Operation,OfficeWorkload\n'
                    '"3/12/2024, 2:05:40.000 PM",a,Send,Exchange\n"3/12/2024, 2:06:40.000 PM",b,Send,Exchange\n')
    rows = list(read_records(path))
    assert [r.record["Id"] for r in rows] == ["a", "b"]
    assert [c.column for c in rows[0].lossy] == ["TimeGenerated [Local Time]"] and rows[1].lossy == []


@pytest.mark.parametrize("content", [
    b"", b"   \n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"name,email\nbob,bob@x\n",
    b'[1, 2, 3]', b'{"hello": "world"}', b'[{"Id": 1}]', b"not json {", b"{broken json",
    "Id;CreationTime\n1;2\n".encode("utf-16"),
])
def test_unrecognised_files_say_unknown(tmp_path, content):
    path = tmp_path / "mystery.bin"
    path.write_bytes(content)
    assert detect_format(path) == "unknown"
    assert list(read_records(path)) == []
    summary = summarise_file(path)
    assert summary["format"] == "unknown" and summary["record_count"] == 0


def test_encoding_sniffing():
    assert sniff_encoding(b"abc") == "utf-8"
    assert sniff_encoding(codecs.BOM_UTF8 + b"a") == "utf-8-sig"
    assert sniff_encoding(codecs.BOM_UTF16_LE + b"a\x00") == "utf-16-le"
    assert sniff_encoding(codecs.BOM_UTF16_BE + b"\x00a") == "utf-16-be"
    assert sniff_encoding("ab".encode("utf-16-le")) == "utf-16-le"      # no BOM, NUL pattern
    assert sniff_encoding("ab".encode("utf-16-be")) == "utf-16-be"


def test_bom_less_utf16_is_read(tmp_path):
    path = tmp_path / "blob.json"
    path.write_bytes(json.dumps([AUDIT]).encode("utf-16-le"))
    assert detect_format(path) == "mgmt-blob"
    assert [r.record for r in read_records(path)] == [AUDIT]


def test_undecodable_bytes_are_reported_lossy(tmp_path):
    path = tmp_path / "blob.json"
    text = json.dumps([dict(AUDIT, Subject="caf\u00e9")], ensure_ascii=False).encode("utf-8").replace("é".encode(), b"\xe9")
    path.write_bytes(text)
    [row] = read_records(path)
    assert row.record["Subject"] == "caf\ufffd"
    assert [c.column for c in row.lossy] == ["Subject"] and "U+FFFD" in row.lossy[0].reason


def test_truncated_json_reports_the_row_where_reading_stopped(tmp_path):
    records = [dict(AUDIT, Id=f"id-{i}") for i in range(5)]
    text = json.dumps(records)
    path = tmp_path / "blob.json"
    path.write_text(text[: text.index('"id-3"') + 3])
    rows = list(read_records(path, "mgmt-blob"))
    assert [r.row for r in rows] == [1, 2, 3, 4]
    assert [r.record["Id"] for r in rows[:3]] == ["id-0", "id-1", "id-2"]
    assert rows[3].record is None and "JSON syntax error" in rows[3].error


def test_json_lines_continue_past_a_bad_line(tmp_path):
    lines = [json.dumps(dict(AUDIT, Id=f"id-{i}")) for i in range(4)]
    lines[1] = lines[1][:20]
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "mgmt-blob"
    summary = summarise_file(path)
    assert summary["record_count"] == 3
    assert [e["row"] for e in summary["errors"]] == [2]


def test_json_elements_larger_than_a_read_chunk(tmp_path, monkeypatch):
    import evkit.evidence.formats.jsonstream as jsonstream
    monkeypatch.setattr(jsonstream, "CHUNK", 16)
    records = [dict(AUDIT, Id=f"id-{i}", Big="x" * 500, Num=123456789) for i in range(20)]
    path = tmp_path / "value.json"
    path.write_text(json.dumps({"value": records, "@odata.nextLink": None}))
    assert [r.record for r in read_records(path, "mgmt-blob")] == records


def test_lossy_cell_is_a_string_with_parts():
    cell = LossyCell("Folders", "gone")
    assert cell == "Folders: gone" and cell.column == "Folders" and cell.reason == "gone"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_excel_resaved_with_tabs_or_semicolons(tmp_path, delimiter):
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData",
                     "AssociatedAdminUnits", "AssociatedAdminUnitsNames"])
    writer.writerow([AUDIT["Id"], "9/20/2023 4:05", "15", "UserLoggedIn", "bob", json.dumps(AUDIT), "", ""])
    path = tmp_path / "resaved.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + out.getvalue().encode("utf-16-le"))
    assert detect_format(path) == "purview-csv"
    assert [r.record for r in read_records(path)] == [AUDIT]


def test_excel_cell_limit_is_named(tmp_path):
    data = json.dumps(dict(AUDIT, Big="x" * 40000))[:32767].replace('"', '""')
    path = tmp_path / "cut.csv"
    path.write_text(f'CreationDate,UserIds,Operations,AuditData\n2023-09-20T04:05:03,bob,UserLoggedIn,"{data}"\n')
    [error] = summarise_file(path)["errors"]
    assert error["row"] == 1 and "Excel cut it" in error["reason"]


def test_explicit_wrong_format_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    [row] = read_records(path, "purview-csv")
    assert row.row == 0 and "no AuditData column" in row.error
    with pytest.raises(Exception, match="unknown format id"):
        list(read_records(path, "xlsx"))


def test_missing_file_is_an_import_input_error(tmp_path):
    from evkit.evidence.errors import ImportInputError
    with pytest.raises(ImportInputError, match="cannot read"):
        list(read_records(tmp_path / "nope.csv"))
    with pytest.raises(ImportInputError, match="cannot read"):
        summarise_file(tmp_path / "nope.csv")


def test_local_time_note_survives_a_bad_first_row(tmp_path):
    path = tmp_path / "oa.csv"
    path.write_text('"TimeGenerated [Local Time]",OfficeId,Operation,OfficeWorkload\n'
                    'only,two\n"3/12/2024, 2:05:40.000 PM",b,Send,Exchange\n')
    summary = summarise_file(path)
    assert [e["row"] for e in summary["errors"]] == [1]
    assert [(c["row"], c["column"]) for c in summary["lossy"]] == [(2, "TimeGenerated [Local Time]")]


def test_json_lines_with_line_separator_characters_in_values(tmp_path):
    records = [dict(AUDIT, Id=f"id-{i}", Subject="a\u2028b\u0085c") for i in range(3)]
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    assert detect_format(path) == "mgmt-blob"
    assert [r.record for r in read_records(path)] == records
