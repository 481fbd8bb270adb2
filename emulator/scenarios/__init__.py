"""Seeded scenarios for the emulator: tenant, audit records, ground truth and case file.

    from evkit.emulator.scenarios import build_scenario, SCENARIOS, UnknownScenarioError
    sc = build_scenario("bec-basic", seed=1, workdir=Path("work"))
    sc.records(start, end)   # classic AuditData dicts, ascending, streamed from disk

The logging rules applied are documented in pipeline.py and constants.py; README.md gives the
scenario catalogue and the ground-truth format.
"""

from evkit.emulator.scenarios.build import SCENARIOS, Scenario, build_scenario
from evkit.emulator.scenarios.errors import ScenarioParamError, UnknownScenarioError

__all__ = ["SCENARIOS", "Scenario", "ScenarioParamError", "UnknownScenarioError",
           "build_scenario"]
