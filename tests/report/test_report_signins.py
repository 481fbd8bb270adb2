"""Sign-in pages in a report: the sign-in log is read and joined to the attributed mail access by
session; hostile user agents are escaped on the page; an unreadable sign-in page is a named
problem, never a traceback; a failed `signins` ledger entry makes the report read UserLoggedIn
records instead and say why."""

from __future__ import annotations

import json
import subprocess

from bundlekit import mia, page_files, permissive_report_options, record, write_bundle
from evkit.report.pipeline import run_report

A = "alice@contoso.com"
IP = "203.0.113.7"
SID = "11111111-2222-4333-8444-555555555555"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")
CASE = f"""[case]
id = "IR-TEST"
client = "Contoso"
window = ["2023-06-05T00:00:00Z", "{WINDOW[1]}"]
[indicators]
accounts = ["{A}"]
ips = ["{IP}"]
"""
UA = "Evil\u202eAgent\x07/1.0"


def _logon(rid: str, time: str, ip: str) -> dict:
    return record(rid, time, "UserLoggedIn", A, RecordType=15, Workload="AzureActiveDirectory", ActorIpAddress=ip,
                  ApplicationId="9199bf20-a13f-4107-85dc-02114787ef48",
                  ExtendedProperties=[{"Name": "UserAgent", "Value": "Mozilla/5.0"}],
                  DeviceProperties=[{"Name": "OS", "Value": "Windows10"}, {"Name": "SessionId", "Value": SID}])


def _signin(sid: str, time: str, ip: str, ua: str) -> dict:
    return {"id": sid, "createdDateTime": time, "userPrincipalName": A, "userId": "u-1", "appId": "app-x",
            "appDisplayName": "Tool", "ipAddress": ip, "sessionId": SID, "userAgent": ua,
            "signInEventTypes": ["interactiveUser"], "status": {"errorCode": 0},
            "deviceDetail": {"operatingSystem": "Linux", "browser": "curl"}}


def _bundle(tmp_path, signins_status: str, beyond: tuple[str, str] | None = None):
    read = mia("r-read", "2023-06-06T10:00:00", A, ip="198.51.100.9", session="", folders={"\\Inbox": ["<m1@x>"]},
               AppAccessContext={"AADSessionId": SID})
    records = [_logon("r-logon-old", "2023-06-02T08:00:00", "10.0.0.1"), _logon("r-logon", "2023-06-06T09:59:00", IP),
               read]
    page = {"value": [_signin("s-old", "2023-06-02T08:00:00Z", "10.0.0.1", "Mozilla/5.0"),
                      _signin("s-1", "2023-06-06T09:59:00Z", IP, UA),
                      {"id": "s-bad", "createdDateTime": "yesterday", "ipAddress": 7}, {"no": "id"}]}
    files = page_files("interactiveUser", "p000001", json.dumps(page).encode(), kind="signins.page", source="signins")
    files.update(page_files("nonInteractiveUser", "p000001", b"{not json", kind="signins.page", source="signins"))
    again = {"value": [_signin("s-1", "2023-06-06T09:59:00.1234567Z", IP, UA)]}  # fetched again after a crash
    files.update(page_files("interactiveUser", "p000001.r2", json.dumps(again).encode(), kind="signins.page",
                            source="signins"))
    ledger = [{"source": "ual", "unit": "u", "window": {"start": WINDOW[0], "end": WINDOW[1]}, "expected": 3,
               "received": 3, "unique_ids": 3, "retries": 0, "status": "complete", "reason": ""},
              {"source": "signins", "unit": "interactiveUser", "window": {"start": WINDOW[0], "end": WINDOW[1]},
               "expected": None, "received": 4, "unique_ids": 3, "retries": 0, "status": signins_status,
               "reason": "" if signins_status == "complete" else "missing licence Microsoft Entra ID P1: ..."}]
    if beyond is not None:  # what the collector writes for the part the log no longer held
        ledger.append({"source": "signins", "unit": "beyond-retention", "window": {"start": beyond[0], "end": beyond[1]},
                       "expected": None, "received": 0, "unique_ids": 0, "retries": 0, "status": "skipped",
                       "reason": "the Entra sign-in log keeps sign-ins for 30 days (Entra ID P1/P2): ..."})
        if signins_status == "none":
            ledger = [e for e in ledger if e["unit"] != "interactiveUser"]
    root = write_bundle(tmp_path / "b", records, window=WINDOW, ledger=ledger, extra_files=files)
    (tmp_path / "case.toml").write_text(CASE, encoding="utf-8")
    return root


