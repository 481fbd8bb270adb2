"""Classification rules (docs/methodology.md §3), each a small pure function over typed records.

The analysis layer fetches the few records that matter (attributed ones, throttling markers,
item sightings in in-scope mailboxes) and calls these rules; nothing here touches files or the
database, so every rule is tested on its own with literal records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import assert_never

THROTTLE_SPAN = timedelta(hours=24)
CONFIRMING_OPERATIONS = frozenset({
    "Send", "SendAs", "SendOnBehalf", "Create", "Update", "Move", "MoveToDeletedItems",
    "SoftDelete", "HardDelete", "Copy", "UpdateInboxRules",
})


class Classification(str, Enum):
    CONFIRMED = "confirmed"
    INFERRED = "inferred"
    UNKNOWN = "unknown"
    NO_EVIDENCE = "no-evidence"


def rank(value: Classification) -> int:
    """Strength for picking one classification per item: confirmed beats inferred, and so on."""
    if value is Classification.CONFIRMED:
        return 3
    if value is Classification.INFERRED:
        return 2
    if value is Classification.UNKNOWN:
        return 1
    if value is Classification.NO_EVIDENCE:
        return 0
    assert_never(value)


def folder_key(path: str | None) -> str:
    """Compare folder paths as Exchange does: case-insensitive, `\\` or `/` separated."""
    if not path:
        return ""
    text = path.strip().replace("/", "\\").rstrip("\\").lower()
    return text if text.startswith("\\") else "\\" + text


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An item named by a record: its InternetMessageId and the folder it was in."""

    imid: str
    folder: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Attributed:
    """An attacker-attributed record, reduced to what the rules read."""

    record_id: str
    ts: datetime | None
    operation: str
    mailbox: str | None
    account: str | None
    indicator: str
    access_type: str | None = None
    items: tuple[ItemRef, ...] = ()  # Bind FolderItems, or Item / AffectedItems
    folders: tuple[str, ...] = ()  # Folders[].Path (Sync records name only the folder)
    query: str | None = None
    operation_count: int | None = None  # OperationCount as recorded (accesses aggregated)


