"""Score `evkit report` against emulator ground truth (issue 5, "done when"), and read its PDF
as a reader does (issue 16: tests/report/pdfrules.py).

For every emulator scenario and variant (auditing off for the whole tenant, ingestion switched
off, a tenant whose mailboxes are Russian and Japanese): the scenario's records are written as
the collector's ual.page responses and its configuration as config/licence pages, sealed, and
reported on starting from the scenario's own day-one case.toml. Every confirmable item must be
confirmed, no owner-only item confirmed, every inferable item inferred (listed, or counted when
no record names it), every unknowable item's mailbox reported unknown for that period.
Precision and recall per class are printed (pytest -s shows them). The `large` scenario is in
test_report_large.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from freezegun import freeze_time

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from bundlekit import write_bundle  # noqa: E402
from pdfrules import check_any_pdf, check_report  # noqa: E402
from readiness_data import scenario_pages  # noqa: E402
from scoring import score  # noqa: E402

from evkit.cli import main  # noqa: E402
from evkit.report.casefile import load_case  # noqa: E402
from evkit.times import format_utc  # noqa: E402

build = pytest.importorskip("evkit.emulator.scenarios")


@pytest.fixture(scope="module")
def key(signing_key):
    """The session's examiner key (tests/conftest.py), loaded for sealing the scenario bundles."""
    from evkit.manifests.keys import load_signing_key

    path, passphrase, _ = signing_key
    return load_signing_key(path, passphrase)


CYRILLIC_INBOX, JAPANESE_INBOX = "\\Входящие", "\\受信トレイ"
# variant id -> (scenario, parameters)
VARIANTS = {
    "bec-basic": ("bec-basic", {}),
    "bec-basic-non-latin": ("bec-basic", {"non_latin": True}),
    "throttled": ("throttled", {}),
    "misconfigured": ("misconfigured", {}),
    "misconfigured-org-audit-off": ("misconfigured", {"org_audit_disabled": True}),
    "misconfigured-ingestion-off": ("misconfigured", {"ingestion_off": True}),
    "negatives": ("negatives", {}),
}


@pytest.fixture(scope="module")
def sealed(key, tmp_path_factory):
    """sealed(variant) -> (scenario, bundle), each variant built and sealed once per module."""
    made: dict[str, tuple] = {}

    def get(variant: str):
        if variant not in made:
            made[variant] = sealed_scenario(variant, key, tmp_path_factory.mktemp(variant))
        return made[variant]
    return get


def sealed_scenario(variant: str, key, where: Path):
    """The variant's scenario and its records sealed as one bundle (the examiner's key)."""
    name, params = VARIANTS[variant]
    sc = build.build_scenario(name, 1, where / "sc", params)
    bundle = where / f"EMU_{variant}"
    write_bundle(bundle, sc.records(sc.start, sc.end), window=(format_utc(sc.start), format_utc(sc.end)),
                 extra_files=scenario_pages(sc), key=key, page_size=5000,
                 case_id=load_case(sc.case_path).case_id)
    return sc, bundle


def report(sc, bundle: Path, out: Path, signing_key) -> Path:
    assert main(["report", str(bundle), "--case", str(sc.case_path), "--out", str(out),
                 "--signer-key", f"{signing_key[0]}.pub"]) == 0
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_report_scores_against_ground_truth(variant, sealed, signing_key, tmp_path, capsys):
    sc, bundle = sealed(variant)
    out = report(sc, bundle, tmp_path / "out", signing_key)
    result = score(sc.ground_truth, out)
    with capsys.disabled():
        print(f"\n[{variant}]")
        for line in result.lines:
            print("  " + line)
    assert result.failures == [], "\n".join(result.failures[:20])
    check_pdf_as_read(out)
    check_report(out, strings=shown_strings(variant, out))
    if variant == "negatives":
        check_negatives(sc.ground_truth, out)


def shown_strings(variant: str, out: Path) -> list[str]:
    """Evidence text in other scripts the PDF must show exactly: the synced folders' names and
    the subjects of what the attacker sent."""
    if not VARIANTS[variant][1].get("non_latin"):
        return []
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    subjects = [s["subject"] for s in findings["sends"] if s["mailbox"] == "alice@contoso.com"]
    assert subjects and all(any("\u0400" <= ch <= "\u04ff" for ch in s) for s in subjects), subjects
    assert {CYRILLIC_INBOX, JAPANESE_INBOX} <= {s["folder"] for s in findings["syncs"]}
    return [CYRILLIC_INBOX, JAPANESE_INBOX, *subjects]


