"""`ual` end to end over real HTTPS against the emulator, on days holding more than 5,000 records
each, under the current and the legacy service, with and without faults, and resumed after
SIGKILL at several points: the collected record set equals the scenario's ground truth
(docs/emulator-fidelity.md UAL-1..UAL-7, EXO-1..EXO-3; docs/internals.md, "The `ual` source")."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_collect_emulator import assert_verifies, kill_then_resume, make_config, raw_records, run_collect

from evkit.collector.config import load_config
from evkit.emulator import records as rec
from evkit.emulator import ual as emulator_ual
from evkit.emulator.testing import running_emulator

pytestmark = pytest.mark.slow

RECORDS = 150_000            # about 6,500 records on each weekday of the `large` scenario
DAYS = 1                     # the collection window: the scenario's last day
FAULTS = "429=0.05,503=0.03,reset=0.03,truncate=0.03,slow=0.02:0.2"


def dense_config(emu: Any) -> Path:
    config = make_config(emu, sources=["ual"])
    end = emu.state.scenario.end
    end = dt.datetime.fromtimestamp(end, dt.timezone.utc) if isinstance(end, (int, float)) else end
    start = end - dt.timedelta(days=DAYS)
    text = re.sub(r"(?m)^window = .*$", f'window = ["{start:%Y-%m-%dT%H:%M:%SZ}", "{end:%Y-%m-%dT%H:%M:%SZ}"]',
                  config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")
    return config


def truth(emu: Any, config: Path) -> dict[str, str]:
    cfg = load_config(config)
    keep = emulator_ual._matcher({"Operations": list(cfg.operations)}, None)
    per_day = []
    day = cfg.window_start
    while day < cfg.window_end:
        per_day.append(sum(1 for _ in rec.iter_matching(emu.state.scenario, day, day + dt.timedelta(days=1), keep)))
        day += dt.timedelta(days=1)
    assert min(per_day) > 5000, per_day  # the point of the scenario: every day is over the cap
    return {r["Id"]: r["Operation"] for r in rec.iter_matching(emu.state.scenario, cfg.window_start,
                                                                cfg.window_end, keep)}


def ual_ledger(bundle: Path) -> list[dict[str, Any]]:
    return [e for e in json.loads((bundle / "data" / "collection.json").read_bytes())["ledger"] if e["source"] == "ual"]


@pytest.mark.parametrize("service,faults", [("current", None), ("legacy", None), ("current", FAULTS),
                                            ("legacy", FAULTS)])
def test_dense_days_are_collected_completely(tmp_path, signing_key, service, faults) -> None:
    with running_emulator(tmp_path / "emu", scenario="large", seed=2, service=service, faults=faults,
                          scenario_params={"records": RECORDS}) as emu:
        config = dense_config(emu)
        want = truth(emu, config)
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu)
        statuses = {r[3] for r in emu.requests if r[1] == "exchange"}
    assert proc.returncode == 0, proc.stderr
    assert_verifies(tmp_path / "bundle", signing_key)
    assert raw_records(tmp_path / "bundle")["ual"] == want
    entries = ual_ledger(tmp_path / "bundle")
    assert all(e["status"] == "complete" and e["established"] for e in entries)
    assert max(e["received"] for e in entries) < 5000
    if service == "current":
        assert 307 in statuses  # the tenant-host redirect was met and followed


KILL_POINTS = (2, 5, 9, 14, 20)


def test_sigkill_at_several_points_then_resume_keeps_it_complete(tmp_path, signing_key) -> None:
    out = tmp_path / "bundle"
    with running_emulator(tmp_path / "emu", scenario="large", seed=2, faults="reset=0.03,503=0.03",
                          scenario_params={"records": RECORDS}) as emu:
        config = dense_config(emu)
        want = truth(emu, config)
        kills, final = kill_then_resume(config, out, signing_key, emu, KILL_POINTS, tmp_path / "hook")
    assert kills >= 3, f"only {kills} kills before the run finished"
    assert final.returncode == 0, final.stderr
    assert_verifies(out, signing_key)
    assert raw_records(out)["ual"] == want
    assert all(e["status"] == "complete" for e in ual_ledger(out))
