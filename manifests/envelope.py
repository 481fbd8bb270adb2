"""Reading a bundle's own files without trusting the bundle: no symlinks, no special files, caps.

A bundle comes from someone else, so any name in it may be a symbolic link (to /dev/zero, to a
file outside the bundle), a FIFO that blocks the first reader forever, or a device. Every file the
verifier reads is opened here: each folder on the way is opened with O_NOFOLLOW relative to the
previous one (so a symlinked `data/` or `custody/` is refused, not followed), the file itself is
lstat-ed and refused unless it is a regular file before it is opened (a device is never opened),
then opened with O_NOFOLLOW|O_NONBLOCK and fstat-ed again (nothing swapped in between), and
read to at most its cap (+1 byte to tell "at the cap" from "over it").
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

KIB, MIB = 1 << 10, 1 << 20

# Size caps of envelope files (bytes). Far above what evkit writes; they only bound memory.
CAP_SMALL = 64 * KIB          # keys, signatures, bagit.txt
CAP_TEXT = 4 * MIB            # bag-info.txt, tag manifests, VERIFY.md, one custody record
CAP_COLLECTION = 256 * MIB    # data/collection.json (the completeness ledger grows with sources)
CAP_MANIFEST = 1024 * MIB     # a payload manifest: about 100 bytes per payload file
CAP_LINE = 16 * MIB           # one line of data/events.log

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class EnvelopeError(Exception):
    """A bundle file that cannot be read safely; `problem` is one of the PROBLEMS."""

    PROBLEMS = ("missing", "symlink", "special", "too-large", "unreadable")

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "special"


def _describe(kind: str) -> str:
    return {"symlink": "is a symbolic link (never followed)",
            "special": "is a special file (FIFO, device or socket; never opened)",
            "dir": "is a folder, not a file"}.get(kind, f"is a {kind}")


def _open_parent(root: Path, parts: list[str]) -> int:
    """An fd of the folder holding parts[-1], every step opened without following links."""
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        walked = []
        for part in parts[:-1]:
            walked.append(part)
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                raise EnvelopeError("missing", f"{'/'.join(walked)}/ is missing") from None
            kind = _kind(info.st_mode)
            if kind != "dir":
                problem = kind if kind in ("symlink", "special") else "unreadable"
                raise EnvelopeError(problem, f"{'/'.join(walked)} {_describe(kind)}")
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def entry_kind(root: Path, rel: str) -> str:
    """"missing", "file", "dir", "symlink" or "special" for root/rel, never following a link
    (a link anywhere on the way counts as "symlink", a special file as "special")."""
    parts = rel.split("/")
    try:
        fd = _open_parent(Path(root), parts)
    except EnvelopeError as exc:
        return exc.problem if exc.problem in ("symlink", "special", "missing") else "special"
    except OSError:
        return "missing"
    try:
        return _kind(os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "special"
    finally:
        os.close(fd)


def open_envelope(root: Path, rel: str) -> BinaryIO:
    """root/rel opened for binary reading; EnvelopeError unless it is a regular file reached
    without following any link."""
    parts = rel.split("/")
    try:
        parent = _open_parent(Path(root), parts)
    except OSError as exc:
        raise EnvelopeError("unreadable", f"{rel}: cannot open: {exc.strerror or exc}") from None
    try:
        try:
            info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            raise EnvelopeError("missing", f"{rel} is missing") from None
        kind = _kind(info.st_mode)
        if kind != "file":
            raise EnvelopeError(kind if kind in ("symlink", "special") else "unreadable",
                                f"{rel} {_describe(kind)}")
        fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
    except EnvelopeError:
        raise
    except OSError as exc:
        raise EnvelopeError("unreadable", f"{rel}: cannot open: {exc.strerror or exc}") from None
    finally:
        os.close(parent)
    if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped between lstat and open
        os.close(fd)
        raise EnvelopeError("special", f"{rel} {_describe('special')}")
    os.set_blocking(fd, True)
    return io.open(fd, "rb", buffering=1 << 16)


def read_envelope(root: Path, rel: str, cap: int) -> bytes:
    """The bytes of root/rel (see open_envelope), at most cap bytes; EnvelopeError otherwise."""
    chunks: list[bytes] = []
    total = 0
    with open_envelope(root, rel) as handle:
        try:   # in chunks: read(cap + 1) would reserve the whole cap up front
            while total <= cap and (chunk := handle.read(min(1 << 20, cap + 1 - total))):
                chunks.append(chunk)
                total += len(chunk)
        except OSError as exc:
            raise EnvelopeError("unreadable", f"{rel}: cannot read: {exc.strerror or exc}") from None
    if total > cap:
        raise EnvelopeError("too-large", f"{rel} is larger than {cap} bytes (the limit for this file)")
    return b"".join(chunks)
