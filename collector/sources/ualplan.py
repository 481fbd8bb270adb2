"""Which `ual` window to read next: lanes read backwards, each window sized from what the
answers before it showed (pure: no I/O, so the policy is tested and replayed without a network).

Completeness never rests on anything here: every window is judged on its own answer
(collector/sources/ual.py). This module only decides sizes, so that few answers are full
(a full answer is read again) and few are far under the cap (each call costs a round trip).

* The collection window is cut into lanes, one per call in flight. A lane is read from its
  newest end backwards, one window at a time, so each window begins where the answer that
  sizes it ended.
* A lane's first window spans the lane, at most `max_seconds`: a sparse lane is done in one
  call; a dense one answers full, and that answer is the density probe for the lane's end.
* A full answer holds the newest rows of its window (docs/emulator-fidelity.md UAL-7; the
  cmdlet reference: only session paging returns unsorted data). When its rows are in that
  order, the window is read again from the second after its oldest row: that part held every
  row of the answer but those of the oldest second, so it should be just under the cap. When
  they are not in that order, or the shorter window is full again, the window is halved.
* Every finished window adds its rows to a time-of-day profile (records per second in each
  DAY_BUCKET of the UTC day; per bucket the busiest day read so far, so a quiet weekend does
  not hide a busy weekday). A window is sized so that the profile, scaled by how the lane's
  last windows compared with it, expects FILL of the cap: audit volume follows the working
  day, so this foresees the hourly bursts, the morning rise and the evening fall. After a full
  answer, or when the lane's scale is beyond UNDER..OVER, the profile sizes nothing for it.
* Otherwise the lane's own density sizes the window (records per second from its last
  window's start to its newest row, pooled with the window before when both were short and
  alike), at most GROWTH times longer than that window.
* After an empty window, or one whose oldest part held no row (a quiet stretch begins), the next
  is as long as allowed (or the lane's scale drops EMPTY_GROWTH times): an empty window takes
  two calls to prove, an oversized one costs one call more and then sizes the next exactly.
* A lane that runs out takes over the older half of the lane with the most left, so every call
  slot stays busy until the end.

The lanes (what is not yet cut) are kept in the resume state with the windows cut but not
finished (`pending`); a resumed run reads each pending window as a lane of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evkit.collector.windows import TimeWindow
from evkit.times import format_iso, parse_iso_utc

FILL = 0.88           # windows are sized to hold about this share of the cap
GROWTH = 8.0          # the most a window grows after one holding rows
EMPTY_GROWTH = 8.0    # how much less dense than the profile a lane is taken to be after an empty window
QUIET_SHARE = 0.25    # a window whose oldest quarter held no row ...
QUIET_GAPS = 20.0     # ... and that is longer than 20 average gaps between its rows, ends a busy stretch
UNDER, OVER = 1 / 8, 2.0  # a lane's scale outside these bounds: the profile does not size its windows
BASELINE = 3600.0     # a window shorter than this is sized from it and the window before it
SHARE_WINDOWS = 3.0   # a lane is shared only when more than this many windows are left in it
DAY = 86400
DAY_BUCKET = 300      # the profile's resolution: five minutes of the day


_HOURS: dict[str, float] = {}


def _epoch(created: str) -> float | None:
    """Seconds since the epoch of a `YYYY-MM-DDTHH:MM:SS` CreationDate (UTC), None when it is no
    such date; hours are cached, since a window's thousands of rows share a few."""
    hour = _HOURS.get(created[:13])
    try:
        if hour is None:
            if len(_HOURS) > 100_000:
                _HOURS.clear()
            hour = _HOURS[created[:13]] = parse_iso_utc(created[:13] + ":00:00Z").timestamp()
        minutes, seconds = int(created[14:16]), int(created[17:19])
    except ValueError:
        return None
    return hour + minutes * 60 + seconds if minutes < 60 and seconds < 60 else None


