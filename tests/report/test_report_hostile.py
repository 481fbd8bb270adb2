"""Malformed and hostile evidence gives a report that names the problem, never a traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from bundlekit import mia, page_files, record, write_bundle
from evkit.cli import main

A = "alice@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")
CASE = f"""[case]
id = "IR-HOSTILE"
client = "<script>alert(1)</script>"
window = ["{WINDOW[0]}", "{WINDOW[1]}"]
[indicators]
accounts = ["{A}"]
ips = ["203.0.113.7"]
"""
HUGE = "\\" + "F" * 200_000


def _hostile_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    # a page that is not JSON at all, one whose AuditData strings are broken, one truncated gzip
    files.update(page_files("20230601T000000Z_20230602T000000Z", "p000009", b"{not json"))
    broken = {"value": [{"AuditData": "{\"Id\": \"half"}, {"AuditData": 42}, {"NoAuditData": True}]}
    files.update(page_files("20230601T000000Z_20230602T000000Z", "p000010", json.dumps(broken).encode()))
    truncated = page_files("20230601T000000Z_20230602T000000Z", "p000011", b'{"value":[]}')
    truncated = {k: (v[:10] if k.endswith(".gz") else v) for k, v in truncated.items()}
    files.update(truncated)
    # a mangled Purview export with a PowerShell-flattened cell and a broken row
    rows = ['RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames']
    good = {"Id": "imp-1", "CreationTime": "2023-06-02T10:00:00", "Operation": "MailItemsAccessed",
            "RecordType": 50, "UserId": A, "MailboxOwnerUPN": A, "ClientIPAddress": "203.0.113.7",
            "OperationProperties": "System.Object[]", "Folders": "System.Object[]"}
    rows.append('imp-1,6/2/2023 10:00:00 AM,50,MailItemsAccessed,%s,"%s",,' % (A, json.dumps(good).replace('"', '""')))
    rows.append('imp-2,6/2/2023 10:00:00 AM,50,MailItemsAccessed,%s,"{broken",,' % A)
    body = ("\n".join(rows) + "\n").encode()
    files["imports/export.csv"] = body
    files["imports/export.csv.meta.json"] = json.dumps({
        "kind": "import", "original_name": "export.csv", "size": len(body), "sha256": "0" * 64,
        "provided_by": "<b>client</b>", "received_utc": "2023-06-11T00:00:00Z", "format": "purview-csv",
        "encoding": "utf-8", "record_count": 1, "errors": [{"row": 2, "reason": "AuditData is not valid JSON"}],
        "lossy": [{"row": 1, "column": "AuditData", "reason": "PowerShell-mangled cell 'System.Object[]'"}]}).encode()
    # a sidecar pointing outside its directory, and one that is not JSON
    files["raw/ual/evil/p1.meta.json"] = json.dumps({"kind": "ual.page", "status": 200,
                                                      "body_file": "../../../../collection.json"}).encode()
    files["raw/ual/evil/p2.meta.json"] = b"\xff\xfe garbage"
    return files


def _records() -> list[dict]:
    return [
        mia("h-1", "2023-06-02T08:00:00", A, folders={HUGE: ["<x1@evil>"], "\\Inbox": ["<x2@evil>"]},
            subjects={"<x1@evil>": "<b>Invoice</b><script>alert('x')</script>&amp;", "<x2@evil>": "\u202eevil\x00"},
            ip="203.0.113.7", session="s-h"),
        record("", "2023-06-02T09:00:00", "Send", A, ClientIPAddress="203.0.113.7"),  # no Id
        record("h-3", "not a time", "Send", A, ClientIPAddress="203.0.113.7"),  # no usable time
        {"Id": "h-4"},  # nearly empty record
        record("h-5", "2023-06-02T09:30:00", "MailItemsAccessed", A, Folders=[{"Path": None, "FolderItems": None}],
               OperationProperties=[{"Name": "MailAccessType"}], ClientIPAddress="203.0.113.7"),
    ]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, signing_key, examiner_pub):
    root = tmp_path_factory.mktemp("hostile")
    write_bundle(root / "IR-HOSTILE_C1", _records(), window=WINDOW, extra_files=_hostile_files(),
                 case_id="IR-HOSTILE", key=signing_key,
                 ledger=[{"source": "ual", "window": "garbage", "status": None}, "not an entry"])
    (root / "case.toml").write_text(CASE, encoding="utf-8")
    shutil.copy(examiner_pub, root / "examiner.pub")
    return root


def test_hostile_evidence_gives_a_report_naming_the_problems(hostile, capsys):
    out = hostile / "out"
    code = main(["report", str(hostile / "IR-HOSTILE_C1"), "--case", str(hostile / "case.toml"),
                 "--out", str(out), "--signer-key", str(hostile / "examiner.pub")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    problems = "\n".join(findings["problems"])
    assert "p000009.json.gz" in problems  # not JSON
    assert "p000010.json.gz" in problems  # broken AuditData
    assert "p000010.json.gz: row 1: AuditData is not valid JSON" in problems   # named row by row
    assert "p000010.json.gz: row 2: row has no AuditData" in problems           # a number, not a record
    assert "p000010.json.gz: row 3: row has no AuditData" in problems
    assert "p000011.json.gz" in problems  # truncated gzip
    assert "no Id" in problems
    assert "CreationTime" in problems
    assert "export.csv" in problems and "mangled" in problems
    assert "evil/p1.meta.json" in problems and "evil/p2.meta.json" in problems
    items = (out / "items.csv").read_text(encoding="utf-8")
    assert "<x1@evil>" in items and "confirmed" in items  # huge folder name did not stop it
    if (out / "report.pdf").exists():
        assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_hostile_report_is_deterministic(hostile):
    outs = []
    for name in ("d1", "d2"):
        assert main(["report", str(hostile / "IR-HOSTILE_C1"), "--case", str(hostile / "case.toml"),
                     "--out", str(hostile / name), "--signer-key", str(hostile / "examiner.pub")]) == 0
        outs.append({p.name: p.read_bytes() for p in (hostile / name).iterdir()})
    assert outs[0] == outs[1]


def test_missing_bundle_directory_is_one_line_error(hostile, capsys):
    code = main(["report", str(hostile / "nope"), "--case", str(hostile / "case.toml"), "--out", str(hostile / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("\n") <= 2
