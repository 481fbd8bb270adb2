"""From loaded evidence to the report model: attribution, classification, coverage, findings.

The engine answers set questions in SQL (which records carry an indicator value, which items a
mailbox is known to hold); the rules in report.attribution, report.classify and report.suggest
decide; this module wires the two and keeps every count next to the record ids behind it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, overload

from evkit.report.rules import classify as rules
from evkit.report.rules.attribution import indicator_hits, kinds_sought, session_label
from evkit.report.casefile import CaseFile, parse_utc
from evkit.report.errors import CaseFileError
from evkit.report.rules.classify import Attributed, Evidence, ItemRef, ItemVerdict, Sighting
from evkit.report.engine import queries
from evkit.report.engine.loader import Engine
from evkit.report.engine.sql import distinct_keys, item_mentions
from evkit.report.rules.mailbox_changes import CHANGE_KINDS, describe, mailbox_change
from evkit.report.rows import (ChangeRow, IndicatorRow, SearchRow, SendRow, SyncRow, ThrottledRow, TimelineRow,
                               UnreadableRow)
from evkit.report.rules.visibility import Gap, clip, evidence_gaps, ledger_gaps
from evkit.times import format_utc

TIMELINE_KINDS = ("bind", "sync", "search", "send", "signin", "other")


@dataclass(slots=True)
class Analysis:
    """Everything the outputs are built from (findings.json is a view of this)."""

    in_scope: list[str]
    attributed: list[Attributed]
    attribution_summary: list[IndicatorRow]
    verdicts: list[ItemVerdict]
    syncs: list[SyncRow]
    throttled: list[ThrottledRow]
    searches: list[SearchRow]
    sends: list[SendRow]
    unknown: dict[str, list[Gap]]
    unreadable_accesses: list[UnreadableRow]  # attributed Binds whose item list cannot be read
    evidence_gaps: list[Gap]  # stretches every mailbox in scope is blind in (coverage, unreadable input)
    mailbox_changes: list[ChangeRow]  # inbox rules, forwarding, permissions... by the attacker
    timeline: list[TimelineRow]
    first_activity: datetime | None
    last_activity: datetime | None
    problems: list[str] = field(default_factory=list)


@overload
def _utc(value: datetime) -> datetime: ...


@overload
def _utc(value: datetime | None) -> datetime | None: ...


def _utc(value: datetime | None) -> datetime | None:
    """DuckDB's naive UTC timestamps as aware datetimes (a value that is there stays there)."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _naive(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


# ---- attribution ------------------------------------------------------------------------------

def attribute(engine: Engine, case: CaseFile) -> None:
    """Create table `attributed(id, indicator, via)`: direct hits in the window, then every
    record of a session that holds one (the label says which indicator led there)."""
    values = engine.rows(f"{distinct_keys(kinds_sought(case.indicators), 'record_copies')} ORDER BY kind, value")
    hits = indicator_hits(((k, v) for k, v in values), case.indicators)
    engine.put_table("indicator_hits", {"kind": "VARCHAR", "value": "VARCHAR", "indicator": "VARCHAR"}, hits)
    window = [_naive(case.window_start), _naive(case.window_end)]
    # Only the kinds some indicator hit are unnested (a constant filter prunes the others
    # from the event_keys view); the kinds are evkit's own names, never evidence.
    kinds = ", ".join(f"'{kind}'" for kind in sorted({kind for kind, _, _ in hits})) or "NULL"
    engine.execute(f"""
        CREATE OR REPLACE TABLE attributed_direct AS
        SELECT k.id, min(h.indicator) AS indicator
        FROM event_keys k JOIN indicator_hits h ON h.kind = k.kind AND h.value = k.value
        WHERE k.kind IN ({kinds}) AND k.ts >= ? AND k.ts < ?
        GROUP BY k.id""", window)
    engine.execute("""
        CREATE OR REPLACE TABLE attributed_sessions AS
        SELECT k.value AS session_id, min(d.indicator) AS indicator, count(*) AS direct_records
        FROM attributed_direct d JOIN event_keys k ON k.id = d.id AND k.kind = 'session'
        GROUP BY k.value""")
    rows = engine.rows("""
        SELECT k.id, min(struct_pack(sid := s.session_id, ind := s.indicator)) AS led
        FROM event_keys k JOIN attributed_sessions s ON k.kind = 'session' AND k.value = s.session_id
        WHERE k.ts >= ? AND k.ts < ? AND k.id NOT IN (SELECT id FROM attributed_direct)
        GROUP BY k.id ORDER BY k.id""", window)
    expanded = [(rid, session_label(led["sid"], led["ind"]), "session") for rid, led in rows]
    engine.put_table("attributed_expanded", {"id": "VARCHAR", "indicator": "VARCHAR", "via": "VARCHAR"},
                     expanded)
    engine.execute("""
        CREATE OR REPLACE TABLE attributed AS
        SELECT id, indicator, 'direct' AS via FROM attributed_direct
        UNION ALL SELECT id, indicator, via FROM attributed_expanded""")


