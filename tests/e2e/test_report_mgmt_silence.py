"""A Management API subscription someone else started recently, end to end: the API lists nothing
for the days before the start and gives no start date, so the collector records those listings
`complete`; the report's day-by-day cross-check against `ual` names those days a possible gap
instead of reading `mgmt`'s silence as agreement (report/rules/crosscheck.py)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from test_collect_emulator import clock_env, ledger, make_config, run_collect

from evkit.cli import main
from evkit.emulator.testing import running_emulator

pytestmark = pytest.mark.slow


def test_days_before_a_recent_subscription_are_named_a_possible_gap(tmp_path, signing_key) -> None:
    key = signing_key[0]
    with running_emulator(tmp_path / "probe", scenario="bec-basic") as probe:
        end = probe.state.now
    now = end + dt.timedelta(hours=25)  # every record searchable, every blob available
    started = end - dt.timedelta(days=3)  # when someone else started the Exchange subscription
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, now=now, mgmt_subscriptions="enabled") as emu:
        emu.state.subscriptions["Audit.Exchange"]["available_from"] = started
        config = make_config(emu, sources=["ual", "mgmt"])
        proc = run_collect(config, tmp_path / "bundle", signing_key, emu, env_extra=clock_env(tmp_path, now))
        case = emu.workdir / "case.toml"
        assert main(["report", str(tmp_path / "bundle"), "--case", str(case), "--out", str(tmp_path / "report"),
                     "--signer-key", f"{key}.pub"]) == 0
    assert proc.returncode == 0, proc.stderr  # the API said nothing wrong: every listing is complete
    exchange = [e for e in ledger(tmp_path / "bundle") if e["unit"].startswith("Audit.Exchange/")
                and e["status"] == "complete"]
    assert exchange and min(e["window"]["start"] for e in exchange) < f"{started:%Y-%m-%dT%H:%M:%S}"
    findings = json.loads((tmp_path / "report" / "findings.json").read_text(encoding="utf-8"))
    said = [line for line in findings["limitations"] if line.startswith("Possible gap")]
    assert len(said) == 1 and "Audit.Exchange" in said[0] and "Exchange record(s)" in said[0], said
    days = re.search(r"on (\d+ \w+ \d{4})(?: to (\d+ \w+ \d{4}))? the audit log", said[0])
    assert days is not None
    last = dt.datetime.strptime(days.group(2) or days.group(1), "%d %B %Y").replace(tzinfo=dt.timezone.utc)
    assert last + dt.timedelta(days=1) <= started  # only days wholly before the start, none after it
