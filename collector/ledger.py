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
# a `skipped` entry's extra field naming the configured source that collects its period instead
# (mgmt's part older than 7 days, with `ual` collected): stated, but not a gap of the collection
COVERED_BY = "covered_by"


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


def covered(entry: LedgerEntry) -> bool:
    """A `skipped` entry whose period another configured source collects (its own entries say how
    that went): it does not make the collection incomplete."""
    return entry.status == SKIPPED and bool(entry.extra.get(COVERED_BY))


def summarise(entries: list[LedgerEntry]) -> list[str]:
    """One plain line per entry that is not complete (nor `covered`), for the exit-4 summary;
    consecutive windows of one source with the same status and reason (the last day's `pending`
    ual windows) share a line that names the first and last and how many."""
    return _lines([e for e in entries if e.status != COMPLETE and not covered(e)])


def notes(entries: list[LedgerEntry]) -> list[str]:
    """The `covered` skips, one line each, printed after a complete collection's summary."""
    return _lines([e for e in entries if covered(e)])


def _lines(entries: list[LedgerEntry]) -> list[str]:
    lines: list[str] = []
    run: list[LedgerEntry] = []
    for entry in sorted(entries, key=lambda e: (e.source, e.unit)):
        if run and not _continues(run[-1], entry):
            lines.append(_line(run))
            run = []
        run.append(entry)
    if run:
        lines.append(_line(run))
    return lines


def _continues(last: LedgerEntry, entry: LedgerEntry) -> bool:
    return (entry.source, entry.status, entry.reason) == (last.source, last.status, last.reason) \
        and last.window is not None and entry.window is not None and last.window.get("end") == entry.window.get("start")


def _line(run: list[LedgerEntry]) -> str:
    first = run[0]
    if len(run) == 1:
        counts = f"received {first.received}" + (f" of {first.expected}" if first.expected is not None else "")
        return f"{first.source} {first.unit}: {first.status} ({counts}){': ' + first.reason if first.reason else ''}"
    received = sum(e.received for e in run)
    return (f"{first.source} {first.unit} .. {run[-1].unit} ({len(run)} windows): {first.status} "
            f"(received {received}){': ' + first.reason if first.reason else ''}")