def _items_of(row: Mapping[str, Any]) -> tuple[tuple[ItemRef, ...], tuple[str, ...]]:
    items: list[ItemRef] = []
    folders: list[str] = []
    for f in row.get("folders") or []:
        if not isinstance(f, dict):
            continue
        if f.get("Path"):
            folders.append(f["Path"])
        for i in f.get("FolderItems") or []:
            if isinstance(i, dict) and i.get("InternetMessageId"):
                items.append(ItemRef(i["InternetMessageId"], f.get("Path"), i.get("Subject")))
    item = row.get("item")
    if isinstance(item, dict) and item.get("InternetMessageId"):
        parent = item.get("ParentFolder") or {}
        items.append(ItemRef(item["InternetMessageId"], parent.get("Path"), item.get("Subject")))
    for a in row.get("affected_items") or []:
        if isinstance(a, dict) and a.get("InternetMessageId"):
            parent = a.get("ParentFolder") or {}
            items.append(ItemRef(a["InternetMessageId"], parent.get("Path") or row.get("folder_path"),
                                 a.get("Subject")))
    return tuple(items), tuple(folders)


def _attributed_from(engine: Engine, table: str, order: str) -> list[Attributed]:
    rows = engine.dicts(f"""
        SELECT e.id, e.ts, e.operation, e.mailbox, e.account, e.access_type, e.folders, e.item,
               e.affected_items, e.folder_path, e.query_text, e.operation_count, a.indicator
        FROM attributed a JOIN {table} e ON e.id = a.id
        ORDER BY {order}""")
    out = []
    for r in rows:
        items, folders = _items_of(r)
        out.append(Attributed(record_id=r["id"], ts=_utc(r["ts"]), operation=r["operation"] or "",
                              mailbox=r["mailbox"], account=r["account"], indicator=r["indicator"],
                              access_type=r["access_type"], items=items, folders=folders,
                              query=r["query_text"], operation_count=r["operation_count"]))
    return out


def load_attributed(engine: Engine) -> list[Attributed]:
    """The attributed records (the copy used of each), in time order."""
    return _attributed_from(engine, "events", "e.ts NULLS LAST, e.id")


def load_conflicting_copies(engine: Engine) -> list[Attributed]:
    """The other copies of attributed records whose content conflicts with the copy used: the
    items they name count too, since the evidence does not say which copy is right."""
    return _attributed_from(engine, "conflict_copies", "e.id, e.ts NULLS LAST, e.operation")


def attribution_summary(engine: Engine) -> list[IndicatorRow]:
    """Per indicator: how many records it attributed directly and which sessions it opened."""
    direct = engine.rows("SELECT indicator, count(*) FROM attributed_direct GROUP BY indicator")
    sessions = engine.rows("SELECT indicator, session_id FROM attributed_sessions ORDER BY session_id")
    expanded = engine.rows("""SELECT s.indicator, count(*) FROM attributed_expanded x
        JOIN attributed_sessions s ON x.indicator LIKE 'session ' || s.session_id || ' %'
        GROUP BY s.indicator""")
    by: dict[str, IndicatorRow] = {}
    for ind, n in direct:
        by.setdefault(ind, {"indicator": ind, "records": 0, "sessions": [], "session_records": 0})["records"] = n
    for ind, sid in sessions:
        by.setdefault(ind, {"indicator": ind, "records": 0, "sessions": [], "session_records": 0})["sessions"].append(sid)
    for ind, n in expanded:
        by.setdefault(ind, {"indicator": ind, "records": 0, "sessions": [], "session_records": 0})["session_records"] = n
    return [by[k] for k in sorted(by)]


