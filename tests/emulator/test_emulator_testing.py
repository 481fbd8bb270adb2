"""evkit.emulator.testing.running_emulator with a real named scenario, as other packages' tests use it."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

from emulator_helpers import Api

from evkit.emulator.testing import running_emulator


def test_running_emulator_with_bec_basic(tmp_path):
    with running_emulator(tmp_path, scenario="bec-basic", seed=1, service="legacy") as emu:
        c = emu.connection
        assert emu.url == c["url"] and emu.workdir == tmp_path and c["scenario"] == "bec-basic"
        assert json.loads((tmp_path / "ground-truth.json").read_text())["scenario"] == "bec-basic"
        api = Api(emu)
        window = c["window"]
        rows = api.invoke("Search-UnifiedAuditLog", StartDate=window["start"], EndDate=window["end"],
                          ResultSize=1).json()["value"]
        start = dt.datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(window["end"].replace("Z", "+00:00"))
        assert rows[0]["ResultCount"] == emu.state.scenario.count(start, end) > 0
        assert (tmp_path / "connection.json").exists()
        # the collection config and the case file name the same case, so a report over what the
        # emulator's config collects never warns that the case id matches no bundle
        collect = tomllib.loads((tmp_path / "collect.toml").read_text())
        case = tomllib.loads((tmp_path / "case.toml").read_text())
        assert collect["case"]["id"] == case["case"]["id"]
    assert not (tmp_path / "connection.json").exists()
