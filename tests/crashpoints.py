"""A crash stand-in for tests: every mutating filesystem call counts as one step, and at step N
the process "dies" (`Killed`, a BaseException no product code catches) and stays dead: every
later mutating call raises again, so no clean-up handler can tidy up what a SIGKILL would leave.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

STEPS = ("rename", "replace", "link", "unlink", "remove", "rmdir", "mkdir", "open", "write",
         "fsync", "truncate", "ftruncate")


class Killed(BaseException):
    """Stands for SIGKILL at one filesystem step."""


class CrashInjector:
    """`fast=True` makes fsync a no-op (still a counted step): an exception is no power cut, so
    durability is not what these tests can observe, and thousands of real fsyncs cost minutes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fast: bool = True) -> None:
        self._monkeypatch = monkeypatch
        if fast:
            monkeypatch.setattr(os, "fsync", lambda fd: None)
        self.at: int | None = None
        self.count = 0
        self.dead = False
        self.where = ""
        self.calls: list[str] = []   # every counted step of the last armed block, "name(args)"

    def _wrap(self, name: str):
        real = getattr(os, name)

        def step(*args, **kwargs):
            if self.at is not None:
                self.count += 1
                self.calls.append(f"{name}{tuple(str(a) for a in args[:2])}")
                if self.dead or self.count >= self.at:
                    self.dead = True
                    self.where = self.where or f"{name}{args[:2]}"
                    raise Killed(self.where)
            return real(*args, **kwargs)
        return step

    @contextmanager
    def armed(self, at: int) -> Iterator["CrashInjector"]:
        """Count steps inside the block; die at step `at` (1-based). Restores os afterwards."""
        self.at, self.count, self.dead, self.where, self.calls = at, 0, False, "", []
        with self._monkeypatch.context() as patch:
            for name in STEPS:
                patch.setattr(os, name, self._wrap(name))
            try:
                yield self
            finally:
                self.at = None
