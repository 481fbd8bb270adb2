"""One collection run: open (or resume) the bundle, run the sources, write the record, seal.

Library entry point behind `evkit collect`; the CLI does the pre-flight checks and turns the
outcome into an exit code. The resume state carries everything a killed run needs; the
collection record (data/collection.json) is written once, at sealing.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evkit.collector.client import ApiClient, TokenProvider
from evkit.collector.config import CollectConfig
from evkit.collector.errors import AuthError, BundleError, CollectorError, ConfigError
from evkit.collector.evidence import ClockSampler, EvidenceStore
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry, notes, summarise
from evkit.collector.permissions import missing
from evkit.collector.progress import Progress
from evkit.collector.retry import RetryPolicy
from evkit.collector.sources import SOURCE_MODULES
from evkit.collector.sources.base import SourceContext
from evkit.collector.state import RunState
from evkit import __version__
from evkit.manifests.bundle import BundleWriter
from evkit.manifests.errors import ManifestsError
from evkit.manifests.host import host_info
from evkit.manifests.layout import COLLECTION, DATA
from evkit.manifests.sealstate import SealState, remove_leftover, seal_state
from evkit.manifests.keys import SigningKey
from evkit.times import format_compact, format_iso

logger = logging.getLogger("collector")

LOG_DIR = "logs"


@dataclass(frozen=True)
class RunKind:
    """What makes a run other than a collection: its kind in data/collection.json, what its
    sources read from `ctx.extra`, what a resume must find unchanged, and what it adds to the
    collection record."""

    kind: str = "collect"
    extra: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    bundle: Path
    ledger: list[LedgerEntry]
    incomplete: list[str] = field(default_factory=list)
    already_sealed: bool = False   # --resume found the seal committed by an earlier run
    notes: list[str] = field(default_factory=list)  # skips another source covers (ledger.covered)

    @property
    def complete(self) -> bool:
        return not self.incomplete


def config_fingerprint(cfg: CollectConfig, extra: str = "") -> str:
    """What must not change between a run and its resume: tenant, window, sources, filters (and
    for `evkit resolve`, the digest of the item list in `extra`)."""
    basis = "\n".join([cfg.tenant_id, format_iso(cfg.window_start), format_iso(cfg.window_end), ",".join(cfg.sources),
                       ",".join(cfg.operations), ",".join(cfg.users), cfg.case_id] + ([extra] if extra else []))
    return hashlib.sha256(basis.encode()).hexdigest()


def open_bundle(cfg: CollectConfig, out: Path, *, resume: bool, now: datetime) -> BundleWriter:
    try:
        if resume:
            return BundleWriter.resume(out)
        collection_id = f"{format_compact(now)}-{uuid.uuid4().hex[:8]}"
        return BundleWriter.create(out, case_id=cfg.case_id, collection_id=collection_id)
    except ManifestsError as exc:
        raise BundleError(str(exc)) from exc


class _MemoryLog(logging.Handler):
    """Collects this run's log lines; they go into the bundle as data/logs/collect-NN.log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.buffer = io.StringIO()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.formatter.converter = time.gmtime  # type: ignore[union-attr]

    def emit(self, record: logging.LogRecord) -> None:
        self.buffer.write(self.format(record) + "\n")


def collect(cfg: CollectConfig, out: Path, *, key: SigningKey, tokens: TokenProvider, resume: bool = False,
            quiet: bool = False, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
            sleep: Callable[[float], None] = time.sleep, run: RunKind | None = None) -> RunOutcome:
    """Run (or continue) a collection into `out` and seal it with `key`. `run` makes it another
    kind of run over the same machinery (`evkit resolve`); a collection by default.

    Resuming a bundle whose seal an earlier run committed (a crash may have cut only the
    clean-up after it) finishes that clean-up and reports the sealed collection as it stands.
    """
    started = now()
    if resume and seal_state(Path(out)) is SealState.SEALED:
        return already_sealed(Path(out))
    writer = open_bundle(cfg, out, resume=resume, now=started)
    state = RunState(writer.read_state(), writer.write_state)
    run = run or RunKind()
    fingerprint = config_fingerprint(cfg, run.fingerprint)
    if state.data.get("config_fingerprint", fingerprint) != fingerprint:
        raise ConfigError(f"{cfg.path}: tenant, window, sources, operations or users differ from the run "
                          f"being resumed in {out}; resume with the same config")
    run_no = int(state.data.get("runs", 0)) + 1
    state.data.update(config_fingerprint=fingerprint, runs=run_no)
    state.data.setdefault("started_utc", format_iso(started))
    state.save()
    handler = _MemoryLog()
    logging.getLogger("collector").addHandler(handler)
    logging.getLogger("collector").setLevel(logging.INFO)
    progress = Progress(quiet)
    clock_state = state.data.get("clock", {})
    clock = ClockSampler(float(clock_state.get("total", 0.0)), int(clock_state.get("samples", 0)))
    evidence = EvidenceStore(writer, on_bytes=progress.bytes, clock=clock, data_dir=Path(out) / "data")
    policy = RetryPolicy(attempts=cfg.tuning.retry_budget, base=cfg.tuning.retry_base_seconds)
    client = ApiClient(tokens, ca_bundle=str(cfg.endpoints.ca_bundle) if cfg.endpoints.ca_bundle else None,
                       timeout=cfg.tuning.timeout_seconds, policy=policy, sleep=sleep, now=now)
    log_lock = threading.Lock()

    def log_event(event: str, **fields: Any) -> None:  # BundleWriter's hash chain is single-writer
        with log_lock:
            writer.log_event(event, **fields)
    ctx = SourceContext(cfg, client, evidence, state, progress, log_event, now=now, sleep=sleep,
                        poll_interval=cfg.tuning.poll_seconds, extra=dict(run.extra))
    writer.log_event("collect.resumed" if resume else "collect.started", run=run_no, tool_version=__version__,
                     sources=list(cfg.sources),
                     window={"start": format_iso(cfg.window_start), "end": format_iso(cfg.window_end)})
    logger.info("run %d of collection %s into %s", run_no, writer.collection_id, out)
    try:
        for source in cfg.sources:
            _run_source(ctx, source)
    finally:
        progress.close()
        state.data["clock"] = {"total": clock.total, "samples": clock.samples}
        state.save()
        logging.getLogger("collector").removeHandler(handler)
        _store_log(writer, run_no, handler.buffer.getvalue())
    ledger = sorted(state.entries(), key=lambda e: (e.source, e.unit))
    record = collection_record(cfg, writer, state, ledger, clock, key, finished=now())
    record.update(run.record)
    if run.kind != "collect":  # not a collection: no window of audit evidence to claim
        record.update(kind=run.kind)
        for name in ("window", "operations", "users"):
            record.pop(name, None)
    writer.log_event("collect.finished", units=len(ledger),
                     incomplete=sum(1 for e in ledger if e.status != COMPLETE),
                     cpu_seconds=round(time.process_time(), 3))
    try:
        writer.seal(key, bag_info=bag_info(cfg), collection=record)
    except ManifestsError as exc:
        raise BundleError(f"sealing {out} failed: {exc}") from exc
    return RunOutcome(Path(out), ledger, summarise(ledger), notes=notes(ledger))


