"""Honest negatives: missing, unreadable or conflicting evidence never reads as "no activity".

Each test builds the smallest bundle that showed the fault and runs the whole report (PDF
left out where it adds nothing: its rendering is tested in test_pdf.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bundlekit import mia, permissive_report_flags, permissive_report_options, record, write_bundle
from evkit.report import pipeline
from evkit.report.coverage import incident
from evkit.report.outputs import write

A, B = "alice@contoso.com", "bob@contoso.com"
ATTACKER = "203.0.113.7"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")


def case_toml(window=WINDOW, accounts=(A,), case_id="IR-TEST") -> str:
    quoted = ", ".join(f'"{a}"' for a in accounts)
    return (f'[case]\nid = "{case_id}"\nwindow = ["{window[0]}", "{window[1]}"]\n\n'
            f'[indicators]\naccounts = [{quoted}]\nips = ["{ATTACKER}"]\n')


def report(tmp: Path, bundles: list[Path], monkeypatch, *, toml: str | None = None, pdf: bool = False,
           **options) -> tuple[dict, dict]:
    """Run the report; (findings, items by (mailbox, imid))."""
    if not pdf:
        monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    case = tmp / "case.toml"
    case.write_text(toml or case_toml(), encoding="utf-8")
    out = tmp / "out"
    result = pipeline.run_report(bundles, case, out, **permissive_report_options(), **options)
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"], r["internet_message_id"]): r for r in csv.DictReader(fh)}
    return result.findings, items


def owner_read(rid: str = "m-own", time: str = "2023-05-25T09:00:00", mailbox: str = A) -> dict:
    return mia(rid, time, mailbox, folders={"\\Inbox": ["<o1>"]}, ip="192.0.2.10", session="owner-s")


def mailbox(findings: dict, name: str) -> dict:
    return next(m for m in findings["mailboxes"] if m["mailbox"] == name)


# ---- item 4: an unreadable item list is access with items unknown ------------------------

def test_a_mangled_item_list_makes_the_mailbox_accessed_with_items_unknown(tmp_path, monkeypatch):
    mangled = mia("m-att", "2023-06-02T08:05:00", A, ip=ATTACKER, session="exo-9")
    mangled["Folders"] = "System.Object[]"
    mangled["OperationCount"] = 7
    bundle = write_bundle(tmp_path / "B", [owner_read(), mangled], window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch)
    row = mailbox(findings, A)
    assert row["verdict"] == "accessed" and row["accessed_items_unknown"] == 7
    assert "m-att" in row["record_ids"]
    assert findings["summary"]["mailboxes_affected"] == 1
    assert findings["summary"]["accessed_items_unknown"] == 7
    assert items[(A, "<o1>")]["classification"] == "unknown"
    assert any("OperationCount" in p for p in findings["summary"]["points"])


# ---- item 5: throttled windows are blind periods ------------------------------------------

def test_a_throttled_window_without_attacker_acts_is_unknown_for_its_mailbox(tmp_path, monkeypatch):
    recs = [mia("m-thr", "2023-06-04T10:00:00", B, throttled=True, folders={"\\Inbox": ["<b1>"]},
                ip="192.0.2.20", session="bob-s"),
            record("s-a", "2023-06-02T08:00:00", "UserLoggedIn", A, RecordType=15, ActorIpAddress=ATTACKER)]
    bundle = write_bundle(tmp_path / "B", recs, window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch, toml=case_toml(accounts=(A, B)), pdf=True)
    [gap] = mailbox(findings, B)["unknown"]
    assert (gap["start"], gap["end"]) == ("2023-06-04T10:00:00Z", "2023-06-05T10:00:00Z")
    assert "throttled" in gap["reason"]
    assert items[(B, "<b1>")]["classification"] == "unknown"
    assert mailbox(findings, B)["verdict"] == "cannot be assessed"
    text = pdf_text(tmp_path / "out" / "report.pdf")
    assert "no period without visibility is listed" not in text


def test_throttled_inference_reaches_the_window_end_not_the_last_recorded_act(tmp_path, monkeypatch):
    """Binds in the window were not logged, so mail known by the window's end is presumed read,
    including mail first seen after the attacker's last recorded act in it."""
    recs = [mia("m-thr", "2023-06-04T10:00:00", B, throttled=True, folders={"\\Inbox": ["<b1>"]},
                ip="192.0.2.20", session="bob-s"),
            record("s-bob", "2023-06-04T12:00:00", "UserLoggedIn", B, RecordType=15, ActorIpAddress=ATTACKER),
            mia("m-own", "2023-06-04T20:00:00", B, access="Sync", folders={"\\Inbox": ["<b2>"]},
                ip="192.0.2.20", session="bob-s"),
            mia("m-own-later", "2023-06-06T09:00:00", B, folders={"\\Inbox": ["<b3>"]}, ip="192.0.2.20",
                session="bob-s")]
    recs[2]["Folders"][0]["FolderItems"] = [{"InternetMessageId": "<b2>"}]
    bundle = write_bundle(tmp_path / "B", recs, window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch, toml=case_toml(accounts=(B,)))
    assert items[(B, "<b1>")]["classification"] == "inferred"
    assert items[(B, "<b2>")]["classification"] == "inferred"
    assert items[(B, "<b3>")]["classification"] == "unknown"  # after the window: not inferred, not cleared