# ---- knowledge of items -------------------------------------------------------------------------

def load_sightings(engine: Engine, mailboxes: Sequence[str]) -> list[Sighting]:
    """Every (mailbox, item, folder) that any record shows, with when it was first seen."""
    if not mailboxes:
        return []
    engine.put_table("scope", {"mailbox": "VARCHAR"}, [(m,) for m in mailboxes])
    in_scope = "(SELECT * FROM events WHERE mailbox IN (SELECT mailbox FROM scope))"
    rows = engine.rows(f"""
        SELECT mailbox, internet_message_id, folder, min(ts), min(subject),
               min(struct_pack(t := coalesce(ts, TIMESTAMP '9999-12-31'), id := record_id)).id
        FROM ({item_mentions(in_scope)})
        GROUP BY mailbox, internet_message_id, folder
        ORDER BY 1, 2, 3 NULLS FIRST""")
    return [Sighting(mb, imid, folder, _utc(ts), subject, rid) for mb, imid, folder, ts, subject, rid in rows]


def throttle_markers(engine: Engine) -> list[tuple[str, datetime, str]]:
    """Every IsThrottled=True record (mailbox, time, id): in scope or not, the mailbox's Binds
    went unlogged after it, so it cannot be said that nobody read its mail."""
    rows = engine.rows("""SELECT e.mailbox, e.ts, e.id FROM events e
                          WHERE e.is_throttled AND e.ts IS NOT NULL AND e.mailbox IS NOT NULL ORDER BY 1, 2, 3""")
    return [(mb, _utc(ts), rid) for mb, ts, rid in rows]


# ---- the analysis -----------------------------------------------------------------------------

def load_mailbox_changes(engine: Engine) -> list[ChangeRow]:
    """Attributed records that change a mailbox (rules.mailbox_changes), one row each."""
    operations = sorted(CHANGE_KINDS)
    rows = engine.dicts(f"""
        SELECT e.id, e.ts, e.operation, e.mailbox, e.account, e.object_id, e.parameters,
               e.operation_properties, a.indicator
        FROM attributed a JOIN events e ON e.id = a.id
        WHERE e.operation IN ({', '.join('?' for _ in operations)})
        ORDER BY e.ts NULLS LAST, e.id""", operations)
    out: list[ChangeRow] = []
    for r in rows:
        change = mailbox_change(r["operation"], r["parameters"], r["operation_properties"])
        if change is None:
            continue
        object_id = (r["object_id"] or "").strip().lower()
        target = change.target or r["mailbox"] or (object_id if "@" in object_id else None) or r["account"]
        out.append({"mailbox": target, "time_utc": _fmt(_utc(r["ts"])), "kind": change.kind,
                    "operation": r["operation"], "actor": r["account"], "details": describe(change),
                    "parameters": [{"name": k, "value": v} for k, v in change.details],
                    "indicator": r["indicator"], "record_ids": [r["id"]]})
    return out


def collected_spans(engine: Engine) -> list[tuple[datetime, datetime]]:
    """The periods the evidence covers: each bundle's collection window, or, for a bundle that
    states none (client exports), the span of the records it holds (a lower bound)."""
    rows = engine.rows("""
        SELECT b.bundle, b.window_start, b.window_end, r.first, r.last FROM bundles b
        LEFT JOIN (SELECT s.bundle, min(e.ts) AS first, max(e.ts) AS last
                   FROM record_sources s JOIN events e ON e.id = s.id GROUP BY s.bundle) r
        ON r.bundle = b.bundle ORDER BY 1""")
    out: list[tuple[datetime, datetime]] = []
    for _, start, end, first, last in rows:
        stated_start, stated_end = _stated(start), _stated(end)
        if stated_start is not None and stated_end is not None and stated_start < stated_end:
            out.append((stated_start, stated_end))
        elif first is not None and last is not None:
            out.append((_utc(first), _utc(last) + timedelta(seconds=1)))
    return sorted(out)


