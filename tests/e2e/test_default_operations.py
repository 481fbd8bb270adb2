"""The collector's default Search-UnifiedAuditLog operations and the emulator's copy (the
emulator may not import product code, so it keeps its own) name the same operations: ground
truth's "default operations" totals are only comparable with a default collection if they do."""

from __future__ import annotations

from collections import Counter

from evkit.collector.config import DEFAULT_OPERATIONS as COLLECTOR
from evkit.emulator.scenarios.constants import DEFAULT_OPERATIONS as EMULATOR


def test_collector_and_emulator_default_operations_are_equal() -> None:
    duplicates = [op for op, n in Counter(COLLECTOR).items() if n > 1]
    assert not duplicates, f"evkit.collector.config.DEFAULT_OPERATIONS repeats {duplicates}"
    only_collector = sorted(set(COLLECTOR) - set(EMULATOR))
    only_emulator = sorted(set(EMULATOR) - set(COLLECTOR))
    assert not only_collector and not only_emulator, (
        f"only in collector/config.py: {only_collector}; only in emulator/scenarios/constants.py: {only_emulator}")
    assert len(EMULATOR) == len(COLLECTOR) > 0
