"""The timeline chart: attributed activity per mailbox over time, by kind.

One band per mailbox, one thin lane per kind (bind, sync, search, send, signin, other), a tick
for every hour with activity. Periods the logs cannot show (throttled windows, no-visibility
windows) are shaded behind the ticks so a reader sees gaps next to activity. A table of the
same counts follows the chart, so the numbers are readable as text too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable

from evkit.report.outputs.model import Findings
from evkit.report.pdf.common import (
    FONT, FONT_BOLD, FRAME_WIDTH, MUTED, RULE, Column, data_table, none_found, note, plain_text,
    plural,
)
from evkit.times import format_minutes, parse_iso_or_none

KINDS = ("bind", "sync", "search", "send", "signin", "other")
KIND_COLOURS = {
    "bind": colors.HexColor("#c0392b"), "sync": colors.HexColor("#e67e22"),
    "search": colors.HexColor("#8e44ad"), "send": colors.HexColor("#1f77b4"),
    "signin": colors.HexColor("#2e8b57"), "other": colors.HexColor("#7f8c8d"),
}
KIND_WORDS = {"bind": "item opened (Bind)", "sync": "folder synced (Sync)",
              "search": "mailbox searched", "send": "message sent",
              "signin": "sign-in", "other": "other activity"}
THROTTLED_FILL = colors.HexColor("#fde8c8")
UNKNOWN_FILL = colors.HexColor("#dcdcdc")
LABEL_W = 128.0
MIN_TEXT = 7.0                 # no text on a page is smaller than this
LANE_H = 5.0
ROW_GAP = 9.0
AXIS_H = 22.0
ROWS_PER_CHART = 10
_STEPS_H = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 1440)


@dataclass(frozen=True)
class _Axis:
    start: datetime
    end: datetime
    width: float

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        offset = (when - self.start).total_seconds()
        return LABEL_W + max(0.0, min(1.0, offset / span)) * self.width


def _entries(findings: Findings) -> tuple[list[tuple[str, datetime, str, int]], int]:
    """Readable timeline entries, and how many were unreadable (reported, never silent)."""
    good, bad = [], 0
    for item in findings.get("timeline") or []:
        when = parse_iso_or_none(item.get("hour_utc")) if isinstance(item, Mapping) else None
        if when is None or not isinstance(item.get("mailbox"), str):
            bad += 1
            continue
        kind = item.get("kind") if item.get("kind") in KINDS else "other"
        count = item.get("count")
        good.append((item["mailbox"], when, kind, count if isinstance(count, int) else 1))
    return good, bad


def _mailbox_order(findings: Findings, seen: list[str]) -> list[str]:
    listed = [m.get("mailbox") for m in findings.get("mailboxes") or [] if isinstance(m, Mapping)]
    present = set(seen)
    order = [m for m in listed if m in present]
    return list(dict.fromkeys(order + sorted(present - set(order))))


def _windows(findings: Findings) -> dict[str, list[tuple[datetime, datetime, Any]]]:
    """Shaded spans per mailbox: (start, end, fill)."""
    spans: dict[str, list[tuple[datetime, datetime, Any]]] = defaultdict(list)
    for mbx in findings.get("mailboxes") or []:
        if not isinstance(mbx, Mapping):
            continue
        for gap in mbx.get("unknown") or []:
            if isinstance(gap, Mapping):
                start, end = parse_iso_or_none(gap.get("start")), parse_iso_or_none(gap.get("end"))
                if start and end and end > start:
                    spans[str(mbx.get("mailbox"))].append((start, end, UNKNOWN_FILL))
    for win in findings.get("throttled") or []:
        if isinstance(win, Mapping):
            start, end = parse_iso_or_none(win.get("start")), parse_iso_or_none(win.get("end"))
            if start and end and end > start:
                spans[str(win.get("mailbox"))].append((start, end, THROTTLED_FILL))
    return spans


def _axis(times: list[datetime], width: float) -> _Axis:
    start = min(times).replace(minute=0, second=0, microsecond=0)
    end = max(times).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if end - start < timedelta(hours=6):
        pad = (timedelta(hours=6) - (end - start)) / 2
        start, end = start - pad, end + pad
    return _Axis(start, end, width)


def _ticks(axis: _Axis) -> list[datetime]:
    hours = (axis.end - axis.start).total_seconds() / 3600
    step = next((s for s in _STEPS_H if hours / s <= 7), _STEPS_H[-1])
    first = axis.start.replace(minute=0, second=0, microsecond=0)
    if step >= 24:
        first = first.replace(hour=0)
    else:
        first = first.replace(hour=first.hour - first.hour % step)
    ticks, when = [], first
    while when <= axis.end:
        if when >= axis.start:
            ticks.append(when)
        when += timedelta(hours=step)
    return ticks


def _midnights(axis: _Axis) -> list[datetime]:
    """Every day boundary (00:00 UTC) inside the axis."""
    day = axis.start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    out = []
    while day < axis.end:
        out.append(day)
        day += timedelta(days=1)
    return out


def _tick_format(ticks: list[datetime]) -> str:
    """One format for every label of an axis: dates when ticks fall on whole days, else
    day and time (the day boundaries are drawn as solid lines)."""
    if all(t.hour == 0 and t.minute == 0 for t in ticks):
        return "%Y-%m-%d"
    return "%d %b %H:%M"


def _fit(text: str, font: str, size: float, width: float) -> str:
    """Cut `text` (already clean) so it fits `width` points, marking the cut with '...'."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "...", font, size) > width:
        text = text[:-1]
    return text + "..."


