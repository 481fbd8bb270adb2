"""PowerShell-mangled values: what `Export-Csv` and shallow `ConvertTo-Json` leave behind.

When a nested object passes through PowerShell formatting it becomes its type name
(`System.Object[]`, `System.Collections.Hashtable`, `Microsoft.Exchange....AuditRecord`) or a
hashtable rendering (`@{Name=MailAccessType; Value=Bind}`). The data behind it is gone; the
import must say so per row and column rather than pass the text off as a value.
"""

from __future__ import annotations

import re
from typing import Iterator

_TYPE_NAME = re.compile(
    r"^(?:Deserialized\.)?(?:System|Microsoft\.(?:Exchange|Office|Online|Graph|PowerShell))"
    r"\.[A-Za-z0-9_.`+]+(?:\[[A-Za-z0-9_.`+, \[\]]*\])?$")
_HASHTABLE = re.compile(r"^@\{[^=]*=.*\}$", re.S)
_MARKERS = ("System.", "@{", "Microsoft.")
SUSPECT = _MARKERS + ("\ufffd",)       # substrings worth a closer look


def mangled_reason(value: str) -> str | None:
    """Why `value` is a PowerShell rendering rather than data, or None when it is not."""
    if "\ufffd" in value:
        return "bytes that are not valid in the file's encoding were replaced (U+FFFD)"
    text = value.strip()
    if not text or not any(m in text for m in _MARKERS):
        return None
    if _TYPE_NAME.match(text):
        return f"PowerShell-mangled cell {_short(text)!r} (a type name, the data is lost)"
    if _HASHTABLE.match(text):
        return f"PowerShell-mangled cell {_short(text)!r} (a hashtable rendering, structure lost)"
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def find_mangled(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, reason) for every mangled string inside a parsed record, e.g. `Folders[0].Path`."""
    if isinstance(value, str):
        reason = mangled_reason(value)
        if reason:
            yield path or "(value)", reason
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_mangled(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_mangled(item, f"{path}[{i}]")
