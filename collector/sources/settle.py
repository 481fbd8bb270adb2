"""When an audit source's answer can vouch for a period.

Audit records reach the audit log (and the Management API's content) some time after their
events (docs/microsoft-365.md §1.3, §3.5): an answer read at time T proves nothing about events
shortly before T. Each source fixes, at its first run, the moment before which events have had
their settle time (kept in its resume state, so a resumed run judges alike); what lies after it
is `pending` in the ledger, never `complete`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from evkit.collector.sources.base import SourceContext
from evkit.collector.windows import TimeWindow
from evkit.times import format_iso, parse_iso_utc

KEY = "settled_before"


def settled_before(ctx: SourceContext, source: str, hours: float) -> datetime:
    """Events before this moment have had `hours` to appear; fixed at the source's first run."""
    value = ctx.state.section(source).get(KEY)
    if isinstance(value, str):
        return parse_iso_utc(value)
    moment = ctx.now().replace(microsecond=0) - timedelta(hours=hours)
    ctx.state.update(lambda s: s[source].__setitem__(KEY, format_iso(moment)))
    return moment


def cut(window: TimeWindow, moment: datetime) -> tuple[TimeWindow | None, TimeWindow | None]:
    """`window` as (the part before `moment`, the part from it on); either may be None."""
    if moment <= window.start:
        return None, window
    if moment >= window.end:
        return window, None
    return TimeWindow(window.start, moment), TimeWindow(moment, window.end)


def unsettled_reason(moment: datetime, hours: float) -> str:
    return (f"events after {format_iso(moment)} may not be in the audit log yet (records can appear up to "
            f"{hours:g} hours after their events); collect again later for this part")
