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
    """Search-UnifiedAuditLog over a list of (time, id) records, as the `current` or `legacy`
    service answers it (docs/emulator-fidelity.md): non-session calls give the newest ResultSize
    rows; ReturnLargeSet sessions page through at most `cap` rows. Current: ResultCount is the
    ResultSize given and truncation shows in moreRecordsAvailable and a warning.

    Spoilers: `empty_first` answers the first N calls empty with a warning; `foreign` adds a row
    dated outside the window to the first answer; `repeat` repeats a row in every answer;
    `restart_sessions` spoils page 2 of that many sessions with ResultIndex -1."""

    def __init__(self, records: list[tuple[datetime, str]], *, cap: int = 50, service: str = "current",
                 restart_sessions: int = 0, always_over: tuple[datetime, datetime] | None = None,
                 empty_first: int = 0, foreign: int = 0, repeat: bool = False) -> None:
        self.records = sorted(records)
        self.cap = cap
        self.service = service
        self.sessions: dict[str, int] = {}
        self.calls = 0
        self.restart_sessions = restart_sessions
        self.always_over = always_over
        self.empty_first = empty_first
        self.foreign = foreign
        self.repeat = repeat
        self.timeouts: list[float] = []
        self.params: list[dict[str, Any]] = []
        self.separators = (",", ":")  # adminapi's compact JSON; (", ", ": ") exercises the slow path

    def _row(self, t: datetime, rid: str, index: int, count: int, more: bool | None) -> dict[str, Any]:
        row: dict[str, Any] = {"CreationDate": t.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000Z",
                               "AuditData": json.dumps({"Id": rid, "CreationTime": t.isoformat()}),
                               "ResultIndex": index, "ResultCount": count, "Identity": rid}
        if more is not None:
            row["AuditSearchRequestMetadata"] = {"moreRecordsAvailable": more}
        return row

    def __call__(self, method: str, url: str, headers: Any, data: bytes | None, timeout: float) -> RawReply:
        self.calls += 1
        self.timeouts.append(timeout)
        self.params.append(json.loads(data)["CmdletInput"]["Parameters"])
        params = json.loads(data)["CmdletInput"]["Parameters"]
        start = datetime.fromisoformat(params["StartDate"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["EndDate"].replace("Z", "+00:00"))
        hits = [r for r in self.records if start <= r[0] < end]
        total = len(hits)
        if self.always_over and start < self.always_over[1] and self.always_over[0] < end:
            total = max(total, 10**6)
        size = int(params["ResultSize"])
        current = self.service == "current"
        warnings: list[str] = []
        if self.empty_first > 0:
            self.empty_first -= 1
            return self._reply([], ["Failed to process request: The task was canceled."])
        session = params.get("SessionId")
        if session:
            done = self.sessions.get(session, 0)
            page = hits[done:min(done + size, self.cap)]
            self.sessions[session] = done + len(page)
            more = (done + len(page) < min(total, self.cap)) if current else None
            count = size if current else total
            rows = [self._row(t, rid, done + i + 1, count, more) for i, (t, rid) in enumerate(page)]
            if self.restart_sessions and rows and done == size:
                self.restart_sessions -= 1
                rows = [dict(r, ResultIndex=-1, ResultCount=0) for r in rows]
        else:
            newest = list(reversed(hits[-size:]))
            more = total > size if current else None
            count = size if current else total
            rows = [self._row(t, rid, i + 1, count, more) for i, (t, rid) in enumerate(newest)]
            if more:
                warnings.append("There are more results available than are currently displayed.")
        if self.foreign > 0:
            self.foreign -= 1
            rows.append(self._row(start - timedelta(days=3), "foreign-row", len(rows) + 1, len(rows) + 1, None))
        if self.repeat and rows:
            rows.append(dict(rows[0]))
        return self._reply(rows, warnings)

    def _reply(self, rows: list[dict[str, Any]], warnings: list[str]) -> RawReply:
        body = json.dumps({"@odata.context": "x", "@adminapi.warnings": warnings, "value": rows},
                          separators=self.separators).encode()
        return RawReply(200, {"Date": "Thu, 01 Jun 2023 00:00:00 GMT"}, body)


def make_ctx(transport: Any, tmp: Path | None = None, bundle: MemoryBundle | None = None,
             concurrency_one: bool = False, tuning: dict[str, Any] | None = None,
             **collection: Any) -> tuple[SourceContext, MemoryBundle]:
    bundle = bundle or MemoryBundle()
    data = config_dict(**collection)
    data["tuning"].update(tuning or {})
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


def collected_ids(bundle: MemoryBundle) -> set[str]:
    """Every record id in the accepted answers stored in the bundle (what the report will read)."""
    ids: set[str] = set()
    for path, data in bundle.files.items():
        if path.startswith("raw/ual/") and path.endswith(".json") and not path.endswith(".meta.json"):
            meta = json.loads(bundle.files[path[:-5] + ".meta.json"])
            if meta.get("status") == 200:
                ids.update(row["Identity"] for row in json.loads(data)["value"])
    return ids


def ledger(bundle: MemoryBundle) -> list[dict[str, Any]]:
    """The bundle's ledger entries, by unit."""
    return sorted(bundle.state["ledger"].values(), key=lambda e: e["unit"])


def truth(records: list[tuple[datetime, str]]) -> set[str]:
    """The ids a `spread` of records holds: what a complete collection must end with."""
    return {rid for _, rid in records}