def test_readiness_of_a_russian_and_japanese_tenant_keeps_the_pdf_rules(sealed, signing_key, tmp_path):
    """`evkit readiness` over the same kind of bundle: every mailbox address whole, fonts
    embedded, nothing shown as "?", the organisation's audit switch in words that cannot be
    misread."""
    _, bundle = sealed("bec-basic-non-latin")
    out = tmp_path / "ready"
    assert main(["readiness", str(bundle), "--out", str(out), "--signer-key", f"{signing_key[0]}.pub"]) == 0
    model = json.loads((out / "readiness.json").read_text(encoding="utf-8"))
    mailboxes = sorted({m["mailbox"] for m in model["mailboxes"]})
    assert "alice@contoso.com" in mailboxes
    check_any_pdf(out / "readiness.pdf", mailboxes, model=model)
    shown = " ".join(subprocess.run(["pdftotext", str(out / "readiness.pdf"), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    assert "on (AuditDisabled = False)" in shown and "(AuditDisabled): on" not in shown


@pytest.fixture
def local_clock(monkeypatch):
    """Another time zone for the test's duration (restored after it)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_same_bundles_and_case_give_byte_identical_outputs_whatever_the_clock(
        sealed, signing_key, tmp_path, local_clock):
    """Two runs of `evkit report` over the same bundle and case file, the second years later in
    another time zone, write the same bytes; the PDF's date is the evidence's, not the clock's."""
    sc, bundle = sealed("bec-basic-non-latin")
    first = report(sc, bundle, tmp_path / "first", signing_key)
    with freeze_time("2031-02-03 04:05:06"):
        again = report(sc, bundle, tmp_path / "again", signing_key)
    names = sorted(p.name for p in first.iterdir())
    assert "report.pdf" in names and names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    stated = json.loads((first / "findings.json").read_text(encoding="utf-8"))["generated_utc"]
    info = subprocess.run(["pdfinfo", "-isodates", str(first / "report.pdf")], capture_output=True, text=True,
                          check=True, env={**os.environ, "TZ": "UTC"}).stdout
    created = next(line.split()[-1] for line in info.splitlines() if line.startswith("CreationDate:"))
    assert created.replace("+00:00", "Z") == stated and not created.startswith("2031"), (created, stated)


def check_negatives(truth: dict, out: Path) -> None:
    """The forwarding rule is a mailbox change with its addresses; erin's throttled window, with
    no attributable record in it, is unknown for her (not inferred, not cleared)."""
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    [rule] = [c for c in findings["mailbox_changes"] if "drop@evil.example" in c["details"]]
    assert "copy@evil.example" in rule["details"] and rule["mailbox"] == "alice@contoso.com"
    [erin] = [m for m in truth["mailboxes"] if m["mailbox"] == "erin@contoso.com"]
    [blind] = [u for u in erin["unknowable"] if u["reason"] == "throttled-without-recorded-acts"]
    assert blind["imids"] and not [i for i in erin["inferable"] if i["reason"] == "throttled"]
    [row] = [m for m in findings["mailboxes"] if m["mailbox"] == "erin@contoso.com"]
    assert any(g["start"] == blind["start"] and "throttled" in g["reason"] for g in row["unknown"]), row["unknown"]


def check_pdf_as_read(out: Path) -> None:
    """What page 1 and the coverage table say agree with findings.json and with each other."""
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    summary = findings["summary"]
    assert (summary["mailboxes_affected"] + summary["mailboxes_cannot_be_assessed"]
            + summary["mailboxes_no_evidence"]) == summary["mailboxes_total"]
    unknown = {m["mailbox"] for m in findings["mailboxes"] if m["unknown"]}
    assert unknown <= {c["mailbox"] for c in findings["coverage"]}
    if shutil.which("pdftotext") is None:
        return
    pages = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    first = " ".join(pages[0].split())
    assert "In this report:" in first and "In this report:" not in pages[1]     # one page
    assert " ".join(summary["headline"].split()) in first
    for key in ("confirmed_items", "presumed_items", "mailboxes_affected", "mailboxes_cannot_be_assessed",
                "mailboxes_no_evidence", "mailboxes_total"):
        assert f"{summary[key]:,}" in first, key
