"""On-disk record store: one JSONL file per hour plus an index of per-hour counts.

Generation writes an hour once every record that can start in it has been emitted, so memory
holds at most a couple of hours of records; reading streams file by file. Each line starts
with '{"CreationTime":"YYYY-MM-DDTHH:MM:SS"', so range filtering needs no JSON parse.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

_TS = slice(17, 36)  # CreationTime inside '{"CreationTime":"2023-06-01T00:00:00",...'


def hour_name(hour: int) -> str:
    return datetime.fromtimestamp(hour, timezone.utc).strftime("%Y%m%dT%H")


class HourlyWriter:
    """Writes emitted records into hourly files in (time, emission) order.

    Records arrive almost in order: an aggregated Bind record is emitted when its 2-minute
    window closes, carrying the window's start time. A small heap holds them until the
    pipeline's clock guarantees nothing earlier can still come (flush_before), so memory holds
    minutes of records, not hours.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._heap: list[tuple[int, int, str, str]] = []
        self._seq = 0
        self._hour = -1
        self._fh = None
        self._ops: Counter = Counter()
        self._count = 0
        self.index: dict[str, dict] = {}
        self.total = 0

    def add(self, t: int, op: str, line: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, op, line))

    def flush_before(self, t: int) -> None:
        """Write every pending record with CreationTime < t (nothing earlier can follow)."""
        heap = self._heap
        while heap and heap[0][0] < t:
            rt, _, op, line = heapq.heappop(heap)
            hour = rt - rt % 3600
            if hour != self._hour:
                self._open(hour)
            self._fh.write(line)
            self._fh.write("\n")
            self._ops[op] += 1
            self._count += 1

    def close(self) -> None:
        if self._heap:
            self.flush_before(max(r[0] for r in self._heap) + 1)
        self._finish_hour()

    def _finish_hour(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self.index[hour_name(self._hour)] = {"hour": self._hour, "total": self._count,
                                                 "by_operation": dict(sorted(self._ops.items()))}
            self.total += self._count

    def _open(self, hour: int) -> None:
        self._finish_hour()
        if hour < self._hour:
            raise RuntimeError("records must be flushed in time order")
        self._hour = hour
        self._ops, self._count = Counter(), 0
        self._fh = open(self.root / f"{hour_name(hour)}.jsonl", "x", encoding="utf-8",  # noqa: SIM115 - held open across writes; _finish_hour closes it
                        newline="\n")

    def write_index(self, start: int, end: int) -> None:
        doc = {"format": "evkit-emulator-records/1", "start": start, "end": end,
               "total": self.total, "hours": dict(sorted(self.index.items()))}
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.root / "index.json")


class RecordStore:
    """Reads what HourlyWriter wrote: streaming ranges and fast counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        doc = json.loads((root / "index.json").read_text(encoding="utf-8"))
        self.hours: dict[int, dict] = {v["hour"]: v for v in doc["hours"].values()}
        self.total: int = doc["total"]

    def _hours(self, start: int, end: int) -> Iterable[int]:
        first = start - start % 3600
        for hour in sorted(h for h in self.hours if first <= h < end):
            yield hour

    def lines(self, start: datetime, end: datetime,
              operations: Iterable[str] | None = None) -> Iterator[str]:
        """Raw JSON lines with start <= CreationTime < end, ascending."""
        s, e = _epoch(start), _epoch(end)
        lo, hi = _ct(s), _ct(e)
        ops = set(operations) if operations else None
        for hour in self._hours(s, e):
            meta = self.hours[hour]
            if ops is not None and not ops.intersection(meta["by_operation"]):
                continue
            whole = hour >= s and hour + 3600 <= e
            with open(self.root / f"{hour_name(hour)}.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    if not whole:
                        ts = line[_TS]
                        if ts < lo or ts >= hi:
                            continue
                    if ops is not None and _op(line) not in ops:
                        continue
                    yield line.rstrip("\n")

    def count(self, start: datetime, end: datetime,
              operations: Iterable[str] | None = None) -> int:
        s, e = _epoch(start), _epoch(end)
        ops = set(operations) if operations else None
        total = 0
        for hour in self._hours(s, e):
            meta = self.hours[hour]
            if hour >= s and hour + 3600 <= e:
                total += meta["total"] if ops is None else sum(
                    n for op, n in meta["by_operation"].items() if op in ops)
            else:
                hs = datetime.fromtimestamp(max(hour, s), timezone.utc)
                he = datetime.fromtimestamp(min(hour + 3600, e), timezone.utc)
                total += sum(1 for _ in self.lines(hs, he, ops))
        return total


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("record ranges need aware datetimes (UTC)")
    return int(value.timestamp()) + (1 if value.microsecond else 0)


def _ct(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _op(line: str) -> str:
    i = line.find('"Operation":"')
    if i < 0:
        return ""
    j = line.find('"', i + 13)
    return line[i + 13:j]
