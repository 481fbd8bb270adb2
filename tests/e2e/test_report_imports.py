"""A scenario handed over as client exports (issue 14): nested fields as JSON text in every
format, an export in no known format, PowerShell-mangled item lists. The report confirms every
confirmable item from the imports (100% precision and recall), names the unknown file, and an
attacker record whose item list is mangled makes its mailbox accessed, never "no evidence"."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from pdfrules import check_report  # noqa: E402
from scoring import score  # noqa: E402

from evkit.cli import main  # noqa: E402
from evkit.collector.importer import import_files  # noqa: E402

build = pytest.importorskip("evkit.emulator.scenarios")
exports = pytest.importorskip("evkit.emulator.exports")

STRINGLY_FORMATS = ("mgmt-blob", "ual-json", "purview-csv", "sentinel-json")


@pytest.fixture(scope="module")
def negatives(tmp_path_factory):
    return build.build_scenario("negatives", 1, tmp_path_factory.mktemp("negatives"))


def _import_and_report(sc, files: list[Path], signing_key, tmp: Path) -> tuple[dict, dict]:
    from evkit.manifests.keys import load_signing_key
    from evkit.report.casefile import load_case
    bundle = import_files(tmp / "imported", case_id=load_case(sc.case_path).case_id,
                          key=load_signing_key(*signing_key[:2]), files=files)
    out = tmp / "out"
    assert main(["report", str(bundle), "--case", str(sc.case_path), "--out", str(out),
                 "--signer-key", f"{signing_key[0]}.pub"]) == 0
    check_report(out)                    # its PDF, read as a reader does (tests/report/pdfrules.py)
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"], r["internet_message_id"]): r["classification"] for r in csv.DictReader(fh)}
    return findings, items


def test_stringly_exports_in_every_format_confirm_every_item_and_an_unknown_export_is_named(
        negatives, signing_key, tmp_path):
    records = list(negatives.records(negatives.start, negatives.end))
    files = []
    for n, fmt in enumerate(STRINGLY_FORMATS):   # each format holds a quarter of the records
        path = tmp_path / f"export-{fmt}{exports.SUFFIX[fmt]}"
        exports.write_export(records[n::len(STRINGLY_FORMATS)], path, fmt, stringly=True, extra_columns=True)
        files.append(path)
    text = files[0].read_text(encoding="utf-8")
    assert '"Folders":"[{' in text.replace(" ", "")         # nested fields really are JSON text
    cloud = tmp_path / "CloudAppEvents.csv"
    exports.write_cloudappevents(records[:50], cloud)
    findings, _ = _import_and_report(negatives, [*files, cloud], signing_key, tmp_path)
    result = score(negatives.ground_truth, tmp_path / "out")
    confirmed = [line for line in result.lines if line.startswith("confirmed:")]
    assert confirmed and confirmed[0].count("= 1.00") == 2, result.lines
    assert result.failures == [], result.failures[:10]
    assert any("CloudAppEvents.csv" in p for p in findings["problems"])
    assert not findings["summary"]["headline"].startswith("No activity")


def test_a_mangled_attacker_item_list_makes_the_mailbox_accessed_not_clear(negatives, signing_key, tmp_path):
    truth = negatives.ground_truth
    attacker_ids = set(truth["attacker_record_ids"].get("day1", []))
    records = list(negatives.records(negatives.start, negatives.end))
    erin_reads = [i for i, r in enumerate(records, start=1) if r["Id"] in attacker_ids
                  and r.get("Operation") == "MailItemsAccessed" and r.get("MailboxOwnerUPN") == "erin@contoso.com"]
    assert erin_reads, "the scenario's day-one reads of erin"
    path = tmp_path / "Search-UnifiedAuditLog.json"
    info = exports.write_export(records, path, "ual-json", mangle=erin_reads)
    assert {info.mangled[row] for row in erin_reads} == {"AuditData.Folders"}
    findings, items = _import_and_report(negatives, [path], signing_key, tmp_path)
    [erin] = [m for m in findings["mailboxes"] if m["mailbox"] == "erin@contoso.com"]
    assert erin["verdict"] != "no evidence of access"
    assert erin["accessed_items_unknown"] >= len(erin_reads)
    [entry] = [m for m in truth["mailboxes"] if m["mailbox"] == "erin@contoso.com"]
    for imid in entry["confirmable"]:
        assert items.get(("erin@contoso.com", imid)) != "no-evidence"
    assert any("mangled" in p for p in findings["problems"])
