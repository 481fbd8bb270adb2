"""Event times: the engine's `ts` comes from the one parser of evidence times
(evkit.times.iso_utc), with a SQL fast path for ISO forms that must agree with it."""

from __future__ import annotations

import csv
import json
from datetime import timezone
from pathlib import Path

import pytest

from bundlekit import mia, write_bundle
from evkit.times import iso_utc, parse_creation_time
from evkit.report.engine.loader import Engine
from evkit.report.engine.sql import fast_time
from evkit.evidence.inventory import scan_bundle

A = "alice@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z")
REPO = Path(__file__).resolve().parents[2]
SENTINEL_EXAMPLE = REPO / "examples" / "imports" / "bec-basic-sentinel-csv.csv"

SAMPLES = [
    "2023-06-01T12:00:00", "2023-06-01T12:00:00Z", "2023-06-01 12:00:00", "2023-06-01T23:59:59.5",
    "2023-06-01T12:00:00.123456Z", "2023-06-01T12:00:00.1234567Z", "2023-06-01T12:00:00.9999999",
    "2023-06-01T12:00:00+02:00", "2023-06-01T12:00:00-0130", "2023-06-01T12:00", "2023-06-01T12:00:00z",
    " 2023-06-01T12:00:00 ", "2024-02-29T00:00:00", "2023-02-29T00:00:00", "2023-02-30T00:00:00",
    "2023-06-01T24:00:00", "2023-06-01T23:60:00", "2023-06-01T23:59:60", "2023-13-01T00:00:00",
    "2023-6-1T12:00:00", "0000-01-01T00:00:00", "2023-06-01", "6/1/2023, 12:00:00.000 PM",
    "6/1/2023 12:00:00 AM", "3/12/2024, 2:02:11.000 PM", "13/1/2023 1:00:00 PM", "/Date(1685620800000)/",
    "\\/Date(1685620800123)\\/", "yesterday", "", "2023-06-01T12:00:00ZZ",
]


def _ts_text(ts) -> str | None:
    if ts is None:
        return None
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{ts.microsecond:06d}Z" if ts.microsecond else "Z")


@pytest.mark.parametrize("text", SAMPLES)
def test_sql_fast_path_agrees_with_the_parser_wherever_it_answers(text):
    with Engine() as e:
        (fast,) = e.rows(f"SELECT {fast_time('s')} FROM (SELECT ?::VARCHAR AS s)", [text])[0]
    if fast is not None:
        assert _ts_text(fast) == iso_utc(text)
    # the forms raw pages carry are all on the fast path
    if text in ("2023-06-01T12:00:00", "2023-06-01T12:00:00Z", "2023-06-01T12:00:00.123456Z"):
        assert fast is not None


def test_every_time_form_gets_the_parsers_time_and_keeps_its_text(tmp_path):
    recs = [mia(f"r{n:03d}", text, A, folders={"\\Inbox": [f"<m{n}@x>"]}) for n, text in enumerate(SAMPLES)]
    recs.append(mia("r-repeat", "6/1/2023, 12:00:00.000 PM", A))  # one parse serves both
    recs.append({k: v for k, v in mia("r-none", "2023-06-01T00:00:00", A).items() if k != "CreationTime"})
    with Engine() as e:
        e.load([scan_bundle(write_bundle(tmp_path / "B", recs, window=WINDOW, page_size=7))])
        got = {rid: (ts, ct) for rid, ts, ct in e.rows("SELECT id, ts, creation_time FROM events")}
        problems = e.rows("SELECT problem FROM problems")
    for rec in recs:
        ts, ct = got[rec["Id"]]
        assert ct == rec.get("CreationTime")  # the record's own text is never rewritten
        assert _ts_text(ts) == (iso_utc(ct) if ct is not None else None), rec["Id"]
    unreadable = sum(1 for r in recs if r.get("CreationTime") is None or iso_utc(r["CreationTime"]) is None)
    assert unreadable > 0
    suffix = " record(s) have no readable CreationTime; never attributed"  # counted per page
    assert all(p.endswith(suffix) for (p,) in problems)
    assert sum(int(p.removesuffix(suffix)) for (p,) in problems) == unreadable


