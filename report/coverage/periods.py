"""Coverage over time: replay audit-tampering changes around the configuration snapshot.

`coverage_periods` is the public entry; `assess` answers for one instant and this module builds
on it. The snapshot is the state when it was collected; changes after
a moment are undone to find the state at that moment, then replayed forward so each period
shows the state a record actually set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from evkit.report.coverage.config_evidence import TenantConfig
from evkit.report.coverage.assess import (DEFAULT_ACTIONS, STANDARD_EXPANSION_UTC, AuditState, CoveragePeriod,
                             order_reasons, evaluate, identifiers, mailbox_key, mailbox_type, state_now)
from evkit.report.coverage.changes import UNKNOWN, ConfigChange, parse_changes
from evkit.times import utc_or_none


def coverage_periods(tenant_config: TenantConfig, tampering_events: Iterable[Mapping[str, Any]],
                     window: Sequence[Any], *, logon: str | Sequence[str] = "owner",
                     action: str = "MailItemsAccessed") -> dict[str, list[CoveragePeriod]]:
    """Per mailbox, the periods of `window` in which (logon, action) was / was not logged.

    `logon` is one logon type, or several: covered then means covered for every one of them
    (use all three for a mailbox reached through another account, whose logon type the
    evidence may not show), with the reasons of each uncovered one.

    The snapshot describes the tenant when it was collected (`snapshot_utc`, else the window
    end); `tampering_events` (classic-schema records; anything else is ignored) describe how
    it got there: changes after a moment are undone to find the state at that moment, then
    replayed forward so each period shows the state a record actually set. Adjacent periods
    with the same answer and reasons are merged. Keys are `mailbox_key` names.
    """
    start, end = _window(window)
    changes = parse_changes(tampering_events)
    snapshot = tenant_config.snapshot_utc or end
    out: dict[str, list[CoveragePeriod]] = {}
    for mailbox in tenant_config.mailboxes:
        key = mailbox_key(mailbox)
        if not key:
            continue
        ids = identifiers(mailbox)
        mine = [c for c in changes if c.target is None or c.target in ids]
        state = _state_at(state_now(tenant_config, mailbox), mine, snapshot, start)
        kind = mailbox_type(mailbox)
        periods: list[CoveragePeriod] = []
        cursor = start
        for change in (c for c in mine if start < c.time < end):
            periods.extend(_periods(state, kind, logon, action, cursor, change.time))
            state, cursor = apply_change(state, change), change.time
        periods.extend(_periods(state, kind, logon, action, cursor, end))
        out[key] = _merge(periods)
    return dict(sorted(out.items()))


def _periods(state: AuditState, kind: str, logon: str | Sequence[str], action: str,
             start: datetime, end: datetime) -> list[CoveragePeriod]:
    """One state over [start, end), split where the licence rule changes (the expansion)."""
    cuts = [start, end]
    if start < STANDARD_EXPANSION_UTC < end:
        cuts.insert(1, STANDARD_EXPANSION_UTC)
    logons = (logon,) if isinstance(logon, str) else tuple(logon)
    out = []
    for a, b in zip(cuts, cuts[1:]):
        results = [evaluate(state, kind, t, action, a) for t in logons]
        ok = all(r[0] for r in results)
        why = tuple(order_reasons({c for r in results if r[0] is ok for c in r[1]}))
        out.append(CoveragePeriod(a, b, ok, why))
    return out


def _merge(periods: list[CoveragePeriod]) -> list[CoveragePeriod]:
    merged: list[CoveragePeriod] = []
    for p in periods:
        if p.end <= p.start:
            continue
        if merged and merged[-1].covered == p.covered and merged[-1].reasons == p.reasons:
            merged[-1] = replace(merged[-1], end=p.end)
        else:
            merged.append(p)
    return merged


def _state_at(now: AuditState, changes: list[ConfigChange], snapshot: datetime,
              moment: datetime) -> AuditState:
    """Walk from the snapshot to `moment`: undo later changes, or replay ones in between."""
    state = now
    if moment <= snapshot:
        for change in sorted((c for c in changes if moment < c.time <= snapshot),
                             key=lambda c: c.time, reverse=True):
            state = undo_change(state, change)
    else:
        for change in (c for c in changes if snapshot < c.time <= moment):
            state = apply_change(state, change)
    return state


def apply_change(state: AuditState, change: ConfigChange) -> AuditState:
    """The state right after `change`."""
    return _set(state, change, after=True)


def undo_change(state: AuditState, change: ConfigChange) -> AuditState:
    """The state right before `change`, given the state right after it."""
    return _set(state, change, after=False)


def _set(state: AuditState, change: ConfigChange, *, after: bool) -> AuditState:
    f, value = change.field, change.value if after else change.previous
    if f in ("org_audit_disabled", "ingestion_enabled", "bypass", "audit_enabled"):
        return replace(state, **{f: value if value is not UNKNOWN else None})
    if f == "licence":
        return replace(state, licence=value if value is not UNKNOWN else "unknown")
    sets = dict(state.sets)
    assumed = set(state.assumed)
    if f == "default_set":
        for logon in change.value:
            sets[logon] = DEFAULT_ACTIONS[logon] if after else None
            assumed.discard(logon)
        return replace(state, sets=sets, assumed=frozenset(assumed))
    if not f.startswith("set:"):
        return state
    logon = f.split(":", 1)[1]
    current, delta = sets.get(logon), change.value
    if change.op == "unknown" or delta is None:
        sets[logon] = None
        assumed.discard(logon)
    elif change.op == "replace":
        if after:
            sets[logon] = frozenset(delta)
            assumed.discard(logon)
        else:
            sets[logon] = DEFAULT_ACTIONS[logon]
            assumed.add(logon)
    elif current is not None:
        adding = (change.op == "add") == after
        sets[logon] = current | delta if adding else current - delta
    return replace(state, sets=sets, assumed=frozenset(assumed))


def _window(window: Sequence[Any]) -> tuple[datetime, datetime]:
    if hasattr(window, "start") and hasattr(window, "end"):
        pair: Sequence[Any] = (window.start, window.end)  # type: ignore[attr-defined]
    else:
        pair = window
    start, end = (v if isinstance(v, datetime) else utc_or_none(v) for v in pair)
    if start is None or end is None or end <= start:
        raise ValueError(f"coverage window {window!r} is not a (start, end) pair in order")
    return (start.astimezone(timezone.utc), end.astimezone(timezone.utc))
