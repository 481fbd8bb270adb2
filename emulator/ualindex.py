"""A per-hour index over a scenario's record store, so Search-UnifiedAuditLog serves the stored
JSON lines as they are: counting, filtering on Operation / UserId / RecordType and locating a
page need no JSON parse, and a page's AuditData strings are the stored text itself.

Each hour file is indexed once, at start-up (or on first use): per line its second within the hour, its byte
offset and a small key id naming its (Operation, UserId, RecordType). Key fields are read from
the line's fixed head (the store writes CreationTime, Id, Operation, OrganizationId, RecordType
first) by one regular expression; a line that does not fit, or has an escaped value or more
than one "UserId", is parsed with json instead, so the index always agrees with json.loads.
Memory: 10 bytes a line (about 10 MB per million records) plus one tuple per distinct key.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from array import array
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evkit.emulator.scenarios.store import RecordStore, hour_name

_HEAD = re.compile(rb'\{"CreationTime":"\d{4}-\d\d-\d\dT\d\d:(\d\d:\d\d)","Id":"[^"\\]*",'
                   rb'"Operation":"([^"\\]*)","OrganizationId":"[^"\\]*","RecordType":(\d+)[,}]')
_USER = b'"UserId":'
_USER_STRING = b'"UserId":"'
_SECONDS = {f"{m:02d}:{s:02d}".encode(): m * 60 + s for m in range(60) for s in range(60)}
_ID_AT = 37  # ',"Id":"' follows the 19-character CreationTime and its closing quote
_ID_HEAD = b',"Id":"'

# (Operation, UserId, RecordType) as record.get() returns them, then the lower-cased strings the
# filter compares (str(record.get(name, "")).lower(), as the json path does).
Key = tuple[Any, Any, Any, str, str]


@dataclass
class Hour:
    """One hour file's lines: second in the hour, key id and byte offset (plus the end)."""

    hour: int
    secs: array
    keys: array
    offsets: array

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Line numbers [a, b) with lo <= hour + second < hi (lines are in time order)."""
        a = 0 if lo <= self.hour else bisect.bisect_left(self.secs, lo - self.hour)
        b = len(self.secs) if hi >= self.hour + 3600 else bisect.bisect_left(self.secs, hi - self.hour)
        return a, max(a, b)


def _fast_key(data: bytes, pos: int, end: int) -> tuple[int, tuple[bytes, bytes, bytes]] | None:
    """(second in the hour, raw (Operation, UserId, RecordType) bytes) of the line data[pos:end],
    read from its head without copying it; None when the line needs json (unusual head, escaped
    value, not exactly one string UserId)."""
    m = _HEAD.match(data, pos, end)
    if m is None or m.group(1) not in _SECONDS:
        return None
    u = data.find(_USER_STRING, pos, end)
    if u < 0 or data.rfind(_USER, pos, end) != u:
        return None
    close = data.find(b'"', u + 10, end)
    user = data[u + 10:close]
    if close < 0 or b"\\" in user:
        return None
    return _SECONDS[m.group(1)], (m.group(2), user, m.group(3))


def _json_key(line: bytes) -> tuple[int, Key]:
    record = json.loads(line)
    created = str(record.get("CreationTime", ""))
    sec = int(created[14:16]) * 60 + int(created[17:19])
    return sec, (record.get("Operation"), record.get("UserId"), record.get("RecordType"),
                 str(record.get("Operation", "")).lower(), str(record.get("UserId", "")).lower())


class LineIndex:
    """Hour indexes of one RecordStore, built on demand and kept for the emulator's life."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.key_values: list[Key] = []
        self._key_ids: dict[Key, int] = {}
        self._raw_ids: dict[tuple[bytes, bytes, bytes], int] = {}
        self._hours: dict[int, Hour] = {}
        self._lock = threading.Lock()

    def hours(self, lo: int, hi: int) -> list[int]:
        """Stored hours that may hold lines with lo <= time < hi, ascending."""
        first = lo - lo % 3600
        return sorted(h for h in self.store.hours if first <= h < hi)

    def build_all(self) -> None:
        """Index every hour now (the emulator does this before it reports ready, so serving
        never pays for it)."""
        for hour in sorted(self.store.hours):
            self.hour(hour)

    def hour(self, hour: int) -> Hour:
        with self._lock:
            built = self._hours.get(hour)
        if built is not None:
            return built
        data = (self.store.root / f"{hour_name(hour)}.jsonl").read_bytes()
        secs, keys, offsets = array("H"), array("I"), array("Q")
        with self._lock:  # key ids are shared by all hours; building holds the lock
            built = self._hours.get(hour)
            if built is not None:
                return built
            raw_ids = self._raw_ids
            pos, size = 0, len(data)
            while pos < size:
                end = data.find(b"\n", pos)
                if end < 0:
                    end = size
                if end > pos:
                    offsets.append(pos)
                    fast = _fast_key(data, pos, end)
                    if fast is not None:
                        sec, raw = fast
                        kid = raw_ids.get(raw)
                        if kid is None:
                            op, user = raw[0].decode(), raw[1].decode()
                            kid = raw_ids[raw] = self._key_id((op, user, int(raw[2]), op.lower(), user.lower()))
                    else:
                        sec, key = _json_key(data[pos:end])
                        kid = self._key_id(key)
                    secs.append(sec)
                    keys.append(kid)
                pos = end + 1
            offsets.append(len(data) + (0 if data.endswith(b"\n") else 1))  # where a next line would start
            built = self._hours[hour] = Hour(hour, secs, keys, offsets)
        return built

    def _key_id(self, key: Key) -> int:
        kid = self._key_ids.get(key)
        if kid is None:
            kid = self._key_ids[key] = len(self.key_values)
            self.key_values.append(key)
        return kid

    def read(self, hour: Hour, lines: list[int]) -> list[bytes]:
        """The bytes of the given line numbers of one hour (ascending), in one read."""
        if not lines:
            return []
        first, last = lines[0], lines[-1]
        base = hour.offsets[first]
        with open(self.store.root / f"{hour_name(hour.hour)}.jsonl", "rb") as fh:
            fh.seek(base)
            data = fh.read(hour.offsets[last + 1] - 1 - base)
        offs = hour.offsets
        return [data[offs[i] - base:offs[i + 1] - 1 - base] for i in lines]


