"""Exports handed over gzip-compressed: stored byte for byte as given, read inflated as a stream
(several members as one text, as gunzip does), capped, and damage named as a counted row; a
report over them reads the same records as over the plain file."""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
from pathlib import Path

import pytest

from evkit.evidence.formats import read_records, summarise_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from bundlekit import mia, permissive_report_options

from test_import_honest import purview_csv

A = "alice@contoso.com"
ATTACKER = "203.0.113.7"
CASE = ('[case]\nid = "IR-14"\nwindow = ["2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z"]\n\n'
        f'[indicators]\naccounts = ["{A}"]\nips = ["{ATTACKER}"]\n')


def _records(n: int = 40) -> list[dict]:
    return [mia(f"m-{i:03d}", f"2023-06-02T08:{i % 60:02d}:00", A, folders={"\\Inbox": [f"<i{i}@x>"]},
                ip=ATTACKER if i % 2 else "192.0.2.10") for i in range(n)]


def _run(evkit_cli, signing_key, out: Path, *files: Path):
    key_path, passphrase, _ = signing_key
    env = dict(os.environ, EVKIT_PASSPHRASE=passphrase)
    return evkit_cli("import", "--case", "IR-14", "--out", str(out), "--key", str(key_path),
                     *map(str, files), env=env)


def _items(bundle: Path, tmp: Path, monkeypatch) -> tuple[dict, list[str]]:
    from evkit.report import pipeline
    from evkit.report.outputs import write
    monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    case = tmp / "case.toml"
    case.write_text(CASE, encoding="utf-8")
    out = tmp / f"out-{bundle.name}"
    result = pipeline.run_report([bundle], case, out, **permissive_report_options())
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"], r["internet_message_id"]): r["classification"] for r in csv.DictReader(fh)}
    return items, result.findings["problems"]


def test_a_gzip_export_is_stored_as_given_read_inflated_and_reports_like_the_plain_file(
        tmp_path, evkit_cli, signing_key, monkeypatch):
    plain = tmp_path / "audit.csv"
    plain.write_text(purview_csv(*_records()), encoding="utf-8")
    packed = tmp_path / "audit.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    proc = _run(evkit_cli, signing_key, tmp_path / "gz", packed)
    assert proc.returncode == 0, proc.stderr
    assert "audit.csv.gz: purview-csv (gzip), 40 record(s), 0 rejected row(s)" in proc.stdout
    stored = tmp_path / "gz" / "data" / "imports" / "audit.csv.gz"
    assert stored.read_bytes() == packed.read_bytes()
    meta = json.loads((stored.parent / "audit.csv.gz.meta.json").read_text(encoding="utf-8"))
    assert (meta["format"], meta["compression"], meta["record_count"]) == ("purview-csv", "gzip", 40)
    assert _run(evkit_cli, signing_key, tmp_path / "plain", plain).returncode == 0
    items_gz, problems_gz = _items(tmp_path / "gz", tmp_path, monkeypatch)
    items_plain, problems_plain = _items(tmp_path / "plain", tmp_path, monkeypatch)
    assert items_gz == items_plain and list(items_gz.values()).count("confirmed") == 20
    assert problems_gz == problems_plain and not any("gzip" in p for p in problems_gz)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_every_member_of_a_multi_member_gzip_is_read_with_its_bom(tmp_path, encoding):
    text = purview_csv(*_records()).encode(encoding)
    cut = len(text) // 3 * 2 if encoding == "utf-16" else len(text) // 3
    path = tmp_path / "audit.csv.gz"
    path.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    summary = summarise_file(path)
    assert (summary["format"], summary["record_count"], summary["error_count"]) == ("purview-csv", 40, 0)


def test_a_cut_gzip_keeps_the_rows_before_the_cut_and_counts_the_damage(tmp_path, monkeypatch):
    from bundlekit import write_import_bundle
    whole = gzip.compress(json.dumps(_records(4000)).encode(), mtime=0)
    path = tmp_path / "blob.json.gz"
    path.write_bytes(whole[: len(whole) // 2])
    rows = list(read_records(path))
    read = [r for r in rows if r.record is not None]
    assert 0 < len(read) < 4000
    [damage] = [r for r in rows if r.record is None]
    assert "gzip data is damaged" in damage.error and "nothing from there on" in damage.error
    bundle = write_import_bundle(tmp_path / "I", {"blob.json.gz": ("mgmt-blob", path.read_bytes())})
    items, problems = _items(bundle, tmp_path, monkeypatch)
    assert any("gzip data is damaged" in p for p in problems)
    assert "no-evidence" not in items.values()


def test_a_gzip_inflating_past_its_cap_is_refused_by_name(tmp_path, evkit_cli, signing_key, monkeypatch):
    monkeypatch.setattr("evkit.evidence.formats.compressed.MIN_CAP", 1 << 20)
    path = tmp_path / "blob.json.gz"
    path.write_bytes(gzip.compress(b"[" + b" " * (8 << 20) + json.dumps(_records(1)).encode()[1:]))
    summary = summarise_file(path)
    assert summary["format"] == "unknown" and summary["compression"] == "gzip"
    assert "inflates to more than 200 times its size" in summary["errors"][0]["reason"]


def test_a_gzip_holding_no_known_format_exits_4_naming_it(tmp_path, evkit_cli, signing_key):
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress(b"hello\n" * 20))
    proc = _run(evkit_cli, signing_key, tmp_path / "b", path)
    assert proc.returncode == 4
    assert "notes.txt.gz: gzip-compressed, and what it holds is in no format evkit knows" in proc.stderr
