"""`ual` against `mgmt` day by day: where the audit log search holds records of a workload on a day
the Management API listings were collected complete for, and `mgmt` holds none of it, the report
names a possible gap (a subscription started recently lists nothing before its start, and the API
gives no start date), never agreement (report/rules/crosscheck.py)."""

from __future__ import annotations

import json
import subprocess

from bundlekit import mia, page_files, permissive_report_options, record, write_bundle
from evkit.report.pipeline import run_report
from evkit.report.rules.crosscheck import silent_days

WINDOW = ("2023-06-01T00:00:00Z", "2023-06-05T00:00:00Z")
CASE = f"""[case]
id = "IR-TEST"
client = "Contoso"
window = ["{WINDOW[0]}", "{WINDOW[1]}"]
[indicators]
accounts = ["mallory@contoso.com"]
"""


def _mgmt_entry(content_type: str, start: str, end: str, status: str = "complete") -> dict:
    unit = f"{content_type}/{start.replace('-', '').replace(':', '')}_{end.replace('-', '').replace(':', '')}"
    return {"source": "mgmt", "unit": unit, "window": {"start": start, "end": end}, "expected": None,
            "received": 0, "unique_ids": 0, "retries": 0, "status": status, "reason": ""}


def test_a_day_mgmt_is_silent_on_while_ual_is_not_is_named_a_possible_gap(tmp_path):
    ual = [mia("u-2", "2023-06-02T10:00:00", "alice@contoso.com"), mia("u-3", "2023-06-03T10:00:00", "alice@contoso.com"),
           mia("u-3b", "2023-06-03T11:00:00", "alice@contoso.com"),
           record("u-4", "2023-06-04T09:00:00", "UserLoggedIn", "alice@contoso.com")]
    blob = [ual[0], record("m-2", "2023-06-02T12:00:00", "Send", "alice@contoso.com"),
            record("m-4", "2023-06-04T09:30:00", "UserLoggedIn", "bob@contoso.com")]
    files = page_files("Audit.Exchange/20230601T000000Z_20230605T000000Z", "b000001",
                       json.dumps(blob).encode(), kind="mgmt.blob", source="mgmt")
    ledger = [{"source": "ual", "unit": "u", "window": {"start": WINDOW[0], "end": WINDOW[1]}, "expected": None,
               "received": 4, "unique_ids": 4, "retries": 0, "status": "complete", "reason": ""},
              _mgmt_entry("Audit.Exchange", "2023-06-01T00:00:00Z", "2023-06-03T00:00:00Z"),
              _mgmt_entry("Audit.Exchange", "2023-06-03T00:00:00Z", "2023-06-05T00:00:00Z"),
              _mgmt_entry("Audit.AzureActiveDirectory", WINDOW[0], WINDOW[1])]
    root = write_bundle(tmp_path / "b", ual, window=WINDOW, ledger=ledger, extra_files=files)
    (tmp_path / "case.toml").write_text(CASE, encoding="utf-8")
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    said = [line for line in result.findings["limitations"] if line.startswith("Possible gap")]
    # 3 June: two Exchange records in `ual`, none in `mgmt`; 2 June agrees; on 4 June mgmt holds an
    # Entra ID record (another user's sign-in), so it is not silent there
    assert len(said) == 1 and "on 3 June 2023 " in said[0] and "2 Exchange record(s)" in said[0]
    assert "Audit.Exchange" in said[0] and "not agreement" in said[0]
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(tmp_path / "out" / "report.pdf"), "-"],
                                   capture_output=True, text=True, check=True).stdout.split())
    assert "Possible gap: on 3 June 2023" in text


def test_only_days_the_listings_wholly_cover_are_compared_and_runs_of_days_share_a_line():
    counts = [("2023-06-01", "Exchange", "ual", 5), ("2023-06-02", "Exchange", "ual", 7),
              ("2023-06-03", "Exchange", "ual", 1), ("2023-06-04", "Exchange", "ual", 4),
              ("2023-06-04", "Exchange", "mgmt", 9), ("2023-06-05", "Exchange", "ual", 2)]
    windows = [{"unit": "Audit.Exchange/a", "window_start": "2023-06-01T00:00:00Z", "window_end": "2023-06-03T00:00:00Z"},
               {"unit": "Audit.Exchange/b", "window_start": "2023-06-03T00:00:00Z", "window_end": "2023-06-05T12:00:00Z"}]
    lines = silent_days(counts, windows)
    assert len(lines) == 1 and "on 1 June 2023 to 3 June 2023" in lines[0] and "13 Exchange" in lines[0]
    assert silent_days(counts, []) == []  # no listing collected complete: nothing compared
    failed = [{**w, "unit": "Audit.General/x"} for w in windows]
    assert silent_days(counts, failed) == []


def test_a_day_mgmt_holds_fewer_records_of_than_ual_is_a_possible_gap_too():
    """A subscription started at 23:00 lists that hour only: `mgmt` holds some records that day,
    fewer than `ual`, which is not agreement either."""
    counts = [("2023-06-01", "Exchange", "ual", 40), ("2023-06-01", "Exchange", "mgmt", 2),
              ("2023-06-02", "Exchange", "ual", 5), ("2023-06-02", "Exchange", "mgmt", 9)]
    windows = [{"unit": "Audit.Exchange/a", "window_start": "2023-06-01T00:00:00Z", "window_end": "2023-06-03T00:00:00Z"}]
    [line] = silent_days(counts, windows)
    assert "on 1 June 2023 " in line and "40 Exchange record(s)" in line and "hold only 2." in line, line


def test_an_odd_ledger_window_neither_crashes_nor_walks_every_day():
    counts = [("2023-06-01", "Exchange", "ual", 3), ("9999-12-31", "Exchange", "ual", 1)]
    windows = [{"unit": "Audit.Exchange/a", "window_start": "0001-01-01T00:00:00Z", "window_end": "9999-12-31T23:59:59Z"},
               {"unit": "Audit.Exchange/b", "window_start": "2023-06-05T00:00:00Z", "window_end": "2023-06-01T00:00:00Z"}]
    [line] = silent_days(counts, windows)
    assert "on 1 June 2023 " in line and "3 Exchange" in line, line


def test_a_record_read_twice_by_ual_counts_once_against_mgmt(tmp_path):
    from evkit.evidence.inventory import scan_bundle
    from evkit.report.engine import source_days
    from evkit.report.engine.loader import Engine

    rec = mia("u-1", "2023-06-02T10:00:00", "alice@contoso.com")
    files = page_files("Audit.Exchange/20230601T000000Z_20230605T000000Z", "b000001",
                       json.dumps([rec]).encode(), kind="mgmt.blob", source="mgmt")
    root = write_bundle(tmp_path / "b", [rec, rec], window=WINDOW, page_size=1, extra_files=files)
    with Engine() as e:
        e.load([scan_bundle(root)])
        counts = source_days.records_per_day(e)
    assert counts == [("2023-06-02", "Exchange", "mgmt", 1), ("2023-06-02", "Exchange", "ual", 1)]
    windows = [{"unit": "Audit.Exchange/a", "window_start": WINDOW[0], "window_end": WINDOW[1]}]
    assert silent_days(counts, windows) == []
