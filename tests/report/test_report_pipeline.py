"""`evkit report` end to end on a small known breach built in the collector's raw layout."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

import scenario_mini as mini
from bundlekit import write_bundle
from evkit.cli import main


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory, signing_key, examiner_pub):
    root = tmp_path_factory.mktemp("mini")
    write_bundle(root / "IR-MINI_C1", mini.records(), window=mini.EVIDENCE_WINDOW, ledger=mini.ledger(),
                 extra_files=mini.folder_stats_files(), case_id="IR-MINI", key=signing_key)
    (root / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    shutil.copy(examiner_pub, root / "examiner.pub")
    return root


def run(case_dir, out, *extra, bundles=None, trusted=True):
    """`evkit report` on the mini case, trusting the session examiner's key unless not `trusted`."""
    bundles = bundles or [str(case_dir / "IR-MINI_C1")]
    trust = ["--signer-key", str(case_dir / "examiner.pub")] if trusted else []
    return main(["report", *bundles, "--case", str(case_dir / "case.toml"), "--out", str(out), *trust, *extra])


@pytest.fixture(scope="module")
def report(case_dir):
    out = case_dir / "out"
    assert run(case_dir, out) == 0
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"], r["internet_message_id"]): r for r in csv.DictReader(fh)}
    return out, findings, items


def test_items_are_classified_as_the_rules_say(report):
    _, _, items = report
    got = {k: items[k]["classification"] for k in mini.EXPECTED}
    assert got == mini.EXPECTED


def test_owner_only_item_is_never_confirmed(report):
    _, _, items = report
    assert items[(mini.A, "<o1>")]["classification"] != "confirmed"


def test_session_expansion_says_which_indicator_led_there(report):
    _, findings, items = report
    assert "m-att-bind" in items[(mini.A, "<o2>")]["record_ids"].split()
    [row] = findings["attribution"]
    assert row["indicator"] == "ip 203.0.113.7" and "aad10000-0000-4000-8000-000000000001" in row["sessions"]
    assert row["session_records"] >= 1


def test_sync_counts_unnamed_items_from_folder_statistics(report):
    _, findings, _ = report
    [sync] = findings["syncs"]
    assert (sync["folder"], sync["items_named"], sync["items_unnamed"]) == ("\\Archive", 1, 9)
    assert findings["summary"]["inferred_unnamed_items"] == 9


def test_throttled_window_and_search_and_send(report):
    _, findings, _ = report
    [thr] = findings["throttled"]
    assert thr["mailbox"] == mini.B and thr["attributed_activity"] == 1 and "s-bob" in thr["record_ids"]
    [search] = findings["searches"]
    assert search["query"] == "invoice" and search["matching_items"] == ["<o4>"]
    [send] = findings["sends"]
    assert send["internet_message_id"] == "<sent>" and send["record_ids"] == ["send-1"]


def test_capped_window_makes_mailboxes_unknown_for_that_period(report):
    _, findings, _ = report
    for m in findings["mailboxes"]:
        [capped] = [u for u in m["unknown"] if "capped" in u["reason"]]
        assert {"start": "2023-06-05T00:00:00Z", "end": "2023-06-06T00:00:00Z"}.items() <= capped.items()


def test_every_count_traces_to_record_ids(report):
    _, findings, items = report
    assert all(row["record_ids"] for row in items.values())
    for key in ("syncs", "throttled", "searches", "sends"):
        assert all(row["record_ids"] for row in findings[key])
    s = findings["summary"]
    assert s["confirmed_items"] == sum(1 for r in items.values() if r["classification"] == "confirmed")
    assert s["inferred_items"] == sum(1 for r in items.values() if r["classification"] == "inferred")


def test_report_date_comes_from_the_evidence(report):
    _, findings, _ = report
    custody = [c["time_utc"] for b in findings["bundles"] for c in b["custody"]]
    assert findings["generated_utc"] == max(custody + ["2026-11-29T09:00:00Z"])


