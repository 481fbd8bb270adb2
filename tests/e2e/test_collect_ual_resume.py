"""`ual` windows read again by `--resume`, end to end over real HTTPS against the emulator: a window
that failed in one run and is read in parts by the next leaves no stale entry beside its parts'
entries (docs/internals.md, "The `ual` source"; issue: honest negatives)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_collect_emulator import assert_verifies, ledger, make_config, raw_records, run_collect

from evkit.cli import main
from evkit.collector.config import load_config
from evkit.collector.windows import TimeWindow
from evkit.emulator import records as rec
from evkit.emulator import ual as emulator_ual
from evkit.emulator.faults import FaultDice, parse_faults
from evkit.emulator.testing import running_emulator

pytestmark = pytest.mark.slow

# Test-only: the collector's ResultSize (and so its "full" threshold) set small, so that the
# small bec-basic scenario has windows answering full without a million records.
# And a run stopped (SIGKILL) where it would seal, as a run interrupted after its last window
# failed: its bundle stays open, so `--resume` reads the failed windows again.
HOOK = '''
import os, signal
if os.environ.get("EVKIT_TEST_UAL_PAGE"):
    import evkit.collector.sources.ual as _ual
    _ual.PAGE_SIZE = int(os.environ["EVKIT_TEST_UAL_PAGE"])
if os.environ.get("EVKIT_TEST_KILL_AT_SEAL"):
    import evkit.manifests.bundle as _b
    def _seal(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    _b.BundleWriter.seal = _seal
'''


def hook_env(tmp: Path, **env: str) -> dict[str, str]:
    hook = tmp / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    pythonpath = os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": pythonpath, **env}


def truth(emu: Any, config: Path) -> dict[str, str]:
    cfg = load_config(config)
    keep = emulator_ual._matcher({"Operations": list(cfg.operations)}, None)
    return {r["Id"]: r["Operation"] for r in rec.iter_matching(emu.state.scenario, cfg.window_start,
                                                                cfg.window_end, keep)}


def ual_entries(bundle: Path) -> list[dict[str, Any]]:
    return [e for e in ledger(bundle) if e["source"] == "ual"]


def test_a_failed_window_read_in_parts_on_resume_keeps_no_stale_failed_entry(tmp_path, signing_key) -> None:
    out = tmp_path / "bundle"
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, faults="503=1") as emu:
        config = make_config(emu, sources=["ual"])
        config.write_text(re.sub(r"retry_budget = \d+", "retry_budget = 1", config.read_text(encoding="utf-8")),
                          encoding="utf-8")
        want = truth(emu, config)
        first = run_collect(config, out, signing_key, emu, env_extra=hook_env(tmp_path, EVKIT_TEST_KILL_AT_SEAL="1"))
        assert first.returncode == -signal.SIGKILL, first.stderr
        emu.state.dice = FaultDice(parse_faults(None), 1)  # the service recovers
        second = run_collect(config, out, signing_key, emu, resume=True,
                             env_extra=hook_env(tmp_path, EVKIT_TEST_UAL_PAGE="20"))
    assert second.returncode == 0, second.stderr
    assert_verifies(out, signing_key)
    assert raw_records(out)["ual"] == want
    entries = ual_entries(out)
    assert all(e["status"] == "complete" and e["established"] for e in entries), \
        [(e["unit"], e["status"], e["reason"]) for e in entries if e["status"] != "complete"]
    # the entries tile the collection window: none overlaps another (a stale one would)
    cfg = load_config(config)
    windows = sorted(TimeWindow.from_json(e["window"]) for e in entries)
    assert windows[0].start == cfg.window_start and windows[-1].end == cfg.window_end
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))
    # what the earlier run found is said where it was replaced, not lost
    replaced = [s for e in entries for s in e.get("supersedes", [])]
    assert replaced and all(s["status"] == "failed" and s["reason"] for s in replaced)
    assert any(len(e.get("supersedes", [])) and e["unit"] not in {s["unit"] for s in e["supersedes"]}
               for e in entries)  # at least one failed window was read again in parts


def test_answers_holding_rows_from_outside_their_window_fail_it_and_the_report_says_so(tmp_path, signing_key) -> None:
    # the emulator's `foreign` fault: every answer without a session reaches back before its window
    # (emulator/faults.py); asked again, the answer is the same, so the window is not complete
    key = signing_key[0]
    out = tmp_path / "bundle"
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, faults="foreign=1") as emu:
        config = make_config(emu, sources=["ual"])
        proc = run_collect(config, out, signing_key, emu)
        case = emu.workdir / "case.toml"
        assert main(["report", str(out), "--case", str(case), "--out", str(tmp_path / "report"),
                     "--signer-key", f"{key}.pub"]) == 0
    assert proc.returncode == 4, proc.stderr
    assert_verifies(out, signing_key)
    entries = ual_entries(out)
    failed = [e for e in entries if e["status"] == "failed"]
    assert failed and all(re.search(r"\d+ of \d+ rows dated outside the window \(\S+Z \.\. \S+Z\) in 2 answers",
                                    e["reason"]) and e["outside_window"] > 0 and e["calls"] >= 2 for e in failed)
    assert all(e["outside_window"] == 0 for e in entries if e["status"] == "complete")
    # the answers are stored as received, the rows from outside included
    for e in failed:
        pages = [json.loads(m.read_bytes()) for m in (out / "data" / "raw" / "ual").rglob(f"{e['unit']}/*.meta.json")]
        assert len([p for p in pages if p["status"] == 200]) == e["calls"]  # (a redirect is stored too)
    # and each failed window is a visibility gap in the report, in words
    findings = json.loads((tmp_path / "report" / "findings.json").read_text(encoding="utf-8"))
    gaps = {row["unit"]: row for row in findings["completeness"] if row["source"] == "ual"}
    assert {e["unit"] for e in failed} <= {u for u, row in gaps.items() if row["status"] == "failed"}
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(tmp_path / "report" / "report.pdf"), "-"],
                                   capture_output=True, text=True, check=True).stdout.split())
    assert "dated outside the window" in text