def already_sealed(out: Path) -> RunOutcome:
    """The outcome of a sealed bundle, read from its collection record; removes a leftover
    open-state folder (it holds only resume state, never evidence)."""
    try:
        remove_leftover(out)
    except OSError as exc:
        raise BundleError(f"{out} is sealed, but its leftover open-state folder cannot be removed: "
                          f"{exc.strerror or exc}") from None
    path = out / DATA / COLLECTION
    try:
        record = json.loads(path.read_bytes())
        ledger = sorted((LedgerEntry.from_json(e) for e in record["ledger"]), key=lambda e: (e.source, e.unit))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BundleError(f"{out} is already sealed, but {path} cannot be read ({exc}); "
                          f"check the bundle with `evkit verify {out}`") from None
    return RunOutcome(out, ledger, summarise(ledger), already_sealed=True, notes=notes(ledger))


def _run_source(ctx: SourceContext, source: str) -> None:
    module = importlib.import_module(SOURCE_MODULES[source])
    logger.info("source %s: start", source)
    try:
        module.collect(ctx)
    except AuthError as exc:
        # a refused call (permission or role missing) fails this source; the others go on and the
        # run seals incomplete. No token at all (bad credentials) stops the run.
        refused = missing(exc, ctx.config)
        if refused is None:
            raise
        logger.error("source %s failed: %s", source, refused)
        ctx.finish(LedgerEntry(source, "_source", None, None, 0, 0, 0, FAILED, str(refused)))
    except CollectorError as exc:
        logger.error("source %s failed: %s", source, exc)
        ctx.finish(LedgerEntry(source, "_source", None, None, 0, 0, 0, FAILED, str(exc)))
    finally:
        ctx.state.flush()
    logger.info("source %s: done", source)


def _store_log(writer: BundleWriter, run_no: int, text: str) -> None:
    try:
        writer.write(f"{LOG_DIR}/collect-{run_no:02d}.log", text.encode("utf-8"))
    except ManifestsError as exc:  # a log must never cost the evidence
        logger.warning("could not store the run log: %s", exc)


def bag_info(cfg: CollectConfig) -> dict[str, str]:
    return {"Source-Organization": cfg.tenant_domain, "Contact-Email": cfg.examiner,
            "External-Description": f"Microsoft 365 audit evidence for tenant {cfg.tenant_domain}",
            "Evkit-Tenant": cfg.tenant_id, "Evkit-Cloud": cfg.cloud,
            "Evkit-Window": f"{format_iso(cfg.window_start)}/{format_iso(cfg.window_end)}"}


def collection_record(cfg: CollectConfig, writer: BundleWriter, state: RunState, ledger: list[LedgerEntry],
                      clock: ClockSampler, key: SigningKey, *, finished: datetime) -> dict[str, Any]:
    """data/collection.json (docs/evidence-layout.md); the bundle adds the events_log head."""
    return {
        "schema": "evkit.collection/1", "kind": "collect",
        "case_id": cfg.case_id, "collection_id": writer.collection_id,
        "examiner": cfg.examiner, "signer_fingerprint": key.fingerprint,
        "tenant": {"id": cfg.tenant_id, "domain": cfg.tenant_domain, "cloud": cfg.cloud},
        "client_id": cfg.auth.client_id,   # the app that collected: the report never takes it for a lead
        "window": {"start": format_iso(cfg.window_start), "end": format_iso(cfg.window_end)},
        "sources": list(cfg.sources), "operations": list(cfg.operations), "users": list(cfg.users),
        "started_utc": state.data.get("started_utc"), "finished_utc": format_iso(finished.replace(microsecond=0)),
        "runs": state.data.get("runs", 1),
        "clock": clock.to_json(),
        "host": host_info(),
        "ledger": [e.to_json() for e in ledger],
    }