def _stated(text: str | None) -> datetime | None:
    try:
        return parse_utc(text, "time") if text else None
    except CaseFileError:
        return None


def analyse(engine: Engine, case: CaseFile, *, folder_items: Mapping[tuple[str, str], int],
            config_unknown: Mapping[str, list[Gap]], unreadable_inputs: int = 0) -> Analysis:
    """Run every rule; `folder_items` maps (mailbox, folder_key) to Get-MailboxFolderStatistics
    counts, `config_unknown` the audit-configuration gaps per mailbox (report.coverage),
    `unreadable_inputs` how many inputs could not be read (their records are unknown)."""
    attribute(engine, case)
    attributed = load_attributed(engine)
    changes = load_mailbox_changes(engine)
    in_scope = sorted(set(case.indicators.accounts) | {a.mailbox for a in attributed if a.mailbox}
                      | {c["mailbox"] for c in changes if c["mailbox"]})
    sightings = load_sightings(engine, in_scope)
    by_mailbox: dict[str, list[Sighting]] = defaultdict(list)
    for s in sightings:
        by_mailbox[s.mailbox].append(s)

    acts = activity_rows(attributed, by_mailbox, folder_items)
    evidence = acts.evidence
    for copy in load_conflicting_copies(engine):
        evidence += rules.confirmed_by_bind(copy) + rules.confirmed_by_action(copy)
    throttle = throttled_windows(engine, case, attributed, by_mailbox, folder_items)
    evidence += throttle.evidence

    window = (case.window_start, case.window_end)
    blind = evidence_gaps(window, collected_spans(engine), unreadable_inputs)
    gaps = ledger_gaps(queries.ledger_rows(engine), window) + blind
    unknown = unknown_periods(case, in_scope, gaps, config_unknown, throttle.gaps,
                              attacker_gaps(case, changes, acts.unreadable))
    verdicts = item_verdicts(evidence, sightings, unknown)

    times = [a.ts for a in attributed if a.ts is not None]
    return Analysis(
        in_scope=in_scope, attributed=attributed, attribution_summary=attribution_summary(engine),
        verdicts=verdicts, syncs=sorted(acts.syncs, key=_row_key), throttled=throttle.rows,
        searches=sorted(acts.searches, key=_row_key), sends=sorted(acts.sends, key=_row_key), unknown=unknown,
        unreadable_accesses=sorted(acts.unreadable, key=_row_key), evidence_gaps=blind,
        mailbox_changes=sorted(changes, key=_row_key),
        timeline=timeline(attributed), first_activity=min(times) if times else None,
        last_activity=max(times) if times else None)


@dataclass(slots=True)
class _Activity:
    """What the attributed records show, record by record (activity_rows)."""

    evidence: list[Evidence] = field(default_factory=list)
    syncs: list[SyncRow] = field(default_factory=list)
    searches: list[SearchRow] = field(default_factory=list)
    sends: list[SendRow] = field(default_factory=list)
    unreadable: list[UnreadableRow] = field(default_factory=list)


