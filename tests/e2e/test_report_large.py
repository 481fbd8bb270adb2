"""The `large` emulator scenario (300,000 records, about 360 mailboxes) through `evkit report`,
scored against its ground truth and read as a reader does (issue 16, "done when": the PDF rules
hold on every emulator scenario including `large`; tests/report/pdfrules.py).

One session-scoped fixture builds the scenario, seals it as one bundle and reports on it (about
two minutes on two busy cores: build, seal, report); every test here reads that one report.
Marked `large` so `-m "not large"` can leave it out; `make test` runs it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from bundlekit import write_bundle  # noqa: E402
from pdfrules import check_report, flat, page_text  # noqa: E402
from readiness_data import scenario_pages  # noqa: E402
from scoring import score  # noqa: E402

from evkit.cli import main  # noqa: E402
from evkit.report.casefile import load_case  # noqa: E402
from evkit.times import format_utc  # noqa: E402

build = pytest.importorskip("evkit.emulator.scenarios")
pytestmark = [pytest.mark.large, pytest.mark.slow]

RECORDS = 300_000


@pytest.fixture(scope="session")
def large(tmp_path_factory, signing_key):
    """(scenario, report folder, seconds per step) for `large` at RECORDS records."""
    from evkit.manifests.keys import load_signing_key

    where = tmp_path_factory.mktemp("large")
    seconds = {}
    t = time.monotonic()
    sc = build.build_scenario("large", 1, where / "sc", {"records": RECORDS})
    seconds["build"] = time.monotonic() - t
    t = time.monotonic()
    bundle = where / "EMU_large"
    write_bundle(bundle, sc.records(sc.start, sc.end), window=(format_utc(sc.start), format_utc(sc.end)),
                 extra_files=scenario_pages(sc), key=load_signing_key(signing_key[0], signing_key[1]),
                 page_size=5000, case_id=load_case(sc.case_path).case_id)
    seconds["seal"] = time.monotonic() - t
    t = time.monotonic()
    out = where / "out"
    assert main(["report", str(bundle), "--case", str(sc.case_path), "--out", str(out),
                 "--signer-key", f"{signing_key[0]}.pub"]) == 0
    seconds["report"] = time.monotonic() - t
    return sc, out, seconds


def test_large_report_scores_against_ground_truth(large, capsys):
    sc, out, seconds = large
    result = score(sc.ground_truth, out)
    with capsys.disabled():
        print(f"\n[large, {RECORDS:,} records] " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
        for line in result.lines:
            print("  " + line)
    assert result.failures == [], "\n".join(result.failures[:20])


def test_large_report_keeps_every_pdf_rule(large):
    _, out, _ = large
    check_report(out)


def test_large_page_one_states_the_tenant_s_size(large):
    """Hundreds of mailboxes and 50 of them that cannot be assessed still fit page 1, each
    number as findings.json states it."""
    _, out, _ = large
    summary = json.loads((out / "findings.json").read_text(encoding="utf-8"))["summary"]
    assert summary["mailboxes_total"] > 300 and summary["mailboxes_cannot_be_assessed"] >= 40
    first = flat(page_text(out / "report.pdf", 1))
    assert f"= {summary['mailboxes_total']:,} in the evidence." in first
    assert "What cannot be known" in first and "Can the evidence be relied on?" in first