class Query:
    """The lines of [lo, hi) whose key passes a filter, counted per hour and located by
    position in time order (what a session's blocks and a one-shot's tail need)."""

    def __init__(self, index: LineIndex, lo: int, hi: int, ops: set[str], users: set[str],
                 record_type: int | None) -> None:
        self.index, self.lo, self.hi = index, lo, hi
        self.ops, self.users, self.record_type = ops, users, record_type
        self._ok = bytearray()
        self.spans: list[tuple[Hour, int, int]] = []
        self.counts: list[int] = []
        for h in index.hours(lo, hi):
            hour = index.hour(h)
            a, b = hour.span(lo, hi)
            if a < b:
                self.spans.append((hour, a, b))
        self._extend()
        ok = self._ok
        everything = all(ok)
        for hour, a, b in self.spans:
            self.counts.append(b - a if everything else sum(map(ok.__getitem__, hour.keys[a:b])))
        self.cumulative = [0]
        for n in self.counts:
            self.cumulative.append(self.cumulative[-1] + n)
        self.total = self.cumulative[-1]

    def _extend(self) -> None:
        values = self.index.key_values
        for kid in range(len(self._ok), len(values)):
            _, _, rt, op, user = values[kid]
            self._ok.append((not self.ops or op in self.ops) and (not self.users or user in self.users)
                            and (self.record_type is None or rt == self.record_type))

    def positions(self, first: int, count: int) -> list[tuple[Hour, int]]:
        """(hour, line number) of matches first .. first+count-1 in time order."""
        out: list[tuple[Hour, int]] = []
        end = min(first + count, self.total)
        if first >= end:
            return out
        slot = bisect.bisect_right(self.cumulative, first) - 1
        skip = first - self.cumulative[slot]
        ok = self._ok
        while len(out) < end - first and slot < len(self.spans):
            hour, a, b = self.spans[slot]
            keys = hour.keys
            for i in range(a, b):
                if ok[keys[i]]:
                    if skip:
                        skip -= 1
                        continue
                    out.append((hour, i))
                    if len(out) == end - first:
                        break
            slot += 1
        return out

    def lines(self, positions: list[tuple[Hour, int]]) -> list[tuple[bytes, int]]:
        """(line bytes, key id) for positions, in the order given; one read per hour touched."""
        by_hour: dict[int, tuple[Hour, list[int]]] = {}
        for hour, i in positions:
            by_hour.setdefault(hour.hour, (hour, []))[1].append(i)
        text: dict[tuple[int, int], bytes] = {}
        for hour, numbers in by_hour.values():
            numbers.sort()
            for i, line in zip(numbers, self.index.read(hour, numbers)):
                text[(hour.hour, i)] = line
        return [(text[(hour.hour, i)], hour.keys[i]) for hour, i in positions]


def line_index(state: Any) -> LineIndex | None:
    """The state's LineIndex, made on first use; None when the scenario has no record store
    (test doubles), whose records then take the json path."""
    store = getattr(state.scenario, "store", None)
    if not isinstance(store, RecordStore):
        return None
    with state.lock:
        if state.ual_index is None:
            state.ual_index = LineIndex(store)
        return state.ual_index


def epoch(value: datetime) -> int:
    """Whole seconds, rounded up (a line at 08:00:00 is before a bound of 08:00:00.5)."""
    return int(value.timestamp()) + (1 if value.microsecond else 0)


def audit_head(line: bytes) -> tuple[bytes, bytes] | None:
    """(CreationTime, Id) read from a stored line's fixed head, or None if it does not fit."""
    if line[36:37] != b'"' or not line.startswith(_ID_HEAD, _ID_AT):
        return None
    end = line.find(b'"', _ID_AT + len(_ID_HEAD))
    rid = line[_ID_AT + len(_ID_HEAD):end]
    if end < 0 or b"\\" in rid:
        return None
    return line[17:36], rid
