"""Canonical JSON bytes as every evkit file uses them: sort_keys, compact, ASCII, one trailing LF."""

from __future__ import annotations

import json
from typing import Any


def canonical(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")
