"""Every scenario collected by `evkit collect` over real HTTPS against the emulator, under the
current and the legacy service, clean and with faults plus SIGKILL at 10 points: the collected
record set equals the scenario's ground truth, source by source.

- `ual` and `graph`: exactly the records the scenario logged of the collected operations in the
  window (the emulator's own record store, not a clean run of the collector, is the truth).
- `mgmt`: every record of the three content types from the API's 7 days, and nothing the scenario
  did not log (its listing runs by availability, so a little more than 7 days can come back).

The Management API works against a clock: the emulator's is the scenario's (`now` 25 hours after
the window's end, so every record is searchable and every blob available), and the collector is
set to the same moment by a test-only sitecustomize (CLOCK, like the kill hook in test_collect_emulator.py; not in the
product). Without it the collector's own clock puts the scenario years outside the API's 7 days
and `mgmt` is never asked. The tenant has its subscriptions enabled (as one feeding a SIEM has).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from test_collect_emulator import (ALL_FAULTS, CLOCK, assert_verifies, clock_env, kill_then_resume, make_config,
                                  raw_records, run_collect)

from evkit.collector.config import load_config
from evkit.emulator import records as rec
from evkit.emulator.testing import running_emulator

pytestmark = pytest.mark.slow

SCENARIOS = ("bec-basic", "throttled", "misconfigured", "negatives")
SERVICES = ("current", "legacy")
SETTLED = dt.timedelta(hours=25)   # past the 24 h audit records may take to be searchable (and mgmt's 12 h)
RETENTION = dt.timedelta(days=7)
COLLECTED_TYPES = ("Audit.Exchange", "Audit.AzureActiveDirectory", "Audit.General")  # collector/sources/mgmt.py
# every fault kind of test_collect_emulator.py but `slow`, with Retry-After 0: the same paths, less waiting
KILL_FAULTS = ALL_FAULTS.replace("slow=0.02:0.3,", "").replace("retry-after=1", "retry-after=0")
KILL_POINTS = (3, 7, 12, 18, 25, 33, 42, 52, 63, 75)

def settled_now(name: str) -> dt.datetime:
    from evkit.emulator.scenarios.catalog import SCENARIOS as CATALOG

    return dt.datetime.fromtimestamp(CATALOG[name].end, dt.timezone.utc) + SETTLED


def truth(emu: Any, config: Path, now: dt.datetime) -> dict[str, set[str]]:
    """The ids each source must end with (mgmt: `mgmt` at least, `logged` at most)."""
    cfg = load_config(config)
    operations = {o.lower() for o in cfg.operations}
    sc = emu.state.scenario
    in_window = list(rec.iter_matching(sc, cfg.window_start, cfg.window_end, lambda r: True))
    ual = {r["Id"] for r in in_window if str(r.get("Operation", "")).lower() in operations}
    floor = now - RETENTION + dt.timedelta(minutes=10)  # the collector lists from 7 days less 5 minutes
    mgmt = {r["Id"] for r in in_window if rec.record_time(r) >= floor and rec.content_type_of(r) in COLLECTED_TYPES}
    logged = {r["Id"] for r in rec.iter_matching(sc, cfg.window_start - dt.timedelta(days=1),
                                                 cfg.window_end + dt.timedelta(days=1), lambda r: True)}
    return {"ual": ual, "mgmt": mgmt, "logged": logged}


def check_against_truth(bundle: Path, want: dict[str, set[str]], signing_key: tuple) -> None:
    assert_verifies(bundle, signing_key)
    got = raw_records(bundle)
    assert set(got["ual"]) == want["ual"], (len(got["ual"]), len(want["ual"]))
    assert set(got["graph"]) == want["ual"]
    assert want["mgmt"] <= set(got["mgmt"]) <= want["logged"], (len(want["mgmt"]), len(got["mgmt"]))
    ledger = json.loads((bundle / "data" / "collection.json").read_bytes())["ledger"]
    # mgmt's part older than its 7 days: one skip per content type that `ual` covers (collector/sources/mgmt.py)
    older = [e for e in ledger if e["status"] == "skipped" and e.get("covered_by") == "ual"]
    assert {e["source"] for e in older} <= {"mgmt"} and len(older) in (0, len(COLLECTED_TYPES))
    ledger = [e for e in ledger if e not in older]
    assert all(e["status"] == "complete" for e in ledger), [e for e in ledger if e["status"] != "complete"][:3]
    assert {e["source"] for e in ledger} == {"ual", "mgmt", "graph", "config", "licences", "mailbox", "signins", "apps"}
    listing = sorted((e["window"]["start"], e["window"]["end"]) for e in ledger
                     if e["source"] == "mgmt" and e["unit"].startswith("Audit.Exchange/"))
    assert len(listing) == 7 and all(a[1] == b[0] for a, b in zip(listing, listing[1:]))  # one plan, no overlap
    assert all(e["window"]["end"] == listing[0][0] for e in older)  # the skip ends where listing begins


# Each scenario once clean and once with faults and SIGKILL, the two on different services, so both
# services see every scenario and both kinds of run (eight runs keep the suite's time in bounds).
RUNS = [(name, service, kind) for i, name in enumerate(SCENARIOS)
        for service, kind in zip(SERVICES, ("clean", "killed") if i % 2 == 0 else ("killed", "clean"))]


@pytest.mark.parametrize("name,service,kind", RUNS)
def test_collected_records_equal_the_ground_truth(name: str, service: str, kind: str, tmp_path, signing_key) -> None:
    now = settled_now(name)
    out = tmp_path / "bundle"
    faults = KILL_FAULTS if kind == "killed" else None
    with running_emulator(tmp_path / "emu", scenario=name, seed=1, service=service, now=now,
                          mgmt_subscriptions="enabled", faults=faults) as emu:
        config = make_config(emu)
        want = truth(emu, config, now)
        env = clock_env(tmp_path, now)
        if kind == "clean":
            kills, final = 0, run_collect(config, out, signing_key, emu, env_extra=env)
        else:
            kills, final = kill_then_resume(config, out, signing_key, emu, KILL_POINTS, tmp_path / "hook",
                                            prelude=CLOCK, env_extra={"EVKIT_TEST_NOW": env["EVKIT_TEST_NOW"]})
        served = {fault for *_, fault in emu.requests if fault}
    assert final.returncode == 0, final.stderr
    assert len(want["ual"]) > 1000 and len(want["mgmt"]) > 500
    check_against_truth(out, want, signing_key)
    if kind == "killed":
        assert kills == len(KILL_POINTS), f"only {kills} kills before the run finished"
        assert {"429", "503", "reset", "truncate"} <= served, served
        record = json.loads((out / "data" / "collection.json").read_bytes())
        assert record["runs"] > 5  # most kills landed after the bundle existed, so the runs resumed it
        # the per-unit sources too: every unit finished once, none asked again after a resume
        for source in ("mailbox", "signins", "apps"):
            units = [e["unit"] for e in record["ledger"] if e["source"] == source]
            assert len(units) == len(set(units)), source