def pdf_text(path: Path) -> str:
    import subprocess
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


# ---- item 1: unreadable inputs are stated problems and unknown periods ---------------------

def test_a_file_in_no_known_format_makes_mailboxes_unknown_and_the_summary_honest(tmp_path, monkeypatch):
    from bundlekit import write_import_bundle
    collected = write_bundle(tmp_path / "C", [owner_read()], window=("2023-05-20T00:00:00Z", WINDOW[1]))
    export = write_import_bundle(tmp_path / "I", {"CloudAppEvents.zip": ("unknown", b"PK\x03\x04 not an export")})
    findings, items = report(tmp_path, [collected, export], monkeypatch, pdf=True)
    assert any("CloudAppEvents.zip" in p for p in findings["problems"])
    assert any("could not be read" in g["reason"] for g in mailbox(findings, A)["unknown"])
    assert mailbox(findings, A)["verdict"] == "cannot be assessed"
    assert items[(A, "<o1>")]["classification"] == "unknown"
    assert not findings["summary"]["headline"].startswith("No activity")
    text = pdf_text(tmp_path / "out" / "report.pdf")
    assert "every recorded collection unit is complete" not in text
    assert "No activity matching" not in text


# ---- item 6: a case window outside the collected period -----------------------------------

def test_a_case_window_outside_the_collection_is_unknown_and_a_problem(tmp_path, monkeypatch):
    bundle = write_bundle(tmp_path / "B", [owner_read("m-own", "2023-06-05T09:00:00")],
                          window=("2023-06-01T00:00:00Z", "2023-06-15T00:00:00Z"))
    later = ("2024-06-08T00:00:00Z", "2024-06-15T00:00:00Z")
    findings, items = report(tmp_path, [bundle], monkeypatch, toml=case_toml(window=later), pdf=True)
    assert [(g["start"], g["end"]) for g in findings["evidence_gaps"]] == [later]
    assert any("2024-06-08T00:00:00Z to 2024-06-15T00:00:00Z is not covered" in p for p in findings["problems"])
    assert mailbox(findings, A)["verdict"] == "cannot be assessed"
    assert items[(A, "<o1>")]["classification"] == "unknown"
    assert "No activity matching" not in pdf_text(tmp_path / "out" / "report.pdf")


