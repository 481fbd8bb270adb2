"""Resume state of an open bundle: finished ledger entries, page counters, per-source cursors.

Kept through BundleWriter.write_state (outside data/, atomic), rewritten after every committed
page, so a run killed at any point continues where it stopped: finished units are never fetched
again, and a page whose fetch was not committed is fetched again under the same name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from evkit.collector.ledger import LedgerEntry

SCHEMA = "evkit.collect-state/1"
LAZY_BATCH = 50        # lazily finished units persisted together (many small per-mailbox units)
LAZY_SECONDS = 2.0


class RunState:
    """Thread-safe view over the resume-state dict; every mutation is persisted at once."""

    def __init__(self, data: dict[str, Any], persist: Callable[[dict[str, Any]], None]) -> None:
        data.setdefault("schema", SCHEMA)
        data.setdefault("ledger", {})
        data.setdefault("pages", {})
        data.setdefault("sources", {})
        self._data = data
        self._persist = persist
        self._lock = threading.RLock()
        self._pending = 0
        self._last = time.monotonic()

    @property
    def data(self) -> dict[str, Any]:
        return self._data

    def save(self) -> None:
        with self._lock:
            self._save()

    # ledger -------------------------------------------------------------------------------
    def finished(self, source: str, unit: str) -> LedgerEntry | None:
        with self._lock:
            raw = self._data["ledger"].get(f"{source}/{unit}")
            return LedgerEntry.from_json(raw) if raw is not None else None

    def finish(self, entry: LedgerEntry, *, update: Callable[[dict[str, Any]], None] | None = None,
               lazy: bool = False) -> None:
        """Record a unit as done (and apply any cursor change) in one persisted step.

        `lazy` units (small, many: one per mailbox) are persisted in batches; one that a crash
        caught unpersisted is simply asked again on resume, its first answer kept as evidence.
        """
        with self._lock:
            self._data["ledger"][entry.key] = entry.to_json()
            if update is not None:
                update(self._data["sources"])
            self._save_or_defer(lazy)

    def _save_or_defer(self, lazy: bool) -> None:
        if lazy:
            self._pending += 1
            if self._pending < LAZY_BATCH and time.monotonic() - self._last < LAZY_SECONDS:
                return
        self._save()

    def forget(self, keys: list[str]) -> list[LedgerEntry]:
        """Remove the entries of units read again (a resumed window now read in other units, so
        its earlier entry would contradict theirs); returns what was removed, for the events log."""
        with self._lock:
            gone = [LedgerEntry.from_json(self._data["ledger"].pop(k)) for k in keys if k in self._data["ledger"]]
            if gone:
                self._save()
            return gone

    def flush(self) -> None:
        """Persist lazily finished units now."""
        with self._lock:
            if self._pending:
                self._save()

    def _save(self) -> None:
        self._persist(self._data)
        self._pending = 0
        self._last = time.monotonic()

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return [LedgerEntry.from_json(v) for v in self._data["ledger"].values()]

    # pages --------------------------------------------------------------------------------
    def page(self, source: str, unit: str) -> int:
        """The number the next page of this unit gets (1-based)."""
        with self._lock:
            return int(self._data["pages"].get(f"{source}/{unit}", 1))

    def commit_page(self, source: str, unit: str, number: int, *,
                    update: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Page `number` is stored and accounted for: the next one gets number + 1."""
        with self._lock:
            self._data["pages"][f"{source}/{unit}"] = number + 1
            if update is not None:
                update(self._data["sources"])
            self._save()

    # per-source cursors -------------------------------------------------------------------
    def section(self, source: str) -> dict[str, Any]:
        with self._lock:
            return self._data["sources"].setdefault(source, {})

    def update(self, change: Callable[[dict[str, Any]], None], *, lazy: bool = False) -> None:
        """Apply a cursor change and persist it (`lazy`: with the next save, as `finish` does)."""
        with self._lock:
            change(self._data["sources"])
            self._save_or_defer(lazy)
