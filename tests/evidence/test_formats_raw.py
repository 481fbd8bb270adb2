"""Records inside raw API pages, dispatched on the sidecar's `kind`."""

from __future__ import annotations

import gzip
import json

import pytest

from evkit.evidence.errors import RawPageError
from evkit.evidence.raw import read_raw_records, read_raw_rows
from evkit.emulator.exports import graph_record, sample_records, ual_object

RECORDS = sample_records()


def sidecar(kind: str, status: int = 200) -> dict:
    return {"kind": kind, "source": kind.split(".")[0], "status": status,
            "body_file": "p000001.json"}


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_ual_page_rows_hold_auditdata_strings():
    page = {"@odata.context": "x", "value": [ual_object(r, i, len(RECORDS)) for i, r in enumerate(RECORDS, 1)]}
    assert list(read_raw_records(sidecar("ual.page"), body(page))) == RECORDS


def test_graph_records_page_gives_classic_records():
    page = {"value": [graph_record(r) for r in RECORDS], "@odata.nextLink": "next"}
    got = list(read_raw_records(sidecar("graph.records"), body(page)))
    assert [g["Id"] for g in got] == [r["Id"] for r in RECORDS]
    for g, r in zip(got, RECORDS):
        assert not any("@odata" in k for k in g)
        assert g["CreationTime"] == r["CreationTime"] + "Z"
        assert {k: v for k, v in g.items() if k != "CreationTime"} == \
            {k: v for k, v in r.items() if k != "CreationTime"}


def test_mgmt_blob_is_an_array_of_records_and_gzip_is_accepted():
    raw = gzip.compress(body(RECORDS), mtime=0)
    assert list(read_raw_records(sidecar("mgmt.blob"), raw)) == RECORDS


@pytest.mark.parametrize("kind", ["graph.query", "mgmt.subscription", "mgmt.listing",
                                  "config.Get-Mailbox", "licences.users", "licences.subscribedSkus"])
def test_kinds_without_audit_records_yield_nothing(kind):
    assert list(read_raw_records(sidecar(kind), body({"value": [{"Id": "x"}]}))) == []


def test_error_answers_yield_nothing():
    assert list(read_raw_records(sidecar("mgmt.blob", 429), body({"error": {"code": "x"}}))) == []
    assert list(read_raw_records(sidecar("ual.page", 500), b"<html>")) == []


def test_damaged_body_is_an_error_never_an_empty_page():
    with pytest.raises(RawPageError, match="p000001.json.*not valid JSON"):
        list(read_raw_records(sidecar("ual.page"), b'{"value": [{"AuditData"'))
    with pytest.raises(RawPageError, match="no list of records"):
        list(read_raw_records(sidecar("graph.records"), body({"error": "x"})))
    rows = list(read_raw_rows(sidecar("mgmt.blob"), b"[1,"))
    assert len(rows) == 1 and rows[0].row == 0 and rows[0].record is None


def test_bad_row_is_named_and_the_rest_still_readable():
    rows = [ual_object(r, i, 3) for i, r in enumerate(RECORDS[:3], 1)]
    rows[1]["AuditData"] = rows[1]["AuditData"][:30]
    page = body({"value": rows})
    with pytest.raises(RawPageError, match="element 2: AuditData is not valid JSON"):
        list(read_raw_records(sidecar("ual.page"), page))
    parsed = list(read_raw_rows(sidecar("ual.page"), page))
    assert [p.row for p in parsed] == [1, 2, 3]
    assert [p.record is not None for p in parsed] == [True, False, True]
