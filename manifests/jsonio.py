"""Canonical JSON bytes as every evkit file uses them: sort_keys, compact, ASCII, one trailing LF."""

from __future__ import annotations

import json
from typing import Any


def canonical(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


class JsonShapeError(ValueError):
    """Bytes that are not the JSON value expected (malformed, nested too deep, wrong shape)."""


def loads_untrusted(data: bytes | str) -> Any:
    """Parse JSON from a bundle: every failure, deep nesting included, is a JsonShapeError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise JsonShapeError("JSON nested too deeply") from None
    except (ValueError, TypeError) as exc:   # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JsonShapeError(f"not valid JSON ({str(exc).splitlines()[0][:120]})") from None


def loads_object(data: bytes | str) -> dict[str, Any]:
    """loads_untrusted, and the value must be a JSON object."""
    value = loads_untrusted(data)
    if not isinstance(value, dict):
        raise JsonShapeError(f"a JSON {type(value).__name__ if value is not None else 'null'} "
                             "where an object is expected")
    return value