def _mailbox_label(drawing: Drawing, mailbox: str, top: float) -> None:
    local, at, domain = plain_text(mailbox, 200).partition("@")
    lines = [local + at, domain] if at else [local]      # "alice@" / "contoso.com": after the separator
    for i, line in enumerate(lines):
        drawing.add(String(0, top - 8 - i * 8.5, _fit(line, FONT_BOLD if i == 0 else FONT, 7.2,
                                                       LABEL_W - 26),
                           fontName=FONT_BOLD if i == 0 else FONT, fontSize=7.2))


def _runs(marks: list[tuple[datetime, str]], axis: _Axis,
          width: float) -> list[tuple[str, float, float]]:
    """Ticks merged where they touch on the page: one shape per visible run, not per hour,
    so months of hourly activity draw as fast as a day of it and look the same."""
    runs: list[tuple[str, float, float]] = []
    last: dict[str, int] = {}
    for when, kind in sorted(marks, key=lambda m: (m[1], m[0])):
        x0 = axis.x(when)
        x1 = x0 + width
        i = last.get(kind)
        if i is not None and x0 <= runs[i][2] + 0.5:
            runs[i] = (kind, runs[i][1], max(runs[i][2], x1))
        else:
            last[kind] = len(runs)
            runs.append((kind, x0, x1))
    return runs


def _chart(mailboxes: list[str], entries: list[tuple[str, datetime, str, int]], axis: _Axis,
           spans: dict[str, list[tuple[datetime, datetime, Any]]]) -> Drawing:
    row_h = LANE_H * len(KINDS) + ROW_GAP
    height = row_h * len(mailboxes) + AXIS_H
    drawing = Drawing(FRAME_WIDTH, height)
    hour_w = axis.width / ((axis.end - axis.start).total_seconds() / 3600)
    by_mailbox: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for mailbox, when, kind, _count in entries:
        by_mailbox[mailbox].append((when, kind))
    for row, mailbox in enumerate(mailboxes):
        top = height - row * row_h
        band_bottom = top - LANE_H * len(KINDS)
        for start, end, fill in spans.get(mailbox, []):
            if end > axis.start and start < axis.end:
                x0, x1 = axis.x(start), axis.x(end)
                drawing.add(Rect(x0, band_bottom, max(x1 - x0, 1.0), top - band_bottom,
                                 fillColor=fill, strokeColor=None))
        _mailbox_label(drawing, mailbox, top)
        for lane in range(len(KINDS)):              # lanes are told apart by colour (legend)
            y = top - (lane + 1) * LANE_H
            drawing.add(Line(LABEL_W, y, LABEL_W + axis.width, y, strokeColor=RULE,
                             strokeWidth=0.25))
        for kind, x0, x1 in _runs(by_mailbox.get(mailbox, []), axis, max(hour_w, 1.6)):
            lane = KINDS.index(kind)
            drawing.add(Rect(x0, top - (lane + 1) * LANE_H + 0.6, x1 - x0, LANE_H - 1.2,
                             fillColor=KIND_COLOURS[kind], strokeColor=None))
    for day in _midnights(axis):                    # day boundaries: solid lines
        x = axis.x(day)
        drawing.add(Line(x, AXIS_H - 6, x, height, strokeColor=MUTED, strokeWidth=0.5))
    ticks = _ticks(axis)
    fmt = _tick_format(ticks)
    for tick in ticks:
        x = axis.x(tick)
        drawing.add(Line(x, AXIS_H - 6, x, height, strokeColor=RULE, strokeWidth=0.3,
                         strokeDashArray=[1, 2]))
        drawing.add(String(x, AXIS_H - 15, tick.strftime(fmt), fontName=FONT, fontSize=MIN_TEXT,
                           fillColor=MUTED, textAnchor="middle"))
    drawing.add(Line(LABEL_W, AXIS_H - 6, LABEL_W + axis.width, AXIS_H - 6,
                     strokeColor=MUTED, strokeWidth=0.6))
    return drawing


