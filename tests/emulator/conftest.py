"""One emulator for the whole emulator test session, over real HTTPS, serving the predictable
FakeScenario (emulator_fakes.py); helpers are in emulator_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_fakes import FakeScenario
from emulator_helpers import Api

from evkit.emulator.testing import RunningEmulator, running_emulator


@pytest.fixture(scope="session")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    workdir = tmp_path_factory.mktemp("emulator")
    # The contract tests here describe the legacy service; current-service behaviour has its own
    # emulator in test_emulator_current.py.
    with running_emulator(workdir, scenario=FakeScenario(), seed=7, device_interval=1, service="legacy",
                          device_approve_after=2, mgmt_page_size=10) as running:
        yield running


@pytest.fixture(scope="session")
def api(emu: RunningEmulator) -> Api:
    return Api(emu)
