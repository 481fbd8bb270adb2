"""The evidence behind suggested indicators: per-value aggregates from the engine's tables.

The rules themselves are pure (report.suggest); this module only asks DuckDB for what they
weigh. Record ids are fetched in a second, narrow query for the values that became
suggestions: keeping the 50 smallest ids of every value costs more than the counting itself
(10M records: 1.8 s of a 7.1 s session query), and only a handful of values are suggested.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from evkit.report.casefile import CaseFile
from evkit.report.engine.loader import Engine
from evkit.report.engine.sql import key_values
from evkit.report.rules.suggest import MAX_IDS, Suggestion, ValueStats, suggest

# Mailboxes are counted only where someone other than the owner reached them (an office address
# shared by many owners is not a lead); client strings are compared within one kind (Exchange
# ClientInfoString, or sign-in user agent), never across the two.
_NOT_OWNER = "mailbox <> account OR coalesce(logon_type, 0) <> 0"
# which records count for a kind's values (besides engine_sql.key_filter)
_COUNTED = {"app": "operation = 'MailItemsAccessed'", "ip": "true", "session": "true"}


def _values_of(kind: str) -> str:
    return f"FROM ({key_values(kind)}) WHERE {_COUNTED[kind]}"


def _stats_rows(engine: Engine, ws: datetime, we: datetime) -> list[tuple[Any, ...]]:
    """(kind, value, in window, before window, mailboxes, addresses, client strings) per value;
    `ws`/`we` are the incident window as naive UTC datetimes, as `events.ts` holds them."""
    apps = engine.rows(f"""
        SELECT 'app', v, count(*) FILTER (WHERE ts >= ? AND ts < ?), count(*) FILTER (WHERE ts < ?),
               0, 0, 0
        {_values_of('app')}
        GROUP BY v""", [ws, we, ws])
    ips = engine.rows(f"""
        SELECT 'ip', v, count(*), 0, count(DISTINCT mailbox) FILTER (WHERE {_NOT_OWNER}), 0, 0
        {_values_of('ip')} AND ts >= ? AND ts < ?
        GROUP BY v""", [ws, we])
    # Sessions are counted in two steps: records grouped by what is compared first (few
    # combinations per session), then the distinct counts over those groups, not over records.
    sessions = engine.rows(f"""
        SELECT 'session', v, sum(n)::BIGINT, 0, count(DISTINCT mailbox) FILTER (WHERE other),
               count(DISTINCT address), greatest(count(DISTINCT client_info), count(DISTINCT user_agent))
        FROM (SELECT v, mailbox, coalesce({_NOT_OWNER}, false) AS other,
                     coalesce(client_ip_address, client_ip, actor_ip) AS address, client_info, user_agent,
                     count(*) AS n
              {_values_of('session')} AND ts >= ? AND ts < ?
              GROUP BY ALL)
        GROUP BY v""", [ws, we])
    return apps + ips + sessions


def _ids_in_window(engine: Engine, kind: str, values: list[str], ws: datetime,
                   we: datetime) -> dict[str, tuple[str, ...]]:
    """The smallest MAX_IDS record ids in the window for each of `values` of one kind."""
    rows = engine.rows(f"""
        SELECT v, min(id, {MAX_IDS})
        {_values_of(kind)} AND ts >= ? AND ts < ? AND list_contains(?, v)
        GROUP BY v""", [ws, we, values])
    return {value: tuple(ids or ()) for value, ids in rows}


def suggestions(engine: Engine, case: CaseFile) -> list[Suggestion]:
    """Candidate indicators with their evidence (docs/methodology.md §1-2), never applied by themselves."""
    ws, we = (case.window_start.replace(tzinfo=None), case.window_end.replace(tzinfo=None))
    baseline = engine.rows("SELECT count(*) FROM events WHERE ts < ?", [ws])[0][0] > 0
    known = {(k, v) for k, v, _ in engine.rows("SELECT kind, value, indicator FROM indicator_hits")}
    known |= {("session", sid) for (sid,) in engine.rows("SELECT session_id FROM attributed_sessions")}
    via_sessions = dict(((k, v), (n, ids)) for k, v, n, ids in engine.rows(f"""
        SELECT k.kind, k.value, count(DISTINCT k.id), min(k.id, {MAX_IDS})
        FROM attributed a JOIN event_keys k ON k.id = a.id
        WHERE a.via = 'session' AND k.kind IN ('ip', 'app')
        GROUP BY k.kind, k.value"""))
    counted: set[tuple[str, str]] = set()
    stats = []
    for kind, value, n_in, n_before, mbx, ips, clients in _stats_rows(engine, ws, we):
        counted.add((kind, value))
        stats.append(ValueStats(kind, value, n_in, n_before, mbx, ips, clients,
                                in_attributed_sessions=via_sessions.pop((kind, value), (0, ()))[0]))
    stats += [ValueStats(kind, value, n, 0, 0, record_ids=tuple(ids), in_attributed_sessions=n)
              for (kind, value), (n, ids) in sorted(via_sessions.items())]
    found = suggest(stats, known=known, has_baseline=baseline)
    wanted: dict[str, list[str]] = {}
    for s in found:
        if (s.kind, s.value) in counted:
            wanted.setdefault(s.kind, []).append(s.value)
    ids = {(kind, value): found_ids for kind, values in sorted(wanted.items())
           for value, found_ids in _ids_in_window(engine, kind, values, ws, we).items()}
    return [replace(s, record_ids=tuple(sorted(ids.get((s.kind, s.value), ()))[:MAX_IDS]))
            if (s.kind, s.value) in counted else s for s in found]
