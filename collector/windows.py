"""Time windows: initial chunking of the collection window and halving on overflow.

Pure functions, so the splitting policy (which decides whether a record can be lost at the
Search-UnifiedAuditLog caps) is tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from evkit.times import format_compact, format_iso, parse_iso_utc


@dataclass(frozen=True, slots=True, order=True)
class TimeWindow:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeWindow needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError(f"empty window {self.start} .. {self.end}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def unit(self) -> str:
        """The directory name of this window's pages: YYYYMMDDTHHMMSSZ_YYYYMMDDTHHMMSSZ."""
        return f"{format_compact(self.start)}_{format_compact(self.end)}"

    def to_json(self) -> dict[str, str]:
        return {"start": format_iso(self.start), "end": format_iso(self.end)}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> "TimeWindow":
        return cls(parse_iso_utc(data["start"]), parse_iso_utc(data["end"]))

    def halves(self) -> tuple["TimeWindow", "TimeWindow"]:
        """Split in two at a whole second (the API's date resolution)."""
        middle = self.start + timedelta(seconds=int(self.seconds // 2))
        return TimeWindow(self.start, middle), TimeWindow(middle, self.end)

    def pieces(self, count: int, min_seconds: float) -> list["TimeWindow"]:
        """Cut into `count` consecutive pieces at whole seconds, none shorter than `min_seconds`
        (fewer pieces when the window is too short for `count`); always at least two when the
        window can be halved at all."""
        whole = int(self.seconds)
        count = max(2, min(count, int(whole // max(min_seconds, 1))))
        step = whole // count
        cuts = [self.start + timedelta(seconds=step * k) for k in range(count)] + [self.end]
        return [TimeWindow(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]

    def can_split(self, min_seconds: float) -> bool:
        return self.seconds / 2 >= min_seconds and self.seconds >= 2


def chunk(window: TimeWindow, size: timedelta) -> list[TimeWindow]:
    """Cut a window into consecutive pieces of at most `size`, aligned to the window start."""
    if size <= timedelta(0):
        raise ValueError("chunk size must be positive")
    pieces, cursor = [], window.start
    while cursor < window.end:
        end = min(cursor + size, window.end)
        pieces.append(TimeWindow(cursor, end))
        cursor = end
    return pieces
