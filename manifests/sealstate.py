"""Whether a bundle directory is open, sealed, or neither: the one rule every reader uses.

Sealing commits with a single rename: `bagit.txt` is the last file moved into the bundle root,
after every other tag file, the signatures, keys/, VERIFY.md and custody/0001 are written and
fsynced. So the state follows from two names, checked without following symlinks:

- `bagit.txt` present: **sealed** (the commit happened). An open-state folder still beside it
  is the leftover of a clean-up a crash cut short: it holds only the writer's resume state and
  temp files, never evidence, and is removed by `remove_leftover` (`evkit collect --resume`).
- no `bagit.txt`, open-state folder present: **open** (never sealed); `--resume` finishes it.
- neither: not an evkit bundle (or a damaged one).

Light on purpose (no cryptography import): the verifier and custody use it too.
"""

from __future__ import annotations

import os
import shutil
from enum import StrEnum
from pathlib import Path

from evkit.manifests.layout import BAGIT_TXT, OPEN_DIR


class SealState(StrEnum):
    MISSING = "missing"
    OPEN = "open"
    SEALED = "sealed"


def seal_state(root: Path) -> SealState:
    """The state of the bundle directory at root (see the module docstring)."""
    root = Path(root)
    if os.path.lexists(root / BAGIT_TXT):
        return SealState.SEALED
    if os.path.lexists(root / OPEN_DIR):
        return SealState.OPEN
    return SealState.MISSING


def has_leftover(root: Path) -> bool:
    """True when a sealed bundle still carries the open-state folder of its writer."""
    root = Path(root)
    return seal_state(root) is SealState.SEALED and os.path.lexists(root / OPEN_DIR)


def fsync_dir(path: Path) -> None:
    """Make the directory entries of path durable (renames, creations, removals in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftover(root: Path) -> bool:
    """Remove the open-state folder left beside a completed seal; True when one was removed.

    Does nothing to a bundle that is not sealed (its open-state folder is its resume state).
    """
    root = Path(root)
    if not has_leftover(root):
        return False
    leftover = root / OPEN_DIR
    if leftover.is_symlink() or not leftover.is_dir():
        leftover.unlink()
    else:
        shutil.rmtree(leftover)
    fsync_dir(root)
    return True
