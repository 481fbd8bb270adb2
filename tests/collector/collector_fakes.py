"""Test doubles for collector unit tests: a static token provider, an in-memory bundle and a
tiny Search-UnifiedAuditLog service behind a fake transport (no network)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from evkit.collector.client import ApiClient, RawReply
from evkit.collector.config import parse_config
from evkit.collector.evidence import EvidenceStore
from evkit.collector.progress import Progress
from evkit.collector.retry import RetryPolicy
from evkit.collector.sources.base import SourceContext
from evkit.collector.state import RunState

T0 = datetime(2023, 6, 1, tzinfo=timezone.utc)


class StaticTokens:
    def __init__(self) -> None:
        self.invalidated: list[str] = []
        self.issued = 0

    def token(self, scope: str) -> str:
        self.issued += 1
        return f"tok-{self.issued}"

    def invalidate(self, scope: str) -> None:
        self.invalidated.append(scope)


class MemoryBundle:
    """The BundleWriter calls the collector makes, in memory; refuses rewrites like the real one."""

    def __init__(self, disk: Path | None = None) -> None:
        self.disk = disk  # also mirror files under disk/ (what EvidenceStore.read_back reads)
        self.files: dict[str, bytes] = {}
        self.state: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    def write(self, relpath: str, data: bytes) -> None:
        assert relpath not in self.files, f"rewrite of {relpath}"
        self.files[relpath] = bytes(data)
        if self.disk is not None:
            (self.disk / relpath).parent.mkdir(parents=True, exist_ok=True)
            (self.disk / relpath).write_bytes(data)

    def exists(self, relpath: str) -> bool:
        return relpath in self.files

    def write_state(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))

    def log_event(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def config_dict(**collection: Any) -> dict[str, Any]:
    coll = {"window": ["2023-06-01T00:00:00Z", "2023-06-03T00:00:00Z"], "sources": ["ual"]}
    coll.update(collection)
    return {
        "case": {"id": "IR-1", "examiner": "examiner@firm.example"},
        "tenant": {"id": "00000000-0000-0000-0000-0000000000aa", "domain": "contoso.onmicrosoft.com",
                   "endpoints": {"exchange": "https://fake/exchange", "graph": "https://fake/graph",
                                 "manage": "https://fake/manage", "authority_host": "https://fake/login"}},
        "auth": {"method": "secret", "client_id": "11111111-1111-1111-1111-111111111111",
                 "client_secret_env": "SECRET"},
        "collection": coll,
        "tuning": {"concurrency": 2, "ual_window_hours": 24, "ual_min_split_seconds": 60},
    }


class FakeUal:
    """Search-UnifiedAuditLog with ReturnLargeSet sessions over a list of (time, id) records."""

    def __init__(self, records: list[tuple[datetime, str]], *, cap: int, restart_sessions: int = 0,
                 always_over: tuple[datetime, datetime] | None = None) -> None:
        self.records = sorted(records)
        self.cap = cap
        self.sessions: dict[str, int] = {}
        self.calls = 0
        self.restart_sessions = restart_sessions  # spoil page 2 of this many sessions
        self.always_over = always_over
        self.separators = (",", ":")  # adminapi's compact JSON; (", ", ": ") exercises the slow path

    def __call__(self, method: str, url: str, headers: Any, data: bytes | None, timeout: float) -> RawReply:
        self.calls += 1
        params = json.loads(data)["CmdletInput"]["Parameters"]
        start = datetime.fromisoformat(params["StartDate"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["EndDate"].replace("Z", "+00:00"))
        hits = [r for r in self.records if start <= r[0] < end]
        count = len(hits)
        if self.always_over and start < self.always_over[1] and self.always_over[0] < end:
            count = self.cap + 1
        done = self.sessions.get(params["SessionId"], 0)
        size = int(params["ResultSize"])
        page = hits[done:min(done + size, self.cap)]
        self.sessions[params["SessionId"]] = done + len(page)
        rows = [{"Identity": rid, "ResultIndex": done + i + 1, "ResultCount": count,
                 "AuditData": json.dumps({"Id": rid, "CreationTime": t.isoformat()})}
                for i, (t, rid) in enumerate(page)]
        if self.restart_sessions and rows and done == size:
            self.restart_sessions -= 1
            rows = [dict(r, ResultIndex=-1, ResultCount=0) for r in rows]
        body = json.dumps({"@odata.context": "x", "@adminapi.warnings": [], "value": rows},
                          separators=self.separators).encode()
        return RawReply(200, {"Date": "Thu, 01 Jun 2023 00:00:00 GMT"}, body)


def make_ctx(transport: Any, tmp: Path | None = None, bundle: MemoryBundle | None = None,
             concurrency_one: bool = False, **collection: Any) -> tuple[SourceContext, MemoryBundle]:
    bundle = bundle or MemoryBundle()
    data = config_dict(**collection)
    if concurrency_one:
        data["tuning"]["concurrency"] = 1
    cfg = parse_config(data, Path(tmp or "/nonexistent") / "collect.toml")
    client = ApiClient(StaticTokens(), ca_bundle=None, policy=RetryPolicy(attempts=4), sleep=lambda s: None,
                       transport=transport)
    state = RunState(json.loads(json.dumps(bundle.state)), bundle.write_state)
    ctx = SourceContext(cfg, client, EvidenceStore(bundle, data_dir=bundle.disk), state, Progress(quiet=True),
                        bundle.log_event,
                        sleep=lambda s: None, poll_interval=0)
    return ctx, bundle


def spread(count: int, start: datetime = T0, step: timedelta = timedelta(seconds=20)) -> list[tuple[datetime, str]]:
    return [(start + i * step, f"id-{i:06d}") for i in range(count)]
