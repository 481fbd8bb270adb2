"""Progress bars per source (tqdm): windows, records and bytes; silent with --quiet.

Bars redraw with cursor escapes, so they are drawn only on a terminal; into a file or pipe
(scripts, CI logs) each source gets one plain line when the run ends instead."""

from __future__ import annotations

import sys
import threading
from typing import Any

from tqdm import tqdm


class Progress:
    """One bar per source whose postfix carries records and bytes; disabled when quiet."""

    def __init__(self, quiet: bool, stream: Any = None) -> None:
        self._quiet = quiet
        self._stream = stream or sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self._interactive = bool(isatty and isatty())
        self._done: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._bars: dict[str, Any] = {}
        self._counts: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def _bar(self, source: str) -> Any:
        bar = self._bars.get(source)
        if bar is None:
            bar = self._bars[source] = tqdm(total=0, desc=f"{source:9s}", unit=" units", file=self._stream,
                                            disable=self._quiet or not self._interactive, position=len(self._bars),
                                            leave=True, mininterval=0.5, dynamic_ncols=True)
            self._counts[source] = [0, 0]
        return bar

    def add_units(self, source: str, count: int) -> None:
        with self._lock:
            bar = self._bar(source)
            bar.total += count
            self._totals[source] = self._totals.get(source, 0) + count
            bar.refresh()

    def unit_done(self, source: str, count: int = 1) -> None:
        with self._lock:
            self._bar(source).update(count)
            self._done[source] = self._done.get(source, 0) + count

    def records(self, source: str, count: int) -> None:
        self._tally(source, 0, count)

    def bytes(self, source: str, count: int) -> None:
        self._tally(source, 1, count)

    def _tally(self, source: str, slot: int, count: int) -> None:
        with self._lock:
            bar = self._bar(source)
            self._counts[source][slot] += count
            records, size = self._counts[source]
            bar.set_postfix_str(f"{records:,} records, {size / 1e6:,.1f} MB", refresh=False)

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            if self._quiet or self._interactive:
                return
            for source, (records, size) in self._counts.items():
                print(f"{source}: {self._done.get(source, 0)}/{self._totals.get(source, 0)} units, "
                      f"{records:,} records, {size / 1e6:,.1f} MB", file=self._stream, flush=True)
