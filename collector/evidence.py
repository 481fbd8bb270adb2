"""Writes every HTTP response into the bundle: the body byte for byte plus its sidecar.

Layout and sidecar fields are fixed by docs/evidence-layout.md. A response the client
rejected and retried (error status, truncated or unreadable body) is stored too, as
`<name>.a<attempt>` with kind `http.retried`, so nothing that arrived is lost and readers
never take its bytes for records. Evidence files are never rewritten: when a crash left a
page whose fetch was not committed to the resume state, the page fetched again on resume is
stored beside it as `<name>.r2` (`.r3`...); both are genuine responses, and readers
de-duplicate records on their Id.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from evkit.collector.client import Exchange
from evkit.evidence.layout import RAW_DIR
from evkit.evidence.raw import read_page_body
from evkit.evidence.sidecars import SIDECAR_SUFFIX, is_success, read_page_sidecar
from evkit.times import format_iso, parse_http_date

SIDECAR_HEADERS = ("Date", "request-id", "client-request-id")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SECRET_PARAMS = {"code", "client_secret", "access_token", "token", "sig", "signature"}


class BundleSink(Protocol):
    """The part of manifests.bundle.BundleWriter the evidence store needs."""

    def write(self, relpath: str, data: bytes) -> Any: ...

    def exists(self, relpath: str) -> bool: ...


def safe_name(value: str) -> str:
    """A path component from an arbitrary id: every character outside [A-Za-z0-9._-] becomes _."""
    name = _UNSAFE.sub("_", value).lstrip("-.") or "_"
    return name[:150]


def subject_name(value: str) -> str:
    """A per-subject unit name (mailbox, user): lower-cased safe name, plus 8 hex digits of the
    value's SHA-256 when characters had to be replaced, so two subjects never share a unit."""
    lowered = value.lower()
    name = safe_name(lowered)
    if name == lowered:
        return name
    return f"{name[:140]}-{hashlib.sha256(lowered.encode('utf-8')).hexdigest()[:8]}"


def scrub_url(url: str) -> str:
    """The URL without query parameters that could carry a secret."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v if k.lower() not in _SECRET_PARAMS else "REDACTED")
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="$:/,")))


class ClockSampler:
    """Offset of the local clock against the servers' Date headers (server minus local)."""

    def __init__(self, total: float = 0.0, samples: int = 0) -> None:
        self.total, self.samples = total, samples
        self._lock = threading.Lock()

    def add(self, server: datetime, local: datetime) -> None:
        with self._lock:
            self.total += (server - local).total_seconds()
            self.samples += 1

    def to_json(self) -> dict[str, Any]:
        offset = round(self.total / self.samples, 3) if self.samples else None
        return {"offset_seconds": offset, "samples": self.samples, "basis": "server Date headers",
                "resolution_seconds": 1}


@dataclass(frozen=True, slots=True)
class Stored:
    relpath: str
    size: int
    sha256: str


class EvidenceStore:
    """Turns Exchanges into raw files + sidecars under data/raw/<source>/<unit>/."""

    def __init__(self, sink: BundleSink, *, compress: bool = False,
                 on_bytes: Callable[[str, int], None] | None = None,
                 clock: ClockSampler | None = None, data_dir: Path | None = None) -> None:
        self._sink = sink
        self._data_dir = data_dir
        self._compress = compress
        self._on_bytes = on_bytes
        self.clock = clock or ClockSampler()

    def put_file(self, relpath: str, data: bytes) -> None:
        """A file of the run's own (not an API answer) under data/, written once: a resumed run
        finds it there and leaves it as it was."""
        if not self._sink.exists(relpath):
            self._sink.write(relpath, data)

    def recorder(self, source: str, unit: str, name: str, kind: str,
                 context: dict[str, Any] | None = None) -> Callable[[Exchange], None]:
        """A hook for ApiClient.request that stores each response under this name."""
        def record(exchange: Exchange) -> None:
            self.store(source, unit, name, kind, exchange, context or {})
        return record

    def store(self, source: str, unit: str, name: str, kind: str, exchange: Exchange,
              context: dict[str, Any]) -> Stored:
        if exchange.rejected is not None:
            name, kind = f"{name}.a{exchange.attempt}", "http.retried"
        folder = f"{RAW_DIR}/{source}/{unit}"
        name = self._free_name(folder, name)
        body = exchange.body
        if self._compress:
            digest = hashlib.sha256(body).hexdigest()
            stored_body, encoding, body_file = gzip.compress(body, 6, mtime=0), "gzip", f"{name}.json.gz"
            self._sink.write(f"{folder}/{body_file}", stored_body)
        else:
            encoding, body_file = "identity", f"{name}.json"
            written = self._sink.write(f"{folder}/{body_file}", body)
            # the writer hashed the bytes on their way to disk: no second pass over large pages
            digest = getattr(written, "sha256", None) or hashlib.sha256(body).hexdigest()
        server_date = parse_http_date(exchange.header("Date"))
        if server_date is not None:
            self.clock.add(server_date, exchange.received_utc)
        sidecar = {
            "kind": kind, "source": source, "method": exchange.method, "url": scrub_url(exchange.url),
            "request_body": exchange.request_body, "status": exchange.status,
            "headers": {h: v for h in SIDECAR_HEADERS if (v := exchange.header(h)) is not None},
            "received_utc": format_iso(exchange.received_utc),
            "server_date_utc": format_iso(server_date) if server_date else None,
            "body_file": body_file, "body_size": len(body), "body_sha256": digest,
            "stored_encoding": encoding, "attempt": exchange.attempt, "context": context,
        }
        if exchange.rejected is not None:
            sidecar["rejected"] = exchange.rejected
        self._sink.write(f"{folder}/{name}{SIDECAR_SUFFIX}", dump_json(sidecar))
        if self._on_bytes is not None:
            self._on_bytes(source, len(body))
        return Stored(f"{folder}/{body_file}", len(body), digest)

    def read_back(self, source: str, unit: str, kind: str) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Stored 2xx responses of one unit and kind (sidecar, body), for recounting on resume."""
        if self._data_dir is None:
            return
        folder = self._data_dir / RAW_DIR / source / unit
        if not folder.is_dir():
            return
        for meta_path in sorted(folder.glob("*" + SIDECAR_SUFFIX)):
            try:
                sidecar, body_path = read_page_sidecar(meta_path)
            except ValueError:
                continue
            if sidecar.get("kind") != kind or not is_success(sidecar):
                continue
            if not body_path.is_file():
                continue
            yield sidecar, read_page_body(sidecar, body_path)

    def _free_name(self, folder: str, name: str) -> str:
        """`name`, or `name.rN` when an earlier (uncommitted) fetch already used it."""
        candidate, n = name, 1
        while any(self._sink.exists(f"{folder}/{candidate}{suffix}")
                  for suffix in (SIDECAR_SUFFIX, ".json", ".json.gz")):
            n += 1
            candidate = f"{name}.r{n}"
        return candidate


def dump_json(data: Any) -> bytes:
    """evkit's JSON convention: UTF-8, sorted keys, compact separators, one trailing newline."""
    return (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")

