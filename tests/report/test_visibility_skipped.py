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
