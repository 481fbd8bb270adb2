"""The timeline chart's data handling: lanes, order, shading, merged ticks, unreadable entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.platypus import Paragraph

from evkit.report.pdf.common import FONT_BOLD
from evkit.report.pdf.timeline import (
    KIND_COLOURS, THROTTLED_FILL, UNKNOWN_FILL, _Axis, _runs, timeline_flowables,
)

T0 = datetime(2023, 6, 1, tzinfo=UTC)


def entry(mailbox: str, hours: int, kind: str = "bind", count: int = 1) -> dict:
    when = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"mailbox": mailbox, "hour_utc": when, "kind": kind, "count": count}


def shapes(flowables: list, kind: type) -> list:
    return [s for f in flowables if isinstance(f, Drawing) for s in f.contents
            if isinstance(s, kind)]


def texts(flowables: list) -> str:
    return " ".join(f.getPlainText() for f in flowables if isinstance(f, Paragraph))


def test_no_activity_says_none_found():
    (only,) = timeline_flowables({"timeline": []})
    assert "None found" in only.getPlainText()


def test_adjacent_hours_merge_into_one_shape_and_gaps_do_not():
    axis = _Axis(T0, T0 + timedelta(days=10), 300.0)
    marks = [(T0 + timedelta(hours=h), "bind") for h in range(48)]
    marks += [(T0 + timedelta(days=8), "bind"), (T0 + timedelta(hours=3), "sync")]
    runs = _runs(marks, axis, 1.6)
    assert [r[0] for r in runs] == ["bind", "bind", "sync"]
    assert runs[0][2] - runs[0][1] > 48 * 300.0 / 240 - 0.01


def test_months_of_hourly_activity_stay_a_bounded_number_of_shapes():
    rows = [entry(f"u{m}@x.example", h, k) for m in range(3) for h in range(24 * 60)
            for k in ("bind", "sync")]
    ticks = [r for r in shapes(timeline_flowables({"timeline": rows}), Rect)
             if r.fillColor in (KIND_COLOURS["bind"], KIND_COLOURS["sync"])]
    assert len(ticks) == 3 * 2 + 2           # one run per lane, plus the two legend swatches


def test_mailboxes_follow_the_findings_order_then_the_rest_sorted():
    findings = {"mailboxes": [{"mailbox": "z@x"}, {"mailbox": "a@x"}],
                "timeline": [entry("a@x", 1), entry("m@x", 2), entry("z@x", 3), entry("b@x", 4)]}
    labels = [s.text for s in shapes(timeline_flowables(findings), String)
              if s.fontName == FONT_BOLD]
    assert labels == ["z@", "a@", "b@", "m@"]        # the local part, broken after the "@"


def test_unknown_kinds_count_as_other_and_unreadable_entries_are_named():
    findings = {"timeline": [entry("a@x", 1, "teleport", 4), entry("a@x", 2, "bind", 2),
                             {"mailbox": "a@x", "hour_utc": "yesterday", "kind": "bind"},
                             {"hour_utc": "2023-06-01T00:00:00Z"}, "junk"]}
    out = timeline_flowables(findings)
    assert "3 timeline entries without a readable mailbox or hour not drawn" in texts(out)
    colours = {r.fillColor for r in shapes(out, Rect)}
    assert KIND_COLOURS["other"] in colours


def test_throttled_and_unknown_periods_are_shaded():
    findings = {"timeline": [entry("a@x", 1), entry("a@x", 40)],
                "throttled": [{"mailbox": "a@x", "start": "2023-06-01T05:00:00Z",
                               "end": "2023-06-02T05:00:00Z"}],
                "mailboxes": [{"mailbox": "a@x", "unknown": [
                    {"start": "2023-05-01T00:00:00Z", "end": "2023-07-01T00:00:00Z",
                     "reason": "bypass"}]}]}
    fills = [r.fillColor for r in shapes(timeline_flowables(findings), Rect)]
    assert fills.count(THROTTLED_FILL) == 2       # the window and its legend swatch
    assert fills.count(UNKNOWN_FILL) == 2


def axis_labels(findings: dict) -> list[str]:
    return [s.text for s in shapes(timeline_flowables(findings), String) if s.textAnchor == "middle"]


def test_one_time_format_per_axis_and_no_label_under_7_points():
    findings = {"timeline": [entry("a@x", 0), entry("a@x", 50)]}     # two days and more: mixed hours
    labels = axis_labels(findings)
    assert labels
    formats = {"date" if len(t) == 10 else "day-time" for t in labels}
    assert len(formats) == 1, labels
    sizes = [s.fontSize for s in shapes(timeline_flowables(findings), String)]
    assert min(sizes) >= 7


def test_day_boundaries_are_marked():
    from reportlab.graphics.shapes import Line

    from evkit.report.pdf.common import MUTED
    findings = {"timeline": [entry("a@x", 5), entry("a@x", 30)]}
    solid = [ln for ln in shapes(timeline_flowables(findings), Line)
             if ln.strokeColor == MUTED and not getattr(ln, "strokeDashArray", None) and ln.x1 == ln.x2]
    assert len(solid) >= 1                       # midnight of 2 June at least
