"""On-disk record store: one JSONL file per hour plus an index of per-hour counts.

Generation writes an hour once every record that can start in it has been emitted, so memory
holds at most a couple of hours of records; reading streams file by file. Each line starts
with '{"CreationTime":"YYYY-MM-DDTHH:MM:SS"', so range filtering needs no JSON parse.
"""

from __future__ import annotations

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
    """Buffers emitted records per hour and writes whole hours in (time, emission) order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._pending: dict[int, list[tuple[int, int, str]]] = {}
        self._ops: dict[int, Counter] = {}
        self._seq = 0
        self.index: dict[str, dict] = {}
        self.total = 0

    def add(self, t: int, op: str, line: str) -> None:
        hour = t - t % 3600
        self._seq += 1
        bucket = self._pending.get(hour)
        if bucket is None:
            bucket = self._pending[hour] = []
            self._ops[hour] = Counter()
        bucket.append((t, self._seq, line))
        self._ops[hour][op] += 1

    def flush_before(self, t: int) -> None:
        """Write every pending hour that ends at or before t."""
        for hour in sorted(h for h in self._pending if h + 3600 <= t):
            self._write(hour)

    def close(self) -> None:
        for hour in sorted(self._pending):
            self._write(hour)

    def _write(self, hour: int) -> None:
        rows = self._pending.pop(hour)
        ops = self._ops.pop(hour)
        rows.sort()
        name = hour_name(hour)
        path = self.root / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(r[2] for r in rows))
            fh.write("\n")
        self.index[name] = {"hour": hour, "total": len(rows), "by_operation": dict(sorted(ops.items()))}
        self.total += len(rows)

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
