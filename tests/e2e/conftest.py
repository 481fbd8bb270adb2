"""Fixtures shared by the e2e tests of the `mailbox` source and its report section: one bec-basic
emulator per module (its collect.toml is written by bec_helpers.bec_config)."""

from __future__ import annotations

import pytest

from evkit.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def bec_emu(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("bec"), scenario="bec-basic", seed=1) as running:
        yield running


@pytest.fixture
def bec_env(bec_emu, monkeypatch, signing_key):
    """The secrets `evkit collect` reads; permissions withheld by a test are restored after it."""
    monkeypatch.setenv("EVKIT_CERT_PASSPHRASE", bec_emu.connection["certificate"]["key_passphrase"])
    monkeypatch.setenv("EVKIT_PASSPHRASE", signing_key[1])
    yield
    bec_emu.emulator.options.withhold = ()
