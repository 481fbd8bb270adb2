"""`ual` windows read again by `--resume`, end to end over real HTTPS against the emulator: a window
that failed in one run and is read in parts by the next leaves no stale entry beside its parts'
entries (docs/internals.md, "The `ual` source"; issue: honest negatives)."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from test_collect_emulator import assert_verifies, ledger, make_config, raw_records, run_collect

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