def _legend() -> Drawing:
    drawing = Drawing(FRAME_WIDTH, 24)
    items = [(KIND_WORDS[k], KIND_COLOURS[k]) for k in KINDS]
    items += [("throttled: opens not logged", THROTTLED_FILL), ("no visibility", UNKNOWN_FILL)]
    x, y = 0.0, 14.0
    for label, fill in items:
        width = 12 + stringWidth(label, FONT, 7) + 12
        if x + width > FRAME_WIDTH:
            x, y = 0.0, y - 11
        drawing.add(Rect(x, y, 8, 6, fillColor=fill, strokeColor=None))
        drawing.add(String(x + 11, y + 0.5, label, fontName=FONT, fontSize=MIN_TEXT))
        x += width
    return drawing


def _counts_table(mailboxes: list[str], entries: list[tuple[str, datetime, str, int]]) -> list[Flowable]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for mailbox, when, kind, count in entries:
        counts[mailbox][kind] += count
        first[mailbox] = min(first.get(mailbox, when), when)
        last[mailbox] = max(last.get(mailbox, when), when)
    columns = [Column("Mailbox", 0.25), Column("First hour", 0.14), Column("Last hour", 0.14)]
    columns += [Column(k.capitalize(), 0.0783, numeric=True) for k in KINDS]
    rows = [[m, format_minutes(first[m]), format_minutes(last[m]),
             *[counts[m][k] for k in KINDS]] for m in mailboxes]
    return data_table(columns, rows, what="mailboxes")


def timeline_flowables(findings: Findings) -> list[Flowable]:
    """The chart (split every ROWS_PER_CHART mailboxes), its legend and the counts table."""
    entries, unreadable = _entries(findings)
    out: list[Flowable] = []
    if not entries:
        out.append(none_found("None found: no attributed activity to draw."))
    else:
        mailboxes = _mailbox_order(findings, [e[0] for e in entries])
        spans = _windows(findings)
        throttled = [t for m in mailboxes for start, end, fill in spans.get(m, [])
                     if fill is THROTTLED_FILL for t in (start, end)]
        axis = _axis([e[1] for e in entries] + throttled, FRAME_WIDTH - LABEL_W - 8)
        out.append(_legend())
        for start in range(0, len(mailboxes), ROWS_PER_CHART):
            out.append(_chart(mailboxes[start:start + ROWS_PER_CHART], entries, axis, spans))
        out.append(note("Each mark is one hour (UTC) with attributed activity, one lane per kind "
                        "in the legend's order and colour; solid vertical lines are midnight UTC. "
                        "Shaded periods are times the logs cannot show: throttled windows and "
                        "periods without audit coverage."))
        out += _counts_table(mailboxes, entries)
    if unreadable:
        out.append(note(f"{plural(unreadable, 'timeline entry', 'timeline entries')} without a "
                        "readable mailbox or hour not drawn; see findings.json."))
    return out