def test_same_inputs_give_byte_identical_outputs(case_dir, report):
    out, _, _ = report
    again = case_dir / "again"
    assert run(case_dir, again) == 0
    for name in ("findings.json", "items.csv", "report.pdf"):
        if (out / name).exists():
            assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_same_records_in_two_bundles_are_counted_once(case_dir, report, tmp_path):
    _, findings, _ = report
    twin = tmp_path / "IR-MINI_C2"
    shutil.copytree(case_dir / "IR-MINI_C1", twin)
    assert run(case_dir, tmp_path / "out", bundles=[str(case_dir / "IR-MINI_C1"), str(twin)]) == 0
    both = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert both["summary"]["confirmed_items"] == findings["summary"]["confirmed_items"]
    assert both["summary"]["attributed_records"] == findings["summary"]["attributed_records"]


def test_tampered_bundle_is_refused_unless_allowed(case_dir, tmp_path, capsys):
    bad = tmp_path / "IR-MINI_C1"
    shutil.copytree(case_dir / "IR-MINI_C1", bad)
    (bad / "data" / "collection.json").write_bytes((bad / "data" / "collection.json").read_bytes() + b" ")
    assert run(case_dir, tmp_path / "refused", bundles=[str(bad)]) == 1
    assert "refused" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "findings.json").exists()
    assert run(case_dir, tmp_path / "allowed", "--allow-invalid", bundles=[str(bad)]) == 0
    findings = json.loads((tmp_path / "allowed" / "findings.json").read_text(encoding="utf-8"))
    assert findings["evidence_valid"] is False


def test_key_appends_signed_report_generated_custody(analyst_passphrase, case_dir, key_path, tmp_path, monkeypatch):
    bundle = tmp_path / "IR-MINI_C1"
    shutil.copytree(case_dir / "IR-MINI_C1", bundle)
    monkeypatch.setenv("EVKIT_PASSPHRASE", analyst_passphrase)
    assert run(case_dir, tmp_path / "out", "--key", str(key_path), bundles=[str(bundle)]) == 0
    records = sorted((bundle / "custody").glob("*.json"))
    last = json.loads(records[-1].read_text(encoding="utf-8"))
    assert last["event"] == "report-generated"
    blob = json.dumps(last)
    for name in ("findings.json", "items.csv"):
        assert name in blob
    import hashlib
    assert hashlib.sha256((tmp_path / "out" / "items.csv").read_bytes()).hexdigest() in blob


def test_bad_case_file_is_a_usage_error(case_dir, tmp_path, capsys):
    bad = tmp_path / "case.toml"
    bad.write_text(mini.CASE_TOML.replace("ips =", "ip ="), encoding="utf-8")
    code = main(["report", str(case_dir / "IR-MINI_C1"), "--case", str(bad), "--out", str(tmp_path / "o"),
                 "--signer-key", str(case_dir / "examiner.pub")])
    assert code == 2
    assert "unknown key indicators.ip" in capsys.readouterr().err


def test_sql_prints_a_table(case_dir, capsys):
    code = main(["sql", str(case_dir / "IR-MINI_C1"), "--query",
                 "SELECT operation, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"])
    out = capsys.readouterr().out
    assert code == 0 and "MailItemsAccessed" in out and "(4 rows)" in out


def test_sql_error_is_one_line(case_dir, capsys):
    assert main(["sql", str(case_dir / "IR-MINI_C1"), "--query", "SELECT nope FROM events"]) == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_pdf_summary_numbers_match_findings(report):
    out, findings, _ = report
    if not (out / "report.pdf").exists():
        pytest.skip("report.pdf renderer not available")
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(out / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    s = findings["summary"]
    for number in (s["confirmed_items"], s["inferred_items"], s["mailboxes_in_scope"]):
        assert str(number) in text
    assert "IR-MINI" in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed")
def test_pdf_page_one_renders_to_png(report):
    out, _, _ = report
    if not (out / "report.pdf").exists():
        pytest.skip("report.pdf renderer not available")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out / "report.pdf"),
                    str(out / "page")], check=True)
    [png] = list(out.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sql_positional_query_and_interactive_prompt(case_dir, evkit_cli, capsys):
    bundle = str(case_dir / "IR-MINI_C1")
    assert main(["sql", bundle, "SELECT count(*) AS n FROM sends"]) == 0
    assert "(1 row)" in capsys.readouterr().out
    proc = evkit_cli("sql", bundle, input=".tables\nSELECT record_id\n FROM sends;\nSELECT nope;\n.quit\n")
    assert proc.returncode == 0, proc.stderr
    assert "events" in proc.stdout and "send-1" in proc.stdout
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