class Profile:
    """Records per second at each DAY_BUCKET of the (UTC) day: for each bucket the busiest day
    read so far (an upper envelope, so a quiet weekend does not hide a busy weekday); a lane's
    scale sets the level."""

    def __init__(self) -> None:
        self.days: list[dict[int, list[float]]] = [{} for _ in range(DAY // DAY_BUCKET)]  # day -> [count, seconds]
        self.rates: list[float | None] = [None] * (DAY // DAY_BUCKET)

    @staticmethod
    def _spans(start: float, end: float) -> list[tuple[int, int, float]]:
        """(day, bucket, seconds of overlap) for [start, end)."""
        out, t = [], start
        while t < end:
            edge = min(end, (t // DAY_BUCKET + 1) * DAY_BUCKET)
            out.append((int(t // DAY), int(t % DAY // DAY_BUCKET), edge - t))
            t = edge
        return out

    def learn(self, window: TimeWindow, created: list[float]) -> None:
        touched = set()
        for day, bucket, seconds in self._spans(window.start.timestamp(), window.end.timestamp()):
            self.days[bucket].setdefault(day, [0.0, 0.0])[1] += seconds
            touched.add(bucket)
        for t in created:
            bucket = int(t % DAY // DAY_BUCKET)
            self.days[bucket].setdefault(int(t // DAY), [0.0, 0.0])[0] += 1
        for bucket in touched:
            seen = [count / cover for count, cover in self.days[bucket].values() if cover >= DAY_BUCKET / 2]
            self.rates[bucket] = max(seen) if seen else None

    def expected(self, window: TimeWindow) -> float | None:
        """The records the profile expects in `window`, or None where it has not seen all of it."""
        total = 0.0
        for _, bucket, seconds in self._spans(window.start.timestamp(), window.end.timestamp()):
            rate = self.rates[bucket]
            if rate is None:
                return None
            total += rate * seconds
        return total

    def reach(self, end: float, target: float, floor: float, longest: float) -> float | None:
        """How far back from `end` the profile expects `target` records (seconds, at most
        `longest`, not before `floor`), or None where it runs into a time of day not yet seen."""
        t, total = end, 0.0
        stop = max(floor, end - longest)
        while t > stop:
            edge = max(stop, (math.ceil(t / DAY_BUCKET) - 1) * DAY_BUCKET)
            rate = self.rates[int(edge % DAY // DAY_BUCKET)]
            if rate is None:
                return None
            if rate > 0 and total + rate * (t - edge) >= target:
                return end - (t - (target - total) / rate)
            total += rate * (t - edge)
            t = edge
        return end - stop


@dataclass
class Lane:
    """[start, end) not yet cut, read from `end` backwards. `size`: the next window's length when
    a full answer fixed it; `rate`: records per second near `end` (None: unknown, 0: quiet);
    `scale`: the lane's last window against the profile; `last`: that window's length;
    `streak`: full answers in a row at the lane's top."""

    start: datetime
    end: datetime
    size: float | None = None
    rate: float | None = None
    scale: float | None = None
    last: float | None = None
    streak: int = 0
    foreseen: float = 0.0
    busy: TimeWindow | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {"start": format_iso(self.start), "end": format_iso(self.end), "size": self.size,
                "rate": self.rate, "scale": self.scale, "last": self.last, "streak": self.streak}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Lane":
        def number(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) else None
        return cls(parse_iso_utc(data["start"]), parse_iso_utc(data["end"]), number("size"), number("rate"),
                   number("scale"), number("last"), int(data.get("streak", 0)))


def local_rate(window: TimeWindow, times: list[float]) -> float:
    """Records per second from the window's start to its newest row; 0 when the window was empty
    or its oldest part held nothing (a quiet stretch begins)."""
    if not times:
        return 0.0
    start = window.start.timestamp()
    quiet = min(times) - start
    if quiet > QUIET_SHARE * window.seconds and quiet > QUIET_GAPS * window.seconds / len(times):
        return 0.0
    return len(times) / (max(times) + 1 - start)


def _blend(now: float, count: float, before: float | None, before_count: float, seconds: float) -> float:
    """A ratio `now` (from `count` rows) pooled with the lane's previous one `before` (from
    `before_count` rows) when the window was short and the two agree within a factor of two."""
    if before and before_count and seconds < BASELINE and 0.5 < now / before < 2:
        return (count + before_count) / (count / now + before_count / before)
    return now


def size_after_full(window: TimeWindow, created: list[str | None], streak: int, min_seconds: float) -> float:
    """The length to read again after `window` answered full: from the second after the oldest
    row when the rows came newest first (and this is the first full answer in a row), else half."""
    half = max(min_seconds, window.seconds / 2)
    dated = [c for c in created if c is not None]
    if streak > 1 or not dated or any(a < b for a, b in zip(dated, dated[1:])):
        return half
    oldest = _epoch(dated[-1])
    cut = window.end.timestamp() - (oldest + 1) if oldest is not None else 0.0
    if cut < min_seconds or cut >= window.seconds:
        return half
    return cut


class Planner:
    """The lanes of one `ual` collection; not thread-safe (the collector's scheduling thread owns it)."""

    def __init__(self, lanes: list[Lane], cap: int, min_seconds: float, max_seconds: float) -> None:
        self.lanes = lanes
        self.cap = cap
        self.min_seconds = min_seconds
        self.max_seconds = max_seconds
        self.profile = Profile()

    @classmethod
    def split(cls, whole: TimeWindow, count: int, cap: int, min_seconds: float, max_seconds: float,
              boundary: datetime | None = None) -> "Planner":
        """`count` lanes of equal length over `whole` (fewer when it is short). A `boundary`
        inside `whole` is a lane edge: the part after it is a lane of its own, so no window
        read from any lane straddles it (windows never leave their lane)."""
        if boundary is not None and whole.start < boundary < whole.end:
            before = cls.split(TimeWindow(whole.start, boundary), max(1, count - 1), cap, min_seconds, max_seconds)
            return cls([*before.lanes, Lane(boundary, whole.end)], cap, min_seconds, max_seconds)
        count = max(1, min(count, int(whole.seconds // max(2 * min_seconds, 1))))
        step = int(whole.seconds) // count
        cuts = [whole.start + timedelta(seconds=step * k) for k in range(count)] + [whole.end]
        return cls([Lane(a, b) for a, b in zip(cuts, cuts[1:]) if b > a], cap, min_seconds, max_seconds)

    def to_json(self) -> list[dict[str, Any]]:
        return [lane.to_json() for lane in self.lanes if lane.end > lane.start]

    def cut(self) -> TimeWindow | None:
        """The next window to read (marked busy, and cut off its lane), or None when every lane
        left is busy or empty and none is worth sharing."""
        idle = [lane for lane in self.lanes if lane.busy is None and lane.end > lane.start]
        lane = max(idle, key=lambda la: la.seconds) if idle else self._share()
        if lane is None:
            return None
        length = max(self.min_seconds, min(self._length(lane), self.max_seconds))
        start = max(lane.start, lane.end - timedelta(seconds=max(1, int(length))))
        if (start - lane.start).total_seconds() < self.min_seconds:
            start = lane.start  # leave no sliver shorter than the smallest split behind
        window = TimeWindow(start, lane.end)
        lane.end, lane.busy, lane.size = start, window, None
        return window

    def _length(self, lane: Lane) -> float:
        """The next window's length for `lane`: fixed by a full answer, else from the profile at
        the lane's scale, else from the lane's own density, else as long as allowed."""
        if lane.size is not None:
            return lane.size
        if lane.scale is not None:
            target = FILL * self.cap / lane.scale
            reach = self.profile.reach(lane.end.timestamp(), target, lane.start.timestamp(), self.max_seconds)
            if reach is not None:
                return reach
        if not lane.rate:
            return self.max_seconds
        return min(FILL * self.cap / lane.rate, (lane.last or self.max_seconds) * GROWTH)

    def _share(self) -> Lane | None:
        """A new lane: the older half of the busy lane with the most left, when that is worth it."""
        best, most = None, 0.0
        for lane in self.lanes:
            if lane.busy is None or lane.end <= lane.start:
                continue
            windows = lane.seconds / max(min(lane.busy.seconds, self.max_seconds), self.min_seconds)
            if windows > SHARE_WINDOWS and windows > most:
                best, most = lane, windows
        if best is None:
            return None
        middle = best.start + timedelta(seconds=int(best.seconds // 2))
        new = Lane(best.start, middle, scale=best.scale)
        best.start = middle
        self.lanes.append(new)
        return new

    def _lane(self, window: TimeWindow) -> Lane:
        for lane in self.lanes:
            if lane.busy == window:
                return lane
        raise KeyError(f"no lane is reading {window.unit}")

    def complete(self, window: TimeWindow, created: list[str | None]) -> None:
        """`window` is finished (complete or capped) with rows dated `created`."""
        lane = self._lane(window)
        start, end = window.start.timestamp(), window.end.timestamp()
        times = [t for t in (_epoch(c) for c in created if c is not None) if t is not None and start <= t < end]
        expected = self.profile.expected(window)
        self.profile.learn(window, times)
        rate = local_rate(window, times)
        if rate:
            rate = _blend(rate, len(times), lane.rate, (lane.last or 0) * (lane.rate or 0), window.seconds)
        scale = max(len(times), 0.5) / expected if expected else None
        if scale is not None:
            scale = _blend(scale, max(len(times), 0.5), lane.scale, lane.foreseen * (lane.scale or 0), window.seconds)
            scale = scale if rate else scale / EMPTY_GROWTH
        lane.busy, lane.streak, lane.last, lane.rate = None, 0, window.seconds, rate
        lane.foreseen = expected or 0.0
        lane.scale = scale if scale is not None and UNDER <= scale <= OVER else None

    def full(self, window: TimeWindow, created: list[str | None]) -> None:
        """`window` answered full: it goes back to its lane, to be read again shorter, and the
        window after that is sized from the lane's own rows (the profile foresaw too little)."""
        lane = self._lane(window)
        lane.busy, lane.streak, lane.scale = None, lane.streak + 1, None
        lane.end = window.end
        lane.size = size_after_full(window, created, lane.streak, self.min_seconds)

    def failed(self, window: TimeWindow) -> None:
        """`window` failed: it stays pending for a resumed run; its lane goes on below it."""
        lane = self._lane(window)
        lane.busy, lane.streak = None, 0

    def busy(self) -> int:
        return sum(lane.busy is not None for lane in self.lanes)
