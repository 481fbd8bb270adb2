"""A `skipped` unit of a secondary audit source (mgmt before its 7 days, graph in a national cloud)
is shown in the completeness ledger, and is no visibility gap when `ual` collected its period
completely (docs/evidence-layout.md, the ledger)."""

from __future__ import annotations

from datetime import datetime, timezone

from evkit.report.pdf.sections import _completeness
from evkit.report.rules.visibility import ledger_gaps, mark_covered

WINDOW = (datetime(2023, 6, 1, tzinfo=timezone.utc), datetime(2023, 6, 2, tzinfo=timezone.utc))
OLDER = ("the Management Activity API keeps only the last 7 days: this part of the collection window ends at "
         "2023-06-02T00:00:00Z, before the oldest content it still serves; `ual` (also collected) covers this period")


def row(source: str, unit: str, status: str, start: str = "2023-06-01T00:00:00Z", end: str = "2023-06-02T00:00:00Z",
        reason: str = "") -> dict[str, object]:
    return {"bundle": "b", "source": source, "unit": unit, "status": status, "reason": reason, "expected": None,
            "received": 0, "window_start": start, "window_end": end}


def test_a_skipped_mgmt_unit_that_ual_covers_is_marked_and_is_no_gap() -> None:
    rows = [row("ual", "w1", "complete", end="2023-06-01T12:00:00Z"), row("ual", "w2", "complete", "2023-06-01T12:00:00Z"),
            row("mgmt", "Audit.Exchange/older", "skipped", reason=OLDER)]
    marked = {r["unit"]: r["covered_by"] for r in mark_covered(rows)}
    assert marked == {"w1": None, "w2": None, "Audit.Exchange/older": "ual"}
    assert ledger_gaps(rows, WINDOW) == []


def test_a_skipped_unit_ual_covers_only_in_part_stays_a_gap() -> None:
    rows = [row("ual", "w1", "complete", end="2023-06-01T12:00:00Z"), row("ual", "w2", "failed", "2023-06-01T12:00:00Z"),
            row("mgmt", "Audit.Exchange/older", "skipped", reason=OLDER)]
    assert all(r["covered_by"] is None for r in mark_covered(rows))
    gaps = ledger_gaps(rows, WINDOW)
    assert gaps and any("skipped (mgmt)" in g.reason for g in gaps)


def test_sign_ins_are_never_covered_by_the_audit_log() -> None:
    rows = [row("ual", "w", "complete"), row("signins", "interactiveUser", "skipped", reason="older than 30 days")]
    assert mark_covered(rows)[1]["covered_by"] is None


def test_the_pdf_shows_the_covered_skip_and_does_not_call_it_a_visibility_gap() -> None:
    rows = mark_covered([row("ual", "w", "complete"), row("mgmt", "Audit.Exchange/older", "skipped", reason=OLDER)])
    text = " ".join(str(getattr(f, "text", "")) for f in _completeness({"completeness": rows}))
    assert "except 1 unit whose whole period another audit source collected completely" in text


def test_a_source_that_failed_as_a_whole_after_reading_part_of_its_window_leaves_the_rest_a_gap(tmp_path) -> None:
    """The collector's `_source` entry (a role refused mid-run) states no window; the windows that
    source never reached have no entry at all. The report must not read them as collected."""
    from bundlekit import mia, permissive_report_options, write_bundle
    from evkit.report.pipeline import run_report

    window = ("2023-06-01T00:00:00Z", "2023-06-03T00:00:00Z")
    ledger = [{"source": "ual", "unit": "20230602T000000Z_20230603T000000Z",
               "window": {"start": "2023-06-02T00:00:00Z", "end": window[1]}, "expected": None, "received": 1,
               "unique_ids": 1, "retries": 0, "status": "complete", "reason": ""},
              {"source": "ual", "unit": "_source", "window": None, "expected": None, "received": 0, "unique_ids": 0,
               "retries": 0, "status": "failed", "reason": "missing Exchange role group View-Only Audit Logs"}]
    root = write_bundle(tmp_path / "b", [mia("u-1", "2023-06-02T10:00:00", "alice@contoso.com")], window=window,
                        ledger=ledger)
    (tmp_path / "case.toml").write_text(f'[case]\nid = "IR-TEST"\nclient = "Contoso"\nwindow = ["{window[0]}", '
                                        f'"{window[1]}"]\n[indicators]\naccounts = ["alice@contoso.com"]\n',
                                        encoding="utf-8")
    result = run_report([root], tmp_path / "case.toml", tmp_path / "out", **permissive_report_options())
    [alice] = result.findings["mailboxes"]
    assert alice["verdict"] == "cannot be assessed", alice  # was: "no evidence of access"
    assert [(u["start"], u["end"]) for u in alice["unknown"]] == [(window[0], "2023-06-02T00:00:00Z")]
    assert "View-Only Audit Logs" in alice["unknown"][0]["reason"]
    assert not result.findings["summary"]["headline"].startswith("No activity")
    gaps = ledger_gaps([dict(r, bundle_start=window[0], bundle_end=window[1]) for r in
                        [row("ual", "w", "complete", "2023-06-02T00:00:00Z", window[1]),
                         row("ual", "_source", "failed", None, None, reason="refused")]],
                       (datetime(2023, 6, 1, tzinfo=timezone.utc), datetime(2023, 6, 3, tzinfo=timezone.utc)))
    assert [(g.start.day, g.end.day) for g in gaps] == [(1, 2)]
