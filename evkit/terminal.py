"""Text for a terminal: strings from file names and evidence are shown, never obeyed.

A file name or an evidence field can hold escape sequences (colours, cursor moves, a fake
prompt, a title change), carriage returns that overwrite the line, or bidirectional overrides
that display a name backwards. Everything evkit prints that may carry such a string goes
through `safe_text` first.
"""

from __future__ import annotations

import unicodedata

# Control (Cc), format (Cf: bidi overrides, zero-width joiners), surrogate (Cs), unassigned (Cn)
# and private-use (Co) characters, and the Unicode line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(value: object) -> str:
    """`str(value)` on one line with every control or invisible formatting character escaped.

    Newline, carriage return and tab become `\\n`, `\\r`, `\\t`; other such characters become
    `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`. Printable text, including non-Latin scripts, is unchanged.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # fast path: isprintable() is False for every unsafe character
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch
                   for ch in text)
