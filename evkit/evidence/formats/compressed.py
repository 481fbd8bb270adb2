"""Exports handed over gzip-compressed (`audit.csv.gz`): read inflated, as a stream, with a cap.

The stored file stays the compressed bytes as handed over; every reader (detection, the
import's summary, the report) inflates it again as it reads, never whole into memory. gzip
files of several members (`cat a.gz b.gz`) are read as one text, as `gunzip` does. A stream
that inflates to more than MAX_RATIO times its stored size (never less than MIN_CAP) is
refused as damaged or hostile: audit exports compress about 10 to 13 times.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
MAX_RATIO = 200
MIN_CAP = 64 << 20
# what a damaged gzip stream raises: a bad header (OSError), a cut stream (EOFError) or bad
# deflate data (zlib.error, which is neither)
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


class CompressedInputError(ValueError):
    """A gzip-compressed export is damaged or inflates beyond its cap (the reason says which)."""


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def inflate_cap(stored_size: int) -> int:
    """The most a gzip file of `stored_size` bytes may inflate to."""
    return max(MIN_CAP, stored_size * MAX_RATIO)


class _Inflated(io.RawIOBase):
    """The inflated bytes of a gzip file, counted against the cap; damage and the cap raise
    CompressedInputError naming the file."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this stream
        self._stream = gzip.GzipFile(fileobj=self._file, mode="rb")
        self._cap = inflate_cap(Path(path).stat().st_size)
        self._read = 0
        self._name = Path(path).name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            n = self._stream.readinto(buffer)
        except _GZIP_ERRORS as exc:
            raise CompressedInputError(f"{self._name}: the gzip data is damaged after {self._read:,} "
                                       f"inflated byte(s): {exc}") from None
        self._read += n
        if self._read > self._cap:
            raise CompressedInputError(
                f"{self._name}: inflates to more than {MAX_RATIO} times its size ({self._cap >> 20} MiB); "
                "not read further (damaged or hostile)")
        return n

    def close(self) -> None:
        try:
            self._stream.close()
            self._file.close()
        finally:
            super().close()


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes as a reader would take them: inflated when the file is gzip-compressed."""
    if is_gzip(path):
        return io.BufferedReader(_Inflated(Path(path)), buffer_size=1 << 16)
    return open(path, "rb")     # the caller owns (and closes) it


def gzip_damage(path: Path) -> str | None:
    """Why the gzip file at `path` cannot be read to its end (damage, or the cap), or None."""
    try:
        with open_binary(path) as handle:
            while handle.read(1 << 20):
                pass
    except CompressedInputError as exc:
        return str(exc)
    return None


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of what the file holds (inflated when compressed)."""
    with open_binary(path) as handle:
        return handle.read(size)


__all__ = ["GZIP_MAGIC", "MAX_RATIO", "CompressedInputError", "gzip_damage", "inflate_cap", "is_gzip", "open_binary",
           "read_head"]
