"""Text encoding of an evidence file, decided from its first bytes (BOM or NUL pattern).

Client exports arrive as UTF-8 (Purview, Sentinel), UTF-8 with BOM (Excel "CSV UTF-8") or
UTF-16 with BOM (Excel "Unicode text", PowerShell 5 `Out-File`); the bytes say which (the
inflated bytes, when the file is gzip-compressed).
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import BinaryIO, TextIO

from evkit.evidence.formats.compressed import open_binary, read_head

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be")


def sniff_encoding(head: bytes) -> str:
    """Return one of ENCODINGS for a file starting with `head` (at least 4 bytes when available)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    # UTF-16 without a BOM: ASCII text shows a NUL in every other byte.
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0:
        return "utf-16-be"
    return "utf-8"


_BOMS = {"utf-8-sig": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE,
         "utf-16-be": codecs.BOM_UTF16_BE}


def file_encoding(path: Path) -> str:
    """The encoding of the file at `path` (of what it holds, when gzip-compressed)."""
    return sniff_encoding(read_head(path, 4))


def open_text(path: Path, encoding: str | None = None, *, newline: str | None = "",
              errors: str = "strict") -> TextIO:
    """Open `path` as a decoded text stream with any BOM skipped; strict, so bad bytes surface.
    A gzip-compressed file is inflated as it is read (formats.compressed)."""
    head = read_head(path, 4)
    enc = encoding or sniff_encoding(head)
    bom = _BOMS.get(enc, b"")
    raw: BinaryIO = open_binary(path)
    try:
        if bom and head.startswith(bom):
            raw.read(len(bom))
        codec = "utf-8" if enc == "utf-8-sig" else enc
        return io.TextIOWrapper(raw, encoding=codec, errors=errors, newline=newline)
    except BaseException:
        raw.close()
        raise
