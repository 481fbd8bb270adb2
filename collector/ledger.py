"""The completeness ledger (docs/collection.md §3): one entry per (source, unit), stated as data.

The report turns every entry that is not `complete` into a visibility gap, so an entry is
never dropped and never says `complete` unless the API's own count was met.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COMPLETE, CAPPED, FAILED, SKIPPED = "complete", "capped", "failed", "skipped"
# content the service may not have made available yet (docs/emulator-fidelity.md, Management API)
PENDING = "pending"
STATUSES = (COMPLETE, CAPPED, FAILED, SKIPPED, PENDING)


@dataclass(slots=True)
class LedgerEntry:
    """What one unit (a window, a content type, a cmdlet) yielded, against what the API said."""

    source: str
    unit: str
    window: dict[str, str] | None = None
    expected: int | None = None
    received: int = 0
    unique_ids: int = 0
    retries: int = 0
    status: str = FAILED
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown ledger status {self.status!r}")

    @property
    def key(self) -> str:
        return f"{self.source}/{self.unit}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LedgerEntry":
        known = {k: data[k] for k in ("source", "unit", "window", "expected", "received",
                                       "unique_ids", "retries", "status", "reason") if k in data}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**known, extra=extra)


def summarise(entries: list[LedgerEntry]) -> list[str]:
    """One plain line per entry that is not complete, for the exit-4 summary."""
    lines = []
    for entry in sorted(entries, key=lambda e: (e.source, e.unit)):
        if entry.status == COMPLETE:
            continue
        counts = f"received {entry.received}" + (f" of {entry.expected}" if entry.expected is not None else "")
        lines.append(f"{entry.source} {entry.unit}: {entry.status} ({counts}){': ' + entry.reason if entry.reason else ''}")
    return lines