def activity_rows(attributed: Sequence[Attributed], by_mailbox: Mapping[str, list[Sighting]],
                  folder_items: Mapping[tuple[str, str], int]) -> _Activity:
    """The item evidence of each attributed record (binds, actions, syncs, searches) and the
    rows the report lists: syncs, searches, sends, accesses whose item list cannot be read."""
    out = _Activity()
    evidence = out.evidence
    for rec in attributed:
        if rules.unreadable_item_list(rec):
            out.unreadable.append({"mailbox": rec.mailbox, "time_utc": _fmt(rec.ts),
                                   "items_unknown": rules.unknown_item_count(rec), "record_ids": [rec.record_id]})
        evidence += rules.confirmed_by_bind(rec)
        evidence += rules.confirmed_by_action(rec)
        mine = by_mailbox.get(rec.mailbox or "", [])
        synced = rules.inferred_by_sync(rec, mine)
        evidence += synced
        if rec.operation == "MailItemsAccessed" and (rec.access_type or "").lower() == "sync":
            for folder in rec.folders or ("",):
                named = [e for e in synced if rules.folder_key(e.folder) == rules.folder_key(folder)]
                stat = folder_items.get((rec.mailbox or "", rules.folder_key(folder)))
                out.syncs.append({"mailbox": rec.mailbox, "folder": folder, "time_utc": _fmt(rec.ts),
                                  "items_named": len(named),
                                  "items_unnamed": rules.unnamed_sync_count(stat, len(named)),
                                  "folder_items_collected": stat,
                                  "record_ids": sorted({rec.record_id} | {e.record_ids[-1] for e in named})})
        if rec.operation.startswith("SearchQueryInitiated"):
            matched = rules.inferred_by_search(rec, mine)
            evidence += matched
            out.searches.append({"mailbox": rec.mailbox or rec.account, "time_utc": _fmt(rec.ts),
                                 "query": rec.query, "matching_items": sorted({e.imid for e in matched}),
                                 "record_ids": sorted({rid for e in matched for rid in e.record_ids}
                                                      | {rec.record_id})})
        if rec.operation in ("Send", "SendAs", "SendOnBehalf"):
            for item in rec.items or (ItemRef(""),):
                out.sends.append({"mailbox": rec.mailbox, "time_utc": _fmt(rec.ts), "subject": item.subject,
                                  "internet_message_id": item.imid or None, "record_ids": [rec.record_id]})
    return out


@dataclass(slots=True)
class _Throttled:
    """Throttled windows: their rows, the items they make presumed read, the gaps they leave."""

    rows: list[ThrottledRow] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    gaps: dict[str, set[Gap]] = field(default_factory=lambda: defaultdict(set))


def throttled_windows(engine: Engine, case: CaseFile, attributed: Sequence[Attributed],
                      by_mailbox: Mapping[str, list[Sighting]],
                      folder_items: Mapping[tuple[str, str], int]) -> _Throttled:
    """Every throttled window: a gap in its mailbox (in scope or not) and, where the attacker
    was active in it, the mailbox's items presumed read."""
    out = _Throttled()
    for window in rules.throttle_windows(throttle_markers(engine)):
        span = clip(window.start, window.end, (case.window_start, case.window_end))
        if span is not None:
            out.gaps[window.mailbox].add(Gap(span[0], span[1], THROTTLED))
        window = rules.attacker_activity_in(window, attributed)
        inferred = rules.inferred_by_throttle(window, by_mailbox.get(window.mailbox, []))
        out.evidence += inferred
        total = mailbox_items(folder_items, window.mailbox)
        named = len({e.imid for e in inferred})
        out.rows.append({"mailbox": window.mailbox, "start": _fmt(window.start), "end": _fmt(window.end),
                         "attributed_activity": len(window.activity_ids), "items_named": named,
                         "items_unnamed": rules.unnamed_sync_count(total, named) if window.activity_ids else 0,
                         "mailbox_items_collected": total,
                         "record_ids": sorted(window.record_ids + window.activity_ids)})
    return out


def attacker_gaps(case: CaseFile, changes: Sequence[ChangeRow],
                  unreadable: Sequence[UnreadableRow]) -> dict[str, set[Gap]]:
    """Per mailbox, what the attacker's own records leave unknowable: everything after a change
    to the mailbox, and the moment of an access whose item list cannot be read."""
    out: dict[str, set[Gap]] = defaultdict(set)
    for change in changes:
        when = _stated(change["time_utc"]) or case.window_start
        if change["mailbox"] and when < case.window_end:
            out[change["mailbox"]].add(Gap(when, case.window_end, CHANGED.format(kind=change["kind"])))
    for row in unreadable:
        when = _stated(row["time_utc"]) or case.window_start
        if row["mailbox"] is not None:
            out[row["mailbox"]].add(Gap(when, when, UNREADABLE_ITEMS))
    return out


