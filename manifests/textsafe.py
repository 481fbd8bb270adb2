"""Terminal-safe text: the one escaper for file names and evidence strings shown to a person.

A file name or record field comes from the evidence, so whoever made the evidence chose it: a
carriage return or an ANSI escape in it could overwrite a verdict line on the screen ("invalid"
redrawn as "valid"). Every human-facing line that carries such a string passes it through
`safe_text`, which keeps printable text and spells every control or invisible formatting
character as a visible escape (`\\r`, `\\x1b`, `\\u202e`). The backslash itself is doubled so an
escape in the output can always be told apart from one the name really contained.
Machine output (`--json`) needs no escaping: JSON encodes control characters itself.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Cc control, Cf format (bidi overrides, zero-width), Cs lone surrogates (from undecodable
# bytes), Co private use, Cn unassigned, Zl/Zp line and paragraph separators.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe_text(s: str) -> str:
    """s with every control/invisible character escaped; printable text (any script) kept."""
    text = str(s)
    if text.isprintable() and "\\" not in text:
        return text   # the common case: nothing to do
    return "".join(_escape(c) if c in _NAMED or unicodedata.category(c) in _UNSAFE_CATEGORIES else c
                   for c in text)
