"""Streaming file hashing on all cores.

hashlib releases the GIL while it digests buffers larger than 2 KiB and file reads release it
too, so a thread pool keeps every core busy without the copying cost of processes. Each worker
reuses one 256 KiB buffer, and at most a small window of files is in flight: memory stays bounded
however many files a bundle holds.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 18   # 256 KiB: the buffer stays in L2 between read() and hashing (1 MiB+ was slower)


@dataclass
class FileDigest:
    """Size and hex digests of one file, or the OSError text that stopped reading it."""

    key: str
    size: int = 0
    digests: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def hash_file(path: Path, algorithms: Sequence[str] = ("sha256",), key: str = "") -> FileDigest:
    """Read path once, feeding every requested algorithm; never raises OSError."""
    hashers = [hashlib.new(name) for name in algorithms]
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    try:
        with open(path, "rb", buffering=0) as handle:
            while True:
                n = handle.readinto(buf)
                if not n:
                    break
                size += n
                chunk = view[:n]
                for hasher in hashers:
                    hasher.update(chunk)
    except OSError as exc:
        return FileDigest(key, error=exc.strerror or str(exc))
    return FileDigest(key, size, {name: h.hexdigest() for name, h in zip(algorithms, hashers)})


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def hash_files(items: Iterable[tuple[str, Path]], algorithms: Sequence[str] = ("sha256",),
               workers: int | None = None, stop: threading.Event | None = None) -> Iterator[FileDigest]:
    """Hash (key, path) pairs in parallel; yields FileDigest in completion order.

    Setting `stop` makes it finish the files in flight and submit no more.
    """
    workers = workers or default_workers()
    window = workers * 4
    pending: set[Future[FileDigest]] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evkit-hash") as pool:
        for key, path in items:
            if stop is not None and stop.is_set():
                break
            pending.add(pool.submit(hash_file, path, algorithms, key))
            if len(pending) >= window:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