def test_a_partly_covered_case_window_names_only_the_uncovered_span(tmp_path, monkeypatch):
    bundle = write_bundle(tmp_path / "B", [owner_read("m-own", "2023-06-05T09:00:00")],
                          window=("2023-06-01T00:00:00Z", "2023-06-08T00:00:00Z"))
    findings, _ = report(tmp_path, [bundle], monkeypatch)
    assert [(g["start"], g["end"]) for g in findings["evidence_gaps"]] == [("2023-06-08T00:00:00Z", WINDOW[1])]


def test_configuration_captured_outside_the_window_is_a_stated_problem():
    from datetime import datetime, timezone
    from types import SimpleNamespace
    from evkit.report.casefile import parse_case
    case = parse_case({"case": {"id": "X", "window": ["2024-06-08T00:00:00Z", "2024-06-15T00:00:00Z"]}})
    cfg = SimpleNamespace(mailboxes=[{"UserPrincipalName": A}],
                          snapshot_utc=datetime(2023, 6, 15, tzinfo=timezone.utc))
    [problem] = incident.window_coverage_problems([], cfg, case)
    assert "2023-06-15T00:00:00Z, before the incident window" in problem
    for later in (datetime(2024, 6, 9, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)):
        cfg_later = SimpleNamespace(mailboxes=cfg.mailboxes, snapshot_utc=later)
        assert incident.window_coverage_problems([], cfg_later, case) == []


# ---- item 9: a lone surrogate neither crashes the report nor `evkit sql` -------------------

def test_a_lone_surrogate_in_a_record_is_escaped_not_fatal(tmp_path, monkeypatch, capsys):
    import json
    from bundlekit import write_import_bundle
    from evkit.cli import main
    rec = mia("m-att", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<s1>"]}, ip=ATTACKER,
              subjects={"<s1>": "Invoice SURROGATE"})
    blob = json.dumps([rec]).replace("SURROGATE", "\\udc00").encode()
    export = write_import_bundle(tmp_path / "I", {"blob.json": ("mgmt-blob", blob)})
    findings, items = report(tmp_path, [export], monkeypatch, pdf=True)
    assert items[(A, "<s1>")]["classification"] == "confirmed"
    assert main(["sql", str(export), "--query", "SELECT subject FROM accessed_items"]) == 0
    assert "\\udc00" in capsys.readouterr().out


def test_a_lone_surrogate_in_a_collected_page_is_escaped_not_fatal(tmp_path, monkeypatch):
    rec = mia("m-att", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<s1>"]}, ip=ATTACKER,
              subjects={"<s1>": "Invoice \udc00"})
    bundle = write_bundle(tmp_path / "B", [rec], window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch)
    assert items[(A, "<s1>")]["classification"] == "confirmed"


# ---- item 7: tenants and case ids ----------------------------------------------------------

def _retenant(bundle: Path, tenant_id: str) -> Path:
    import json
    path = bundle / "data" / "collection.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["tenant"]["id"] = tenant_id
    path.write_text(json.dumps(doc, sort_keys=True) + "\n", encoding="utf-8")
    return bundle


def test_bundles_from_two_tenants_are_refused_unless_allowed(tmp_path, monkeypatch, capsys):
    from evkit.cli import main
    from evkit.report.errors import MixedTenantsError
    window = ("2023-05-20T00:00:00Z", WINDOW[1])
    one = _retenant(write_bundle(tmp_path / "T1", [owner_read()], window=window), "tenant-one")
    two = _retenant(write_bundle(tmp_path / "T2", [owner_read("m-2", mailbox=B)], window=window), "TENANT-TWO")
    with pytest.raises(MixedTenantsError, match="2 tenants.*tenant-one: T1.*tenant-two: T2"):
        report(tmp_path, [one, two], monkeypatch)
    (tmp_path / "case.toml").write_text(case_toml(), encoding="utf-8")
    argv = ["report", str(one), str(two), "--case", str(tmp_path / "case.toml"), *permissive_report_flags()]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    assert "--allow-mixed-tenants" in capsys.readouterr().err
    findings, _ = report(tmp_path, [one, two], monkeypatch, allow_mixed_tenants=True)
    assert any("2 tenants" in p for p in findings["problems"])


