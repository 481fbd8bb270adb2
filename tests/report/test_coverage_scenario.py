"""coverage_periods against the emulator's ground truth: every 'unknowable' gap the emulator
planted (and the moment a tampering record opened it) is an uncovered period, same reason."""

from __future__ import annotations

import pytest
from readiness_data import scenario_pages

from evkit.report.coverage.config_evidence import load_tenant_config
from evkit.report.coverage.periods import coverage_periods
from evkit.report.coverage.changes import TAMPERING_OPERATIONS

build = pytest.importorskip("evkit.emulator.scenarios.build")

REASON = {"bypass": {"bypass"}, "ingestion-off": {"ingestion-disabled"},
          "org-audit-disabled": {"org-audit-disabled"},
          "licence-lacks-advanced-auditing": {"no-audit-licence", "audit-standard-before-expansion"}}


@pytest.mark.parametrize("name, params", [("bec-basic", None), ("misconfigured", {"ingestion_off": True})])
def test_periods_match_ground_truth(tmp_path, name, params):
    sc = build.build_scenario(name, 1, tmp_path / "sc", params=params)
    root = tmp_path / "bundle"
    for rel, blob in scenario_pages(sc).items():
        path = root / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    truth = sc.ground_truth
    records = list(sc.records(sc.start, sc.end, TAMPERING_OPERATIONS))
    assert records or name == "misconfigured"
    periods = coverage_periods(load_tenant_config([root]), records, truth["incident_window"],
                               logon=("owner", "delegate", "admin"))
    checked = 0
    for box in truth["mailboxes"]:
        for gap in box["unknowable"]:
            expected = REASON.get(gap["reason"], {gap["reason"]})
            starts = [p for p in periods[box["mailbox"]]
                      if not p.covered and p.start.strftime("%Y-%m-%dT%H:%M:%SZ") == gap["start"]]
            assert starts, (box["mailbox"], gap["reason"], gap["start"], periods[box["mailbox"]])
            assert expected & set(starts[0].reasons), (box["mailbox"], gap["reason"], starts[0].reasons)
            last = [p for p in periods[box["mailbox"]] if p.start >= starts[0].start]
            assert all(not p.covered for p in last)
            assert last[-1].end.strftime("%Y-%m-%dT%H:%M:%SZ") == gap["end"]
            checked += 1
    assert checked >= 3
