"""`evkit export`: the verified evidence's tables as hive-partitioned Parquet (or CSV), a timeline
CSV and export.json (docs/export.md).

The Parquet dataset is read back by DuckDB and, independently, by pyarrow's dataset API, and
both are compared with `evkit sql` over the same bundle; refusals are `evkit report`'s.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from bundlekit import mia, record, write_bundle
from readiness_data import scenario_pages
from evkit.cli import main
from evkit.report.export.timeline import COLUMNS as TIMELINE_COLUMNS
from evkit.report.outputs.csvcells import neutralise

pa_ds = pytest.importorskip("pyarrow.dataset")
build = pytest.importorskip("evkit.emulator.scenarios.build")

RECORD_TABLES = ("events", "accessed_items", "synced_folders", "searches", "sends", "sessions", "sign_ins")
# The same rows as `evkit sql` sees them (docs/internals.md, report tables).
SQL_COUNTS = {
    "events": "SELECT count(*) FROM events",
    "accessed_items": "SELECT count(*) FROM accessed_items",
    "synced_folders": "SELECT count(*) FROM synced_folders",
    "searches": "SELECT count(*) FROM searches",
    "sends": "SELECT count(*) FROM sends",
    "sessions": "SELECT count(*) FROM sessions",
    "sign_ins": "SELECT count(*) FROM events WHERE operation IN ('UserLoggedIn', 'UserLoginFailed', 'MailboxLogin')",
    "problems": "SELECT count(*) FROM problems",
    "gaps": "SELECT count(*) FROM gaps",
}


def tag_digest(bundle: Path) -> str:
    return hashlib.sha256((bundle / "tagmanifest-sha256.txt").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, signing_key, examiner_pub):
    """The emulator's bec-basic scenario, its records and tenant configuration sealed in one bundle."""
    root = tmp_path_factory.mktemp("export")
    sc = build.build_scenario("bec-basic", 1, root / "sc")
    window = (sc.start.strftime("%Y-%m-%dT%H:%M:%SZ"), sc.end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    write_bundle(root / "EMU_C1", list(sc.records(sc.start, sc.end)), window=window,
                          extra_files=scenario_pages(sc), case_id="EMU-BEC-BASIC-1", key=signing_key)
    shutil.copy(sc.case_path, root / "case.toml")
    shutil.copy(examiner_pub, root / "examiner.pub")
    return root


@pytest.fixture(scope="module")
def exported(scenario, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported") / "out"
    code = main(["export", str(scenario / "EMU_C1"), "--out", str(out), "--signer-key",
                 str(scenario / "examiner.pub"), "--case", str(scenario / "case.toml")])
    assert code == 0
    return out


def sql_counts(bundle: Path, capsys) -> dict[str, int]:
    """Every table's row count through `evkit sql` (one query, one row)."""
    query = "SELECT " + ", ".join(f"({sql}) AS {name}" for name, sql in SQL_COUNTS.items())
    capsys.readouterr()
    assert main(["sql", str(bundle), "--query", query]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, values = lines[0].split(), lines[2].split()
    return {name: int(v) for name, v in zip(header, values, strict=True)}


def duck_rows(path: Path) -> list[dict]:
    con = duckdb.connect()
    cur = con.execute(f"SELECT * FROM read_parquet('{path.as_posix()}/**/*.parquet', hive_partitioning = true)")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def test_parquet_counts_agree_with_evkit_sql_through_two_readers(scenario, exported, capsys):
    expected = sql_counts(scenario / "EMU_C1", capsys)
    manifest = json.loads((exported / "export.json").read_text(encoding="utf-8"))
    assert expected["events"] > 1000 and expected["accessed_items"] and expected["sends"] and expected["sign_ins"]
    assert expected["sessions"] and expected["searches"]
    for name, count in expected.items():
        assert manifest["tables"][name]["rows"] == count, name
        assert len(duck_rows(exported / name)) == count, name
        table = pa_ds.dataset(exported / name, format="parquet", partitioning="hive").to_table()
        assert table.num_rows == count, name


def test_every_row_carries_its_record_id_the_bundles_digest_and_day(scenario, exported):
    digest = tag_digest(scenario / "EMU_C1")
    event_ids = {r["record_id"] for r in duck_rows(exported / "events")}
    for name in RECORD_TABLES:
        rows = duck_rows(exported / name)
        assert rows, name
        for row in rows:
            assert row["record_id"] in event_ids, name
            assert row["tagmanifest_sha256"] == digest and row["bundle_verdict"] == "valid", name
            ts = row["first_utc" if name == "sessions" else "ts"]
            assert str(row["day"]) == ts.strftime("%Y-%m-%d"), name
    days = {p.name for p in (exported / "events").iterdir()}
    assert days and all(d.startswith("day=2023-06-") for d in days)
    # pyarrow reads the partition key from the folder names
    table = pa_ds.dataset(exported / "events", format="parquet", partitioning="hive").to_table(
        columns=["record_id", "day", "tagmanifest_sha256"])
    assert set(table.column("tagmanifest_sha256").to_pylist()) == {digest}
    assert {f"day={d}" for d in table.column("day").to_pylist()} == days


def test_mailbox_coverage_and_bundles_are_exported(scenario, exported):
    coverage = duck_rows(exported / "mailbox_coverage")
    assert {"alice@contoso.com", "bob@contoso.com"} <= {r["mailbox"] for r in coverage}
    assert all(r["tagmanifest_sha256"] == tag_digest(scenario / "EMU_C1") for r in coverage)
    [bundle] = duck_rows(exported / "bundles")
    assert bundle["signer_trusted"] is True and "path" not in bundle


def test_manifest_lists_every_file_with_its_hash(exported):
    manifest = json.loads((exported / "export.json").read_text(encoding="utf-8"))
    files = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()} - {"export.json"}
    assert set(manifest["files"]) == files
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((exported / rel).read_bytes()).hexdigest() == digest
    assert manifest["evidence_state"] == "valid" and manifest["warnings"] == []
    assert manifest["timeline"]["classified_for_case"] == "EMU-BEC-BASIC-1"


def test_timeline_has_one_row_per_record_classified_for_the_case(exported):
    with (exported / "timeline.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == TIMELINE_COLUMNS
    assert len(rows) == len(duck_rows(exported / "events"))
    classes = {r["classification"] for r in rows}
    assert {"confirmed", ""} <= classes
    times = [r["datetime"] for r in rows if r["datetime"]]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)


# ---- the timeline's cells: hostile strings, no case file -----------------------------------------

HOSTILE_ACTOR = '=HYPERLINK("http://x","click")'
HOSTILE_CLIENT = "+cmd|' /C calc'!A0,\r\nnext"


def test_timeline_escapes_evidence_strings_and_leaves_classification_empty(tmp_path, signing_key, examiner_pub):
    records = [mia("r1", "2023-06-01T10:00:00Z", "alice@contoso.com", client=HOSTILE_CLIENT,
                   folders={"\\Inbox": ["@<m1>"]}),
               record("r2", "2023-06-01T11:00:00Z", "UserLoggedIn", HOSTILE_ACTOR, ClientIP="-1.2.3.4"),
               record("r3", "not a time", "Send", "bob@contoso.com")]
    bundle = write_bundle(tmp_path / "HOSTILE_C1", records, window=("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z"),
                          key=signing_key)
    out = tmp_path / "out"
    assert main(["export", str(bundle), "--out", str(out), "--signer-key", str(examiner_pub)]) == 0
    text = (out / "timeline.csv").read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 3 == len(duck_rows(out / "events"))
    by_id = {r["record_id"]: r for r in rows}
    assert by_id["r1"]["client"] == neutralise(HOSTILE_CLIENT)
    assert by_id["r1"]["items"] == neutralise("@<m1>")
    assert by_id["r2"]["actor"] == neutralise(HOSTILE_ACTOR.lower())
    assert by_id["r2"]["ip"] == neutralise("-1.2.3.4")
    assert all(r["classification"] == "" for r in rows)
    # a record whose time cannot be read keeps its row (last), with no time and no partition day
    assert rows[-1]["record_id"] == "r3" and rows[-1]["datetime"] == ""
    events = duck_rows(out / "events")
    assert [r["day"] for r in events if r["record_id"] == "r3"] == [None]
    assert (out / "events" / "day=__HIVE_DEFAULT_PARTITION__").is_dir()


def test_csv_format_writes_every_table_as_csv(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(scenario / "EMU_C1"), "--out", str(out), "--format", "csv",
                 "--signer-key", str(scenario / "examiner.pub")]) == 0
    expected = sql_counts(scenario / "EMU_C1", capsys)
    assert not list(out.rglob("*.parquet"))
    for name, count in expected.items():
        con = duckdb.connect()
        [(n,)] = con.execute(f"SELECT count(*) FROM read_csv('{(out / name).as_posix()}/**/*.csv', "
                             "hive_partitioning = true, all_varchar = true)").fetchall()
        assert n == count, name
    with (out / "accessed_items" / next(iter(sorted(p.name for p in (out / "accessed_items").iterdir())))
          / "part-0.csv").open(encoding="utf-8", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["record_id"] and row["tagmanifest_sha256"] == tag_digest(scenario / "EMU_C1")


# ---- refusals ------------------------------------------------------------------------------------

def test_untrusted_bundle_is_refused_and_allowed_only_with_the_reports_flag(scenario, tmp_path, capsys):
    bundle = scenario / "EMU_C1"
    assert main(["export", str(bundle), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "refused" in err and "--allow-untrusted" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []
    assert main(["export", str(bundle), "--out", str(tmp_path / "out"), "--allow-untrusted"]) == 0
    assert "UNTRUSTED EVIDENCE" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "out" / "export.json").read_text(encoding="utf-8"))
    assert manifest["evidence_state"] == "untrusted"
    assert any(w.startswith("UNTRUSTED EVIDENCE") for w in manifest["warnings"])
    for name in RECORD_TABLES:
        assert {r["bundle_verdict"] for r in duck_rows(tmp_path / "out" / name)} == {"cannot verify"}, name


def test_tampered_bundle_is_refused(scenario, tmp_path, capsys):
    bundle = tmp_path / "EMU_C1"
    shutil.copytree(scenario / "EMU_C1", bundle)
    page = sorted((bundle / "data" / "raw" / "ual").rglob("*.json.gz"))[0]
    blob = bytearray(page.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    page.write_bytes(bytes(blob))
    out = tmp_path / "out"
    assert main(["export", str(bundle), "--out", str(out), "--signer-key", str(scenario / "examiner.pub")]) == 1
    assert "refused" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_that_holds_anything_is_refused_and_left_alone(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.parquet").write_bytes(b"earlier export")
    assert main(["export", str(scenario / "EMU_C1"), "--out", str(out), "--signer-key",
                 str(scenario / "examiner.pub")]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["earlier.parquet"]
    assert (out / "earlier.parquet").read_bytes() == b"earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left behind


def test_an_empty_folder_is_used(scenario, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(scenario / "EMU_C1"), "--out", str(out), "--signer-key",
                 str(scenario / "examiner.pub")]) == 0
    assert (out / "export.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_key_signs_an_export_generated_record_naming_the_manifest(scenario, tmp_path, key_path, analyst_passphrase,
                                                                  monkeypatch):
    bundle = tmp_path / "EMU_C1"
    shutil.copytree(scenario / "EMU_C1", bundle)
    before = sorted((bundle / "custody").glob("*.json"))
    monkeypatch.setenv("EVKIT_PASSPHRASE", analyst_passphrase)
    out = tmp_path / "out"
    assert main(["export", str(bundle), "--out", str(out), "--signer-key", str(scenario / "examiner.pub"),
                 "--key", str(key_path)]) == 0
    [added] = sorted(set((bundle / "custody").glob("*.json")) - set(before))
    doc = json.loads(added.read_text(encoding="utf-8"))
    assert doc["event"] == "export-generated"
    assert doc["details"]["outputs"] == {
        "export.json": {"sha256": hashlib.sha256((out / "export.json").read_bytes()).hexdigest()}}


def test_the_documented_duckdb_query_runs_on_an_export(exported):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text(encoding="utf-8")
    query = doc.split("DuckDB:\n\n```sql\n", 1)[1].split("```", 1)[0]
    rows = duckdb.connect().execute(query.replace("DIR", exported.as_posix())).fetchall()
    assert rows and all(mailbox and day and items > 0 for mailbox, day, items in rows)


def test_an_out_folder_inside_a_bundle_or_a_bad_format_is_refused(scenario, tmp_path, capsys):
    bundle = tmp_path / "EMU_C1"
    shutil.copytree(scenario / "EMU_C1", bundle)
    key = ["--signer-key", str(scenario / "examiner.pub")]
    assert main(["export", str(bundle), "--out", str(bundle / "data" / "export"), *key]) == 2
    assert "inside the bundle" in capsys.readouterr().err
    assert not (bundle / "data" / "export").exists()
    assert main(["export", str(bundle), "--out", str(tmp_path / "out"), "--format", "xlsx", *key]) == 2
    assert not (tmp_path / "out").exists()


def test_timeline_classification_is_the_reports_for_the_same_case(scenario, exported, tmp_path):
    """Each record's classification names exactly the classifications items.csv gives the items
    whose record ids include it."""
    out = tmp_path / "report"
    assert main(["report", str(scenario / "EMU_C1"), "--case", str(scenario / "case.toml"), "--out", str(out),
                 "--signer-key", str(scenario / "examiner.pub")]) == 0
    expected: dict[str, set[str]] = {}
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for rid in row["record_ids"].split():
                expected.setdefault(rid, set()).add(row["classification"])
    with (exported / "timeline.csv").open(encoding="utf-8", newline="") as fh:
        got = {r["record_id"]: r["classification"] for r in csv.DictReader(fh)}
    assert expected and "confirmed" in set().union(*expected.values())
    for rid, classes in expected.items():
        assert set(got[rid].split(";")) == classes, rid
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert findings["summary"]["confirmed_items"] > 0
    others = {rid: c for rid, c in got.items() if rid not in expected and c}
    assert set(others.values()) <= {"attributed"}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_copy_per_day_writes_what_the_partitioned_writer_writes(scenario, tmp_path, monkeypatch, fmt):
    """`events` is written a day at a time when its records are in time order (docs/export.md);
    both ways give the same folders and rows, the NULL day included."""
    import evkit.report.export.run as run
    from evkit.report.intake import Trust

    bundle = tmp_path / "TIMES_C1"
    records = [record(f"r{n}", f"2023-06-0{1 + n % 3}T10:00:{n % 60:02d}Z", "Send", "bob@contoso.com")
               for n in range(30)] + [record("late", "yesterday", "Send", "bob@contoso.com")]
    write_bundle(bundle, records, window=("2023-06-01T00:00:00Z", "2023-06-04T00:00:00Z"), page_size=7)
    seen = {}
    for by_day in (True, False):
        monkeypatch.setattr(run, "events_in_time_order", lambda engine, by_day=by_day: by_day)
        out = tmp_path / f"out-{by_day}"
        run.run_export([bundle], out, trust=Trust(allow_invalid=True, allow_untrusted=True), fmt=fmt)
        folders = sorted(p.relative_to(out).as_posix() for p in (out / "events").rglob("*") if p.is_file())
        con = duckdb.connect()
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        rows = con.execute(f"SELECT record_id, day, bundle_verdict FROM {reader}('{(out / 'events').as_posix()}/**/*.{fmt}',"
                           " hive_partitioning = true) ORDER BY record_id").fetchall()
        seen[by_day] = (folders, rows)
    assert seen[True] == seen[False]
    folders, rows = seen[True]
    assert len(rows) == 31 and folders[-1].startswith("events/day=__HIVE_DEFAULT_PARTITION__/")
    assert [d for rid, d, _ in rows if rid == "late"] == [None]


def test_timeline_items_are_the_items_each_record_names(scenario, exported):
    """The `items` cell lists what the engine's item_mentions view (behind `evkit sql`) lists."""
    from evkit.evidence.inventory import scan_bundles
    from evkit.report.engine.loader import Engine

    with Engine() as engine:
        engine.load(scan_bundles([scenario / "EMU_C1"]))
        expected = dict(engine.rows("""SELECT record_id, string_agg(DISTINCT internet_message_id, ' '
                                       ORDER BY internet_message_id) FROM item_mentions GROUP BY record_id"""))
    with (exported / "timeline.csv").open(encoding="utf-8", newline="") as fh:
        got = {r["record_id"]: r["items"] for r in csv.DictReader(fh) if r["items"]}
    assert len(expected) > 1000
    assert got == expected


def test_the_entra_sign_in_log_is_exported_when_collected(tmp_path):
    """A bundle holding the `signins` source: its sign-ins are a table of their own, one row per
    distinct sign-in id, beside the audit log's logon records."""
    from test_report_signins import _bundle

    root = _bundle(tmp_path, "complete")
    out = tmp_path / "out"
    assert main(["export", str(root), "--out", str(out), "--allow-invalid", "--allow-untrusted"]) == 0
    rows = duck_rows(out / "entra_sign_ins")
    assert sorted(r["record_id"] for r in rows) == ["s-1", "s-bad", "s-old"]
    assert {r["ip"] for r in rows if r["record_id"] == "s-1"} == {"203.0.113.7"}
    assert all(r["bundle"] == root.name and r["bundle_verdict"] for r in rows)
    manifest = json.loads((out / "export.json").read_text(encoding="utf-8"))
    assert manifest["tables"]["entra_sign_ins"]["rows"] == 3
