"""Unknown (no visibility) periods per mailbox: audit configuration plus collection gaps.

Audit configuration over time is `evkit.report.coverage.assess`'s job (shared with `evkit readiness`);
this module only turns its periods, and the collection ledger's non-complete windows, into
the (start, end, reason) rows of the report, clipped to the incident window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evkit.report.casefile import parse_utc
from evkit.report.errors import CaseFileError

AUDIT_SOURCES = frozenset({"ual", "mgmt", "graph"})


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch in which a mailbox's access may have gone unrecorded, and why."""

    start: datetime
    end: datetime
    reason: str


def clip(start: datetime, end: datetime, window: tuple[datetime, datetime]) -> tuple[datetime, datetime] | None:
    lo, hi = max(start, window[0]), min(end, window[1])
    return (lo, hi) if lo < hi else None


def _time(value: Any) -> datetime | None:
    try:
        return parse_utc(value, "ledger") if value else None
    except CaseFileError:
        return None


def ledger_gaps(entries: Iterable[Mapping[str, Any]], window: tuple[datetime, datetime]) -> list[Gap]:
    """Audit-record windows that were not collected completely and that no complete window of
    another audit source covers: every in-scope mailbox is blind there. An entry without a window
    that is not complete (a source that failed as a whole, unit `_source`: it may stop after some
    of its windows were read, leaving the rest without an entry) stands for its bundle's collection
    window (`bundle_start`, `bundle_end`; see ledger_rows), else for `window`."""
    complete: list[tuple[datetime, datetime]] = []
    broken: list[tuple[datetime, datetime, str]] = []
    for e in entries:
        if e.get("source") not in AUDIT_SOURCES:
            continue
        start, end = _time(e.get("window_start")), _time(e.get("window_end"))
        if (start is None or end is None) and e.get("status") != "complete" and not e.get("window_start") \
                and not e.get("window_end"):
            start, end = _time(e.get("bundle_start")) or window[0], _time(e.get("bundle_end")) or window[1]
        if start is None or end is None:
            continue
        if e.get("status") == "complete":
            complete.append((start, end))
        else:
            why = f"collection window {e.get('status') or 'incomplete'} ({e.get('source')})"
            if e.get("reason"):
                why += f": {e['reason']}"
            broken.append((start, end, why))
    out = []
    for start, end, why in broken:
        for lo, hi in _uncovered(start, end, complete):
            clipped = clip(lo, hi, window)
            if clipped:
                out.append(Gap(clipped[0], clipped[1], why))
    return sorted(set(out), key=lambda g: (g.start, g.end, g.reason))


def mark_covered(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The completeness rows, each with `covered_by`: for a unit that is not complete, the other
    audit sources whose complete windows cover its whole window (so it is no visibility gap, as
    `ledger_gaps` finds: mgmt skipped before its 7 days while `ual` collected them), else None."""
    complete: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in rows:
        start, end = _time(r.get("window_start")), _time(r.get("window_end"))
        if r.get("status") == "complete" and r.get("source") in AUDIT_SOURCES and start and end:
            complete.setdefault(str(r["source"]), []).append((start, end))
    out = []
    for r in rows:
        start, end = _time(r.get("window_start")), _time(r.get("window_end"))
        by = None
        if r.get("status") != "complete" and r.get("source") in AUDIT_SOURCES and start and end:
            others = {s: w for s, w in complete.items() if s != r.get("source")}
            if others and next(_uncovered(start, end, [w for ws in others.values() for w in ws]), None) is None:
                by = ", ".join(sorted(s for s, ws in others.items() if any(lo < end and hi > start for lo, hi in ws)))
        out.append({**r, "covered_by": by})
    return out


NOT_COVERED = "no bundle's collection covers this period: records from it are not in the evidence"


def evidence_gaps(window: tuple[datetime, datetime], covered: Sequence[tuple[datetime, datetime]],
                  unreadable: int) -> list[Gap]:
    """Stretches of the incident window that every mailbox is blind in, whatever its audit
    settings: the parts no bundle's collection covers, and (for the whole window, as nobody can
    say which period an unreadable file held) any input that could not be read."""
    out = [Gap(lo, hi, NOT_COVERED) for lo, hi in _uncovered(window[0], window[1], covered)]
    if unreadable:
        out.append(Gap(window[0], window[1],
                       f"{unreadable} evidence input(s) could not be read (listed under Problems): "
                       "what they hold is unknown"))
    return sorted(out, key=lambda g: (g.start, g.end, g.reason))


def _uncovered(start: datetime, end: datetime,
               covered: Sequence[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    for lo, hi in sorted(covered):
        if hi <= cursor or lo >= end:
            continue
        if lo > cursor:
            yield cursor, lo
        cursor = max(cursor, hi)
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end