def unknown_periods(case: CaseFile, in_scope: Sequence[str], gaps: Sequence[Gap],
                    config_unknown: Mapping[str, list[Gap]], throttle_gaps: Mapping[str, set[Gap]],
                    attacker: Mapping[str, set[Gap]]) -> dict[str, list[Gap]]:
    """Per mailbox, the periods that cannot be assessed, in time order. Collection gaps blind
    every mailbox in scope; audit-configuration gaps are reported for every mailbox that has
    one, in scope or not: unlogged access leaves no record to bring a mailbox into scope, so
    "cannot be assessed" must not depend on it."""
    unknown = {m: sorted(set(config_unknown.get(m, [])) | (set(gaps) if m in in_scope else set())
                         | attacker.get(m, set()) | throttle_gaps.get(m, set()),
                         key=lambda g: (g.start, g.end, g.reason))
               for m in sorted(set(in_scope) | set(config_unknown) | set(throttle_gaps))}
    return {m: g for m, g in unknown.items() if g}


def item_verdicts(evidence: list[Evidence], sightings: Sequence[Sighting],
                  unknown: Mapping[str, list[Gap]]) -> list[ItemVerdict]:
    """One verdict per item: its evidence combined, or for an item no rule touched, unknown or
    no evidence depending on the mailbox's unknown periods."""
    touched = {(e.mailbox, e.imid) for e in evidence}
    for s in sightings:
        if (s.mailbox, s.imid) not in touched:
            evidence.append(rules.unknown_or_no_evidence(s, [g.reason for g in unknown.get(s.mailbox, [])]))
    grouped: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for e in evidence:
        grouped[(e.mailbox, e.imid)].append(e)
    return [rules.combine(grouped[k]) for k in sorted(grouped)]


CHANGED = ("the attacker changed this mailbox ({kind}): mail after the change may have left or been "
           "read through it without an access record")
THROTTLED = ("audit logging throttled: for 24 hours after an IsThrottled record, item opens (Bind) "
             "were not logged, by the owner or anyone else")
UNREADABLE_ITEMS = ("the attacker accessed this mailbox, but the record's list of items cannot be "
                    "read (missing or mangled by an export): which items were opened is unknown")


def mailbox_items(folder_items: Mapping[tuple[str, str], int], mailbox: str) -> int | None:
    """All items of a mailbox by its folder statistics (None when they were not collected)."""
    counts = [n for (mb, _), n in folder_items.items() if mb == mailbox]
    return sum(counts) if counts else None


def _row_key(row: Mapping[str, Any]) -> tuple[str, str, str, list[str]]:
    return (row.get("mailbox") or "", row.get("time_utc") or "", str(row.get("folder") or row.get("query") or
            row.get("internet_message_id") or ""), row.get("record_ids") or [])


def _fmt(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None


def timeline_kind(rec: Attributed) -> str:
    """Which lane of the timeline chart a record belongs in."""
    if rec.operation == "MailItemsAccessed":
        return "sync" if (rec.access_type or "").lower() == "sync" else "bind"
    if rec.operation.startswith("SearchQueryInitiated"):
        return "search"
    if rec.operation in ("Send", "SendAs", "SendOnBehalf"):
        return "send"
    if rec.operation in ("UserLoggedIn", "UserLoginFailed", "MailboxLogin"):
        return "signin"
    return "other"


def timeline(attributed: Sequence[Attributed]) -> list[TimelineRow]:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for rec in attributed:
        if rec.ts is None:
            continue
        hour = rec.ts.replace(minute=0, second=0, microsecond=0)
        counts[(rec.mailbox or rec.account or "", format_utc(hour), timeline_kind(rec))] += 1
    return [{"mailbox": m, "hour_utc": h, "kind": k, "count": n} for (m, h, k), n in sorted(counts.items())]