@dataclass(frozen=True, slots=True)
class Sighting:
    """An item known from any record to be in a mailbox folder, first seen at `first_seen`."""

    mailbox: str
    imid: str
    folder: str | None
    first_seen: datetime | None
    subject: str | None
    record_id: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why one item received one classification."""

    mailbox: str
    imid: str
    folder: str | None
    classification: Classification
    reason: str
    time: datetime | None
    record_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """A throttled window of one mailbox: Bind accesses in it were not logged."""

    mailbox: str
    start: datetime
    end: datetime
    record_ids: tuple[str, ...]
    activity_ids: tuple[str, ...] = field(default=())
    last_activity: datetime | None = None  # the attacker's last recorded act inside the window


# ---- confirmed ----------------------------------------------------------------------------

def confirmed_by_bind(rec: Attributed) -> list[Evidence]:
    """An attributed Bind MailItemsAccessed record lists the items it opened."""
    if rec.operation != "MailItemsAccessed" or (rec.access_type or "").lower() != "bind" or not rec.mailbox:
        return []
    return [Evidence(rec.mailbox, i.imid, i.folder, Classification.CONFIRMED, "bind", rec.ts,
                     (rec.record_id,)) for i in rec.items]


def confirmed_by_action(rec: Attributed) -> list[Evidence]:
    """An attributed send, create, update, move or delete names the item it acted on."""
    if rec.operation not in CONFIRMING_OPERATIONS or not rec.mailbox:
        return []
    reason = rec.operation.lower()
    return [Evidence(rec.mailbox, i.imid, i.folder, Classification.CONFIRMED, reason, rec.ts,
                     (rec.record_id,)) for i in rec.items]


def unreadable_item_list(rec: Attributed) -> bool:
    """An attributed Bind whose item list names no item (absent, or mangled by an export, e.g.
    `System.Object[]`), or an attributed access whose MailAccessType cannot be read: the mailbox
    was accessed, but which items is unknown."""
    if rec.operation != "MailItemsAccessed" or not rec.mailbox:
        return False
    access = (rec.access_type or "").lower()
    return not access or (access == "bind" and not rec.items)


def unknown_item_count(rec: Attributed) -> int:
    """How many items an unreadable Bind opened, from its OperationCount (at least one)."""
    count = rec.operation_count
    return count if isinstance(count, int) and count > 0 else 1


# ---- inferred -----------------------------------------------------------------------------

def inferred_by_sync(rec: Attributed, sightings: Iterable[Sighting]) -> list[Evidence]:
    """An attributed Sync of a folder exposes every item known to be in it by the sync time."""
    if rec.operation != "MailItemsAccessed" or (rec.access_type or "").lower() != "sync" or not rec.mailbox:
        return []
    synced = {folder_key(f) for f in rec.folders}
    out = []
    for s in sightings:
        if s.mailbox != rec.mailbox or folder_key(s.folder) not in synced:
            continue
        if rec.ts is not None and s.first_seen is not None and s.first_seen > rec.ts:
            continue
        out.append(Evidence(s.mailbox, s.imid, s.folder, Classification.INFERRED,
                            f"sync of {s.folder}", rec.ts, (rec.record_id, s.record_id)))
    return out


def unnamed_sync_count(folder_items: int | None, named: int) -> int | None:
    """Items in a synced folder that no record names (None: folder statistics not collected)."""
    if folder_items is None:
        return None
    return max(0, folder_items - named)


def throttle_windows(markers: Iterable[tuple[str, datetime, str]]) -> list[Window]:
    """IsThrottled=True records (mailbox, time, id) -> merged 24-hour windows per mailbox."""
    out: list[Window] = []
    for mailbox, start, rid in sorted(markers):
        end = start + THROTTLE_SPAN
        if out and out[-1].mailbox == mailbox and start <= out[-1].end:
            last = out[-1]
            out[-1] = Window(mailbox, last.start, max(last.end, end), last.record_ids + (rid,))
        else:
            out.append(Window(mailbox, start, end, (rid,)))
    return out


def attacker_activity_in(window: Window, activity: Iterable[Attributed]) -> Window:
    """The window with the attributed records (any kind, sign-ins by the owner's account
    included) that fall inside it; empty activity means nothing is inferred from it."""
    inside = [a for a in activity if a.ts is not None and window.start <= a.ts < window.end
              and window.mailbox in (a.mailbox, a.account)]
    ids = sorted({a.record_id for a in inside})
    last = max((a.ts for a in inside), default=None)  # type: ignore[type-var]
    return Window(window.mailbox, window.start, window.end, window.record_ids, tuple(ids), last)


def inferred_by_throttle(window: Window, sightings: Iterable[Sighting]) -> list[Evidence]:
    """With attacker activity inside a throttled window, the mailbox's items known to exist by
    the window's end must be presumed read: no Bind in the window was logged, so the attacker's
    last recorded act is not the last access. (Mail first seen after the window is not claimed.)"""
    if not window.activity_ids:
        return []
    ids = window.record_ids + window.activity_ids
    until = window.end
    return [Evidence(s.mailbox, s.imid, s.folder, Classification.INFERRED,
                     "throttled window", window.start, ids)
            for s in sightings
            if s.mailbox == window.mailbox and (s.first_seen is None or s.first_seen <= until)]


def query_terms(query: str) -> list[str]:
    """Search text -> lower-case terms, without quotes and boolean operators."""
    terms = []
    for raw in query.replace('"', " ").replace("'", " ").split():
        word = raw.strip("()").lower()
        if word and word not in ("and", "or", "not") and ":" not in word:
            terms.append(word)
    return terms


def subject_matches(query: str, subject: str | None) -> bool:
    """Every term of the query appears in the subject (case-insensitive)."""
    terms = query_terms(query)
    return bool(terms and subject) and all(t in subject.lower() for t in terms)  # type: ignore[union-attr]


def inferred_by_search(rec: Attributed, sightings: Iterable[Sighting]) -> list[Evidence]:
    """An attributed search: items of that mailbox whose known subject matches are flagged.

    Not limited to items seen before the search: an item's first mention in the log is not
    when it arrived, so that limit would drop items the search did return."""
    if not rec.operation.startswith("SearchQueryInitiated") or not rec.query or not rec.mailbox:
        return []
    return [Evidence(s.mailbox, s.imid, s.folder, Classification.INFERRED,
                     f"matches search {rec.query!r}", rec.ts, (rec.record_id, s.record_id))
            for s in sightings if s.mailbox == rec.mailbox and subject_matches(rec.query, s.subject)]


# ---- combining ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ItemVerdict:
    """The final row of items.csv for one mailbox item."""

    mailbox: str
    imid: str
    folder: str
    classification: Classification
    reason: str
    first_access: datetime | None
    last_access: datetime | None
    record_ids: tuple[str, ...]


def combine(evidence: Sequence[Evidence]) -> ItemVerdict:
    """One verdict per item: the strongest classification wins; its reasons and record ids
    are listed, weaker reasons follow as 'also: ...' so nothing is hidden."""
    best = max(rank(e.classification) for e in evidence)
    top = [e for e in evidence if rank(e.classification) == best]
    others = [e for e in evidence if rank(e.classification) != best]
    reasons = sorted({e.reason for e in top})
    extra = sorted({f"{e.classification.value}: {e.reason}" for e in others})
    reason = "; ".join(reasons) + (f" (also {'; '.join(extra)})" if extra else "")
    times = sorted(e.time for e in top if e.time is not None)
    folders = sorted({e.folder for e in evidence if e.folder})
    ids = sorted({rid for e in evidence for rid in e.record_ids})
    first = evidence[0]
    return ItemVerdict(first.mailbox, first.imid, folders[0] if folders else "",
                       top[0].classification, reason, times[0] if times else None,
                       times[-1] if times else None, tuple(ids))


def unknown_or_no_evidence(sighting: Sighting, unknown_reasons: Sequence[str]) -> Evidence:
    """An item nobody is shown to have touched: unknown when its mailbox lacked visibility
    during the incident, otherwise no evidence of access."""
    if unknown_reasons:
        return Evidence(sighting.mailbox, sighting.imid, sighting.folder, Classification.UNKNOWN,
                        "; ".join(sorted(set(unknown_reasons))), None, (sighting.record_id,))
    return Evidence(sighting.mailbox, sighting.imid, sighting.folder, Classification.NO_EVIDENCE,
                    "no attributed access recorded", None, (sighting.record_id,))
