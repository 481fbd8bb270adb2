"""Nesting depth: records nested deeper than any real audit record are row errors, never a crash.

Python's JSON reader recurses once per level, so a few thousand nested brackets in one cell
raise RecursionError (and a record just under that limit would raise it later, wherever the
record is walked or written again). Audit records nest a handful of levels; anything deeper than
MAX_DEPTH is hostile or damaged and is counted as an unreadable row with this module's reason.
"""

from __future__ import annotations

import json
import re

MAX_DEPTH = 100
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"

_STRUCTURE = re.compile(r'[\[\]{}"]')
_STRING_END = re.compile(r'["\\]')


def loads(text: str) -> object:
    """json.loads, with nesting too deep for Python's reader raised as a JSONDecodeError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(TOO_DEEP, text, 0) from None


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` (parsed JSON) has containers nested more than `limit` levels, walked
    without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def value_end(text: str, pos: int) -> int:
    """Index just past the array or object starting at text[pos], found without recursion;
    -1 when it does not end within `text`."""
    depth = 0
    at = pos
    while True:
        match = _STRUCTURE.search(text, at)
        if match is None:
            return -1
        char = match.group()
        at = match.end()
        if char == '"':
            while True:
                end = _STRING_END.search(text, at)
                if end is None:
                    return -1
                if end.group() == "\\":
                    at = end.end() + 1
                    continue
                at = end.end()
                break
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return at
