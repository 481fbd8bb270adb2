"""Pure helpers: windows, retry policy, ledger summary, evidence naming."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from collector_fakes import MemoryBundle

from evkit.collector.client import Exchange
from evkit.collector.evidence import EvidenceStore, safe_name, scrub_url, subject_name
from evkit.collector.ledger import LedgerEntry, summarise
from evkit.collector.retry import RetryPolicy, parse_retry_after
from evkit.collector.windows import TimeWindow, chunk

T = datetime(2023, 6, 1, tzinfo=timezone.utc)


def test_chunk_and_halves_cover_the_window_exactly() -> None:
    whole = TimeWindow(T, T + timedelta(hours=50))
    parts = chunk(whole, timedelta(hours=24))
    assert [p.seconds for p in parts] == [86400, 86400, 7200]
    assert parts[0].start == whole.start and parts[-1].end == whole.end
    left, right = TimeWindow(T, T + timedelta(seconds=61)).halves()
    assert left.end == right.start and left.seconds == 30 and right.seconds == 31
    assert parts[0].unit == "20230601T000000Z_20230602T000000Z"
    assert not TimeWindow(T, T + timedelta(seconds=90)).can_split(60)
    assert TimeWindow(T, T + timedelta(seconds=120)).can_split(60)
    with pytest.raises(ValueError):
        TimeWindow(T, T)


def test_backoff_is_exponential_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base=1.0, cap=8.0, rng=random.Random(7))
    delays = [policy.delay(n) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(3, retry_after=4.0) == 4.0
    assert policy.delay(1, retry_after=10_000) == policy.retry_after_cap
    assert policy.exhausted(5) and not policy.exhausted(4)


def test_retry_after_forms() -> None:
    now = datetime(2023, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Thu, 01 Jun 2023 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_summary_lists_only_incomplete_units() -> None:
    entries = [LedgerEntry("ual", "a", expected=5, received=5, unique_ids=5, status="complete"),
               LedgerEntry("ual", "b", expected=60000, received=50000, status="capped", reason="over the cap")]
    lines = summarise(entries)
    assert lines == ["ual b: capped (received 50000 of 60000): over the cap"]
    assert LedgerEntry.from_json(entries[1].to_json()) == entries[1]


def test_summary_gives_consecutive_windows_alike_one_line() -> None:
    def w(a: int, b: int) -> dict[str, str]:
        return {"start": f"2023-06-02T{a:02d}:00:00Z", "end": f"2023-06-02T{b:02d}:00:00Z"}
    late = "events after 2023-06-02T10:00:00Z may not be in the audit log yet"
    entries = [LedgerEntry("ual", f"w{h:02d}", w(h, h + 1), received=3, status="pending", reason=late)
               for h in range(10, 20)]
    entries += [LedgerEntry("ual", "w20", w(20, 21), received=5000, status="capped", reason="more exist"),
                LedgerEntry("ual", "w09", w(9, 10), received=7, status="complete")]
    assert summarise(entries) == [f"ual w10 .. w19 (10 windows): pending (received 30): {late}",
                                  "ual w20: capped (received 5000): more exist"]


def _exchange(status: int = 200, body: bytes = b"{}", rejected: str | None = None, attempt: int = 1) -> Exchange:
    return Exchange("POST", "https://h/x?code=abc&a=1", {"CmdletInput": {}}, status,
                    {"Date": "Thu, 01 Jun 2023 00:00:02 GMT", "request-id": "r1", "Set-Cookie": "s"},
                    body, T, attempt, rejected)


def test_evidence_sidecar_and_rejected_attempts() -> None:
    bundle = MemoryBundle()
    store = EvidenceStore(bundle)
    store.store("ual", "u", "p000001", "ual.page", _exchange(503, b"busy", "HTTP 503"), {"k": 1})
    store.store("ual", "u", "p000001", "ual.page", _exchange(attempt=2), {"k": 1})
    assert set(bundle.files) == {"raw/ual/u/p000001.a1.json", "raw/ual/u/p000001.a1.meta.json",
                                 "raw/ual/u/p000001.json", "raw/ual/u/p000001.meta.json"}
    retried = json.loads(bundle.files["raw/ual/u/p000001.a1.meta.json"])
    assert retried["kind"] == "http.retried" and retried["rejected"] == "HTTP 503"
    side = json.loads(bundle.files["raw/ual/u/p000001.meta.json"])
    assert side["kind"] == "ual.page" and side["attempt"] == 2 and side["status"] == 200
    assert side["headers"] == {"Date": "Thu, 01 Jun 2023 00:00:02 GMT", "request-id": "r1"}
    assert side["url"] == "https://h/x?code=REDACTED&a=1"
    assert side["server_date_utc"] == "2023-06-01T00:00:02Z" and side["body_size"] == 2
    assert store.clock.to_json()["offset_seconds"] == 2.0 and store.clock.samples == 2
    # a page fetched again after a crash never overwrites the earlier copy
    store.store("ual", "u", "p000001", "ual.page", _exchange(), {})
    assert "raw/ual/u/p000001.r2.meta.json" in bundle.files


def test_safe_name() -> None:
    assert safe_name("2017$abc$audit_sharepoint$x y") == "2017_abc_audit_sharepoint_x_y"
    assert safe_name("alice@contoso.com") == "alice_contoso.com"
    assert safe_name("-x") == "x"
    assert scrub_url("https://h/p") == "https://h/p"
    assert subject_name("plain.name") == "plain.name"
    assert subject_name("a+b@x") != subject_name("a_b@x") and subject_name("A@x") == subject_name("a@x")


def test_lazy_units_are_persisted_in_batches_and_on_flush() -> None:
    from evkit.collector.state import LAZY_BATCH, RunState
    saved: list[dict] = []
    state = RunState({}, lambda data: saved.append(json.loads(json.dumps(data))))
    for n in range(LAZY_BATCH - 1):
        state.finish(LedgerEntry("config", f"Get-MailboxFolderStatistics/m{n}", status="complete"), lazy=True)
    assert not saved  # nothing written yet: a crash now means asking those mailboxes again
    state.finish(LedgerEntry("config", "Get-MailboxFolderStatistics/last", status="complete"), lazy=True)
    assert len(saved) == 1 and len(saved[-1]["ledger"]) == LAZY_BATCH
    state.finish(LedgerEntry("config", "Get-MailboxFolderStatistics/more", status="complete"), lazy=True)
    state.flush()
    assert len(saved[-1]["ledger"]) == LAZY_BATCH + 1
    state.finish(LedgerEntry("ual", "w", status="complete"))
    assert len(saved[-1]["ledger"]) == LAZY_BATCH + 2  # ordinary units are durable at once


def test_progress_writes_no_cursor_escapes_into_a_file_but_one_line_per_source() -> None:
    import io

    from evkit.collector.progress import Progress

    stream = io.StringIO()  # not a terminal: a log file or a pipe
    progress = Progress(quiet=False, stream=stream)
    for source in ("ual", "config"):
        progress.add_units(source, 3)
        progress.unit_done(source)
        progress.records(source, 1234)
    progress.close()
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert text.splitlines() == ["ual: 1/3 units, 1,234 records, 0.0 MB", "config: 1/3 units, 1,234 records, 0.0 MB"]
    quiet = io.StringIO()
    Progress(quiet=True, stream=quiet).close()
    assert quiet.getvalue() == ""


def test_read_back_never_follows_a_body_file_outside_its_folder(tmp_path) -> None:
    bundle = MemoryBundle(disk=tmp_path)
    store = EvidenceStore(bundle, data_dir=tmp_path)
    store.store("graph", "q1", "p000001", "graph.records", _exchange(body=b'{"value": []}'), {})
    (tmp_path / "raw" / "graph" / "outside.json").write_bytes(b'{"value": ["planted"]}')
    crafted = {"kind": "graph.records", "status": 200, "body_file": "../outside.json"}
    (tmp_path / "raw" / "graph" / "q1" / "p000002.meta.json").write_text(json.dumps(crafted))
    assert [body for _, body in store.read_back("graph", "q1", "graph.records")] == [b'{"value": []}']
