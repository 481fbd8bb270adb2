"""Nested fields stored as JSON text (SIEM pipelines, stringly exports): decoded exactly as the
API's own lists and objects, whatever they hold; text that cannot be decoded into the list or
object the field holds is a counted, named problem, never a silent empty list."""

from __future__ import annotations

import json

import pytest

from bundlekit import mgmt_blob, mia, record, write_bundle, write_import_bundle
from evkit.evidence.inventory import scan_bundle
from evkit.report.engine.loader import Engine

A = "alice@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")
NESTED_COLUMNS = "folders, parameters, operation_properties, modified_properties, target, item, affected_items"


def _stringly(rec: dict) -> dict:
    """The record as a SIEM pipeline writes it: every list or object field as JSON text."""
    return {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in rec.items()}


def _quote_free() -> list[dict]:
    """Records whose nested fields hold no quoted string at all, so their JSON text holds none."""
    return [record("r-empty", "2023-06-02T08:00:00", "Set-Mailbox", A, RecordType=1, Parameters=[],
                   ModifiedProperties=[], AppAccessContext={}, Target=[]),
            record("r-nums", "2023-06-02T08:01:00", "Update", A, RecordType=2, Parameters=[[]],
                   Target=[1, None], Item={}, AffectedItems=[{}]),
            record("r-send", "2023-06-02T08:02:00", "Send", A, RecordType=2, Item={}, Folder={}, DestFolder={},
                   Folders=[])]


def _nested(engine: Engine, rid: str) -> tuple:
    [row] = engine.rows(f"SELECT {NESTED_COLUMNS}, aac_client_app_id FROM events WHERE id = ?", [rid])
    return row


@pytest.mark.parametrize("rid", ["r-empty", "r-nums", "r-send"])
def test_json_text_without_quoted_strings_is_decoded_like_the_api_copy(tmp_path, rid):
    recs = _quote_free()
    api = write_bundle(tmp_path / "api", recs, window=WINDOW)
    siem = write_import_bundle(tmp_path / "siem", {"siem.json": mgmt_blob([_stringly(r) for r in recs])})
    with Engine() as alone:
        alone.load([scan_bundle(api)])
        expected = _nested(alone, rid)
    with Engine() as both:
        both.load([scan_bundle(siem)])
        assert _nested(both, rid) == expected
    with Engine() as both:
        both.load([scan_bundle(api), scan_bundle(siem)])
        assert both.rows("SELECT count(*) FROM conflicts") == [(0,)]
        assert both.rows("SELECT count(*) FROM problems") == [(0,)]


# ---- JSON text that cannot be read: a counted problem, never "no evidence of access" -------

DEEP = "[" * 5000 + "]" * 5000


def _text(rec: dict, field: str, kind: str) -> str:
    return {"deep": DEEP, "cut": json.dumps(rec[field])[:-3], "mangled": "System.Object[]"}[kind]


@pytest.mark.parametrize("imported", [False, True])
@pytest.mark.parametrize("kind", ["deep", "cut", "mangled"])
@pytest.mark.parametrize("field", ["Folders", "OperationProperties"])
def test_an_unreadable_nested_field_is_a_counted_problem_and_never_no_evidence(
        tmp_path, monkeypatch, imported, kind, field):
    from test_negatives import ATTACKER, case_toml, mailbox, owner_read, report
    bob = "bob@contoso.com"
    att = mia("m-att", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<s1>", "<s2>", "<s3>"]}, ip=ATTACKER)
    own = mia("m-bob", "2023-06-03T08:05:00", bob, folders={"\\Inbox": ["<b1>"]}, throttled=True,
              ip="192.0.2.20", session="bob-s")
    for rec in (att, own):
        rec[field] = _text(rec, field, kind)
    recs = [owner_read(), owner_read("m-own-b", mailbox=bob), att, own]
    if imported:
        bundle = write_import_bundle(tmp_path / "I", {"blob.json": mgmt_blob(recs)})
    else:
        bundle = write_bundle(tmp_path / "B", recs, window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch, toml=case_toml(accounts=(A, bob)))
    [problem] = [p for p in findings["problems"] if "nested field" in p]
    assert "2 record(s)" in problem and f"record m-att: {field}" in problem
    assert mailbox(findings, A)["verdict"] == "accessed"
    assert "m-att" in mailbox(findings, A)["record_ids"]
    assert findings["unreadable_accesses"][0]["record_ids"] == ["m-att"]
    assert findings["unreadable_accesses"][0]["items_unknown"] == 3
    assert mailbox(findings, bob)["verdict"] != "no evidence of access"
    assert items[(bob, "<o1>")]["classification"] == "unknown"
    assert not findings["summary"]["headline"].startswith("No activity")
