"""Score `evkit report` against emulator ground truth (issue 5, "done when").

For bec-basic, throttled and misconfigured: the scenario's records are written as the
collector's ual.page responses and its configuration as config/licence pages, sealed, and
reported on starting from the scenario's own day-one case.toml. Every confirmable item must be
confirmed, no owner-only item confirmed, every inferable item inferred (listed, or counted when
no record names it), every unknowable item's mailbox reported unknown for that period.
Precision and recall per class are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from bundlekit import write_bundle  # noqa: E402
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


@pytest.mark.parametrize("name", ["bec-basic", "throttled", "misconfigured", "negatives"])
def test_report_scores_against_ground_truth(name, key, signing_key, tmp_path, capsys):
    sc = build.build_scenario(name, 1, tmp_path / "sc")
    bundle = tmp_path / f"EMU_{name}"
    write_bundle(bundle, list(sc.records(sc.start, sc.end)), window=(format_utc(sc.start), format_utc(sc.end)),
                 extra_files=scenario_pages(sc), key=key, page_size=5000,
                 case_id=load_case(sc.case_path).case_id)
    out = tmp_path / "out"
    assert main(["report", str(bundle), "--case", str(sc.case_path), "--out", str(out),
                 "--signer-key", f"{signing_key[0]}.pub"]) == 0
    result = score(sc.ground_truth, out)
    with capsys.disabled():
        print(f"\n[{name}]")
        for line in result.lines:
            print("  " + line)
    assert result.failures == [], "\n".join(result.failures[:20])
    check_pdf_as_read(out)
    if name == "negatives":
        check_negatives(sc.ground_truth, out)


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