# ---- client exports: Sentinel CSV, through the importer ------------------------------------------

@pytest.fixture(scope="module")
def sentinel_bundle(tmp_path_factory, signing_key):
    exports = pytest.importorskip("evkit.emulator.exports")
    from evkit.collector.importer import import_files

    root = tmp_path_factory.mktemp("sentinel")
    records = exports.sample_records()
    export = root / "officeactivity.csv"
    exports.write_export(records, export, "sentinel-csv")
    bundle = import_files(root / "IMP_C1", case_id="IR-SENT", key=signing_key, files=[export])
    return root, bundle, records


def test_sentinel_csv_import_gets_the_records_times(sentinel_bundle):
    _, bundle, records = sentinel_bundle
    assert "PM" in (bundle / "data" / "imports" / "officeactivity.csv").read_text(encoding="utf-8")
    with Engine() as e:
        e.load([scan_bundle(bundle)])
        got = dict(e.rows("SELECT id, ts FROM events"))
        assert e.rows("SELECT problem FROM problems") == []
    assert set(got) == {r["Id"] for r in records}
    for r in records:
        want = parse_creation_time(r["CreationTime"]).astimezone(timezone.utc).replace(tzinfo=None)
        assert got[r["Id"]] == want


def _report(tmp_path: Path, bundle: Path, case_toml: str, pub: Path) -> dict:
    from evkit.cli import main

    case = tmp_path / "case.toml"
    case.write_text(case_toml, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["report", str(bundle), "--case", str(case), "--out", str(out),
                 "--signer-key", str(pub)]) == 0
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        findings["_items"] = {r["internet_message_id"]: r for r in csv.DictReader(fh)}
    return findings


def test_report_on_a_sentinel_import_attributes_with_the_right_times(sentinel_bundle, tmp_path, examiner_pub):
    _, bundle, _ = sentinel_bundle
    findings = _report(tmp_path, bundle, '[case]\nid = "IR-SENT"\n'
                       'window = ["2024-03-12T00:00:00Z", "2024-03-13T00:00:00Z"]\n'
                       '[indicators]\naccounts = ["alice@contoso.com"]\nips = ["192.0.2.200"]\n', examiner_pub)
    # an export states no collection window: only the span of its records counts as covered
    assert [p for p in findings["problems"] if "is not covered by any bundle" not in p] == []
    summary = findings["summary"]
    assert summary["attributed_records"] >= 3
    assert summary["first_activity_utc"] == "2024-03-12T15:20:44Z"   # the sign-in
    assert summary["last_activity_utc"] == "2024-03-12T15:40:09Z"    # the send
    item = findings["_items"]["<x1@fabrikam.com>"]
    assert item["classification"] == "confirmed"
    assert item["first_access_utc"] == "2024-03-12T15:31:02Z"


def test_report_on_the_example_sentinel_import_alone_finds_the_attacker(signing_key, tmp_path, examiner_pub):
    from evkit.collector.importer import import_files

    with SENTINEL_EXAMPLE.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    attacker = [r for r in rows if "203.0.113.7" in (r.get("ClientIP", ""), r.get("Client_IPAddress", ""))]
    assert attacker
    bundle = import_files(tmp_path / "IMP_C1", case_id="EMU", key=signing_key, files=[SENTINEL_EXAMPLE])
    findings = _report(tmp_path, bundle, '[case]\nid = "EMU"\n'
                       'window = ["2023-06-08T00:00:00Z", "2023-06-15T00:00:00Z"]\n'
                       '[indicators]\naccounts = ["alice@contoso.com"]\nips = ["203.0.113.7"]\n', examiner_pub)
    # an export states no collection window: only the span of its records counts as covered
    assert [p for p in findings["problems"] if "is not covered by any bundle" not in p] == []
    summary = findings["summary"]
    assert summary["attributed_records"] >= len(attacker)
    assert summary["confirmed_items"] > 0
    first_seen = min(iso_utc(r["TimeGenerated [UTC]"]) for r in attacker)
    assert summary["first_activity_utc"] <= first_seen
    assert summary["first_activity_utc"] >= "2023-06-08T00:00:00Z"