def test_sign_in_log_joined_to_mail_access_and_escaped(tmp_path):
    root = _bundle(tmp_path, "complete")
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    section = result.findings["sign_ins"]
    assert section["source"] == "Entra sign-in log" and section["gap"] is None
    # collected in November 2026 for a window in June 2023: far past the log's 30 days
    assert "keeps sign-ins for 30 days" in section["retention_note"] and "30 October 2026" in section["retention_note"]
    (session,) = section["sessions"]
    assert session["session_id"] == SID and session["joined_by"] == "session"
    assert session["mail_access"]["record_ids"] == ["r-read"] and session["user_agents"] == [UA]
    assert [s["id"] for s in session["sign_ins"]] == ["s-1"]   # one row though stored twice
    assert session["sign_ins"][0]["time_utc"] == "2023-06-06T09:59:00Z"
    new = {(s["kind"], s["value"]) for s in result.findings["suggested_indicators"]}
    assert ("app", "app-x") not in new          # seen before the window: not new
    problems = " ".join(result.findings["problems"])
    assert "nonInteractiveUser/p000001" in problems and "1 element(s) without an id" in problems
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "out" / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "[U+202E]" in text and "\u202e" not in text


def test_failed_sign_in_log_falls_back_to_the_audit_log_and_says_why(tmp_path):
    root = _bundle(tmp_path, "failed")
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    section = result.findings["sign_ins"]
    assert section["source"].startswith("audit log") and "Entra ID P1" in section["gap"]
    assert section["retention_note"] is None
    (session,) = section["sessions"]
    assert [s["id"] for s in session["sign_ins"]] == ["r-logon"] and session["user_agents"] == ["Mozilla/5.0"]
    assert session["mail_access"]["record_ids"] == ["r-read"]
    assert any("Entra ID P1" in line for line in result.findings["limitations"])


def test_no_retention_note_when_collected_within_30_days():
    from datetime import datetime, timezone

    from evkit.report.casefile import CaseFile, Indicators
    from evkit.report.entra_analysis import _retention_note

    case = CaseFile("IR", "C", datetime(2023, 6, 5, tzinfo=timezone.utc), datetime(2023, 6, 10, tzinfo=timezone.utc),
                    Indicators())
    assert _retention_note([], ["2023-06-20T00:00:00Z"], case) is None
    assert _retention_note([], ["2023-07-20T00:00:00Z"], case) is not None
    assert _retention_note([], [], case) is None


def test_the_part_beyond_the_sign_in_logs_retention_is_a_gap_stated_from_the_ledger(tmp_path):
    # the collector asked only for what the log still held (from 2023-06-04) and said so in a skipped
    # entry: the report states that period as missing, in the words of the ledger, and lists the
    # entry among the incomplete units
    root = _bundle(tmp_path, "complete", beyond=(WINDOW[0], "2023-06-04T00:00:00Z"))
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    section = result.findings["sign_ins"]
    assert section["source"] == "Entra sign-in log" and section["gap"] is None
    note = section["retention_note"]
    assert note.startswith("The Entra sign-in log keeps sign-ins for 30 days") and "from 1 June 2023" in note
    assert "to 4 June 2023" in note and "were older than that when collected, so they are not in it" in note
    rows = [r for r in result.findings["completeness"] if r["source"] == "signins" and r["status"] != "complete"]
    assert [(r["unit"], r["status"], r["covered_by"]) for r in rows] == [("beyond-retention", "skipped", None)]
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(tmp_path / "out" / "report.pdf"), "-"],
                                   capture_output=True, text=True, check=True).stdout.split())
    assert "keeps sign-ins for 30 days" in text and "beyond-retention" in text


def test_a_window_wholly_beyond_the_sign_in_logs_retention_falls_back_to_the_audit_log(tmp_path):
    root = _bundle(tmp_path, "none", beyond=WINDOW)
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    section = result.findings["sign_ins"]
    assert section["source"].startswith("audit log")
    gap = section["gap"]
    assert gap.startswith("The Entra sign-in log keeps sign-ins for 30 days") and "are not in it" in gap
    assert "failed" not in section["gap"]