def test_a_case_id_matching_no_bundle_is_warned_about(tmp_path, monkeypatch, capsys):
    from evkit.cli import main
    bundle = write_bundle(tmp_path / "B", [owner_read()], window=("2023-05-20T00:00:00Z", WINDOW[1]),
                          case_id="IR-OTHER")
    (tmp_path / "case.toml").write_text(case_toml(case_id="IR-MINE"), encoding="utf-8")
    monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    assert main(["report", str(bundle), "--case", str(tmp_path / "case.toml"), "--out", str(tmp_path / "o"),
                 *permissive_report_flags()]) == 0
    err = capsys.readouterr().err
    assert "'IR-MINE' matches no bundle" in err and "IR-OTHER" in err
    import json
    findings = json.loads((tmp_path / "o" / "findings.json").read_text(encoding="utf-8"))
    assert any("'IR-MINE' matches no bundle" in p for p in findings["problems"])


# ---- item 10: mailbox changes are findings that make the mailbox affected -------------------

def test_inbox_rules_and_forwarding_are_reported_and_make_the_mailbox_affected(tmp_path, monkeypatch):
    rule = record("r-new", "2023-06-02T08:20:00", "New-InboxRule", A, RecordType=1, ClientIP=f"{ATTACKER}:4431",
                  ObjectId=A, Parameters=[{"Name": "Mailbox", "Value": A}, {"Name": "Name", "Value": "."},
                                          {"Name": "ForwardTo", "Value": "drop@evil.example"},
                                          {"Name": "RedirectTo", "Value": "copy@evil.example"},
                                          {"Name": "DeleteMessage", "Value": "True"}])
    delegate = record("r-upd", "2023-06-03T10:00:00", "UpdateInboxRules", "carol@contoso.com",
                      MailboxOwnerUPN=B, ClientIPAddress=ATTACKER, OperationProperties=[
                          {"Name": "RuleName", "Value": "sync"},
                          {"Name": "RuleActions", "Value": "Forward to: x1@evil.example; x2@evil.example"}])
    recs = [owner_read(), owner_read("m-own-b", mailbox=B), rule, delegate]
    bundle = write_bundle(tmp_path / "B", recs, window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch, pdf=True)
    changes = {c["record_ids"][0]: c for c in findings["mailbox_changes"]}
    assert changes["r-new"]["mailbox"] == A and changes["r-new"]["kind"] == "inbox rule"
    assert "ForwardTo=drop@evil.example" in changes["r-new"]["details"]
    assert "RedirectTo=copy@evil.example" in changes["r-new"]["details"]
    assert changes["r-upd"]["mailbox"] == B and "x2@evil.example" in changes["r-upd"]["details"]
    for name, rid in ((A, "r-new"), (B, "r-upd")):
        row = mailbox(findings, name)
        assert row["verdict"] == "changed by the attacker" and rid in row["record_ids"]
        assert items[(name, "<o1>")]["classification"] != "no-evidence"
    assert findings["summary"]["mailboxes_affected"] == 2
    text = pdf_text(tmp_path / "out" / "report.pdf")
    assert "Mailbox changes" in text and "drop@evil.example" in text


def test_a_set_mailbox_without_forwarding_is_not_a_mailbox_change():
    from evkit.report.rules.mailbox_changes import mailbox_change
    assert mailbox_change("Set-Mailbox", [{"Name": "AuditEnabled", "Value": "False"}]) is None
    fwd = mailbox_change("Set-Mailbox", [{"Name": "Identity", "Value": "Alice@Contoso.com"},
                                         {"Name": "ForwardingSmtpAddress", "Value": "smtp:x@evil.example"}])
    assert fwd.kind == "forwarding" and fwd.target == "alice@contoso.com"
    assert mailbox_change("MailItemsAccessed", []) is None


