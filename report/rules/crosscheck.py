"""`ual` against `mgmt`, day by day (pure; the figures come from report/engine/source_days.py).

The Management Activity API lists content only from when its subscription started, and gives no
start date: a subscription someone else started recently lists nothing for the days before it
(docs/microsoft-365.md, the Management Activity API). So where the audit log search (`ual`) holds
records of a workload on a day the `mgmt` listings were collected `complete` for, but `mgmt` holds
none of that workload that day, or fewer records than `ual` (a subscription started during the
day), the silence is named as a possible gap, never read as agreement.

Only the workloads with one content type each are compared (Exchange: Audit.Exchange; Entra ID:
Audit.AzureActiveDirectory); `ual` collects some operations, `mgmt` every record of its types, so
on a day both cover `mgmt` should hold at least what `ual` holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from evkit.times import format_plain, parse_iso_utc

CONTENT_TYPES = {"Exchange": "Audit.Exchange", "AzureActiveDirectory": "Audit.AzureActiveDirectory"}
DAY = timedelta(days=1)


def _covered(day: str, windows: Sequence[tuple[datetime, datetime]]) -> bool:
    """Whether the UTC day `day` (YYYY-MM-DD) lies wholly inside the union of `windows`. Only the
    days the evidence holds are asked about, so an odd ledger window (years long, ending at
    9999-12-31) costs nothing and overflows nothing (datetimes are subtracted, never advanced)."""
    start = parse_iso_utc(day + "T00:00:00Z")
    reach = start
    for w_start, w_end in sorted(windows):
        if w_start > reach:
            break
        if w_end > reach:
            reach = w_end
        if reach - start >= DAY:
            return True
    return False


def silent_days(counts: Sequence[tuple[str, str, str, int]], mgmt_windows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per (content type, run of days) where `ual` holds more records of the workload
    than the `mgmt` listings, complete for the whole day, hold (none, or fewer: a subscription that
    started during the day lists only what came after)."""
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for w in mgmt_windows:
        content_type = str(w["unit"]).split("/", 1)[0]
        try:
            windows.setdefault(content_type, []).append((parse_iso_utc(str(w["window_start"])),
                                                         parse_iso_utc(str(w["window_end"]))))
        except ValueError:
            continue
    held: dict[tuple[str, str, str], int] = {(day, workload, source): n for day, workload, source, n in counts}
    out = []
    for workload, content_type in CONTENT_TYPES.items():
        covered = windows.get(content_type, [])
        silent = sorted(day for (day, w, source), n in held.items()
                        if w == workload and source == "ual" and n > held.get((day, workload, "mgmt"), 0)
                        and _covered(day, covered))
        for run in _runs(silent):
            n = sum(held[(day, workload, "ual")] for day in run)
            m = sum(held.get((day, workload, "mgmt"), 0) for day in run)
            days = _plain_day(run[0]) if len(run) == 1 else f"{_plain_day(run[0])} to {_plain_day(run[-1])}"
            mgmt_held = "hold none" if not m else f"hold only {m:,}"
            out.append(f"Possible gap: on {days} the audit log search (`ual`) holds {n:,} {workload} record(s) "
                       f"but the Management Activity API's {content_type} listings (`mgmt`), collected complete, "
                       f"{mgmt_held}. A subscription started recently lists nothing before its start and the API "
                       "does not say when that was, so `mgmt`'s silence there is not agreement: records only "
                       "`mgmt` would hold (operations `ual` did not collect) may be missing for those days.")
    return out


def _runs(days: list[str]) -> list[list[str]]:
    runs: list[list[str]] = []
    for day in days:
        if runs and parse_iso_utc(runs[-1][-1] + "T00:00:00Z") + DAY == parse_iso_utc(day + "T00:00:00Z"):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _plain_day(day: str) -> str:
    return format_plain(parse_iso_utc(day + "T00:00:00Z")).split(",")[0]