def test_a_page_that_inflates_past_the_cap_is_a_problem_not_a_memory_blow_up(tmp_path, monkeypatch):
    """The cap is lowered to 1 MiB here; a body spread over lines is not bulk-read, so the
    Python reader meets it (as it meets any page the bulk read refuses)."""
    from bundlekit import page_files
    from evkit.evidence import raw
    monkeypatch.setattr(raw, "MAX_PAGE_BYTES", 1 << 20)
    body = b'{"value": [\n' + b" " * (4 << 20) + b"\n]}"
    bundle = write_bundle(tmp_path / "B", [owner_read()], window=("2023-05-20T00:00:00Z", WINDOW[1]),
                          extra_files=page_files("u2", "p000001", body))
    findings, items = report(tmp_path, [bundle], monkeypatch)
    [problem] = [p for p in findings["problems"] if "inflates beyond 1 MiB" in p]
    assert "raw/ual/u2/p000001.json.gz" in problem
    assert items[(A, "<o1>")]["classification"] == "unknown"


# ---- item 3: nested fields stored as JSON text are decoded wherever records are read ---------

@pytest.mark.parametrize("imported", [False, True])
def test_nested_fields_stored_as_json_text_are_decoded(tmp_path, monkeypatch, imported):
    import json
    from bundlekit import mgmt_blob, write_import_bundle
    rec = mia("m-att", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<s1>"]}, ip=ATTACKER)
    for field in ("Folders", "OperationProperties"):
        rec[field] = json.dumps(rec[field])
    if imported:
        bundle = write_import_bundle(tmp_path / "I", {"blob.json": mgmt_blob([rec])})
    else:
        bundle = write_bundle(tmp_path / "B", [rec], window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch)
    assert items[(A, "<s1>")]["classification"] == "confirmed"
    assert mailbox(findings, A)["verdict"] == "accessed"


def test_an_export_whose_records_name_another_tenant_is_refused_unless_allowed(tmp_path, monkeypatch, capsys):
    """Import bundles state no tenant; their records do (OrganizationId)."""
    from bundlekit import mgmt_blob, write_import_bundle
    from evkit.cli import main
    from evkit.report.errors import MixedTenantsError
    ours, theirs = "8f4a1c62-77d3-4b0e-9a55-2c1de9f80b31", "93768CE7-5ED2-4EE5-9B5C-08C174C891EE"
    collected = _retenant(write_bundle(tmp_path / "C", [dict(owner_read(), OrganizationId=ours)],
                                       window=("2023-05-20T00:00:00Z", WINDOW[1])), ours)
    same = write_import_bundle(tmp_path / "Same", {"a.json": mgmt_blob([
        dict(owner_read("m-same", mailbox=B), OrganizationId=ours.upper())])})
    other = write_import_bundle(tmp_path / "Other", {"b.json": mgmt_blob([
        dict(mia("m-x", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<x1>"]}, ip=ATTACKER), OrganizationId=theirs)])})
    findings, _ = report(tmp_path, [collected, same], monkeypatch)
    assert not any("tenants" in p for p in findings["problems"])
    with pytest.raises(MixedTenantsError, match=f"2 tenants.*{ours}: C, Same.*{theirs.lower()}: Other"):
        report(tmp_path, [collected, same, other], monkeypatch, force=True)
    (tmp_path / "case.toml").write_text(case_toml(), encoding="utf-8")
    argv = ["report", str(collected), str(other), "--case", str(tmp_path / "case.toml"), *permissive_report_flags()]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    assert "--allow-mixed-tenants" in capsys.readouterr().err
    findings, _ = report(tmp_path, [collected, other], monkeypatch, allow_mixed_tenants=True, force=True)
    assert sum("2 tenants" in p for p in findings["problems"]) == 1
