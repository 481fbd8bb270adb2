"""A readiness collection for real: `evkit collect` with only the config and licences sources
against the emulator's misconfigured tenant over HTTPS, then `evkit readiness` on its bundle."""

from __future__ import annotations

import json
import os
import re

import pytest

pytest.importorskip("evkit.emulator.scenarios.build")

PASSPHRASE = "readiness-e2e-passphrase"


@pytest.mark.slow
def test_collect_config_and_licences_then_readiness(tmp_path, evkit_cli):
    from evkit.emulator.testing import running_emulator
    from evkit.manifests.keys import generate_key

    generate_key(tmp_path / "examiner.key", "examiner@firm.example", PASSPHRASE)
    with running_emulator(tmp_path / "emu", "misconfigured") as emu:
        toml = (emu.workdir / "collect.toml").read_text(encoding="utf-8")
        toml, n = re.subn(r"sources = \[[^\]]*\]", 'sources = ["config", "licences"]', toml)
        assert n == 1
        config = emu.workdir / "readiness.toml"
        config.write_text(toml, encoding="utf-8")
        env = dict(os.environ, EVKIT_PASSPHRASE=PASSPHRASE,
                   EVKIT_CERT_PASSPHRASE=emu.connection["certificate"]["key_passphrase"] or "",
                   EVKIT_CLIENT_SECRET=emu.connection["client_secret"])
        collected = evkit_cli("collect", "--config", str(config), "--out", str(tmp_path / "bundle"),
                              "--key", str(tmp_path / "examiner.key"), "--quiet", env=env)
        assert collected.returncode == 0, collected.stderr
        services = {service for _, service, _, _, _ in emu.requests}
    assert "manage" not in services  # a readiness collection reads no audit records
    assert sorted(p.name for p in (tmp_path / "bundle" / "data" / "raw").iterdir()) == ["config", "licences"]

    pub = str(tmp_path / "examiner.key.pub")
    result = evkit_cli("readiness", str(tmp_path / "bundle"), "--out", str(tmp_path / "out"), "--signer-key", pub)
    assert result.returncode == 0, result.stderr
    model = json.loads((tmp_path / "out" / "readiness.json").read_text(encoding="utf-8"))
    assert model["missing_evidence"] == [] and model["bundles"][0]["verdict"] in ("valid", "cannot verify")
    verdicts = {r["mailbox"]: r["verdict"] for r in model["mailboxes"]
                if not r["mailbox"].startswith("user0")}  # baseline users vary with the seed
    assert {m for m, v in verdicts.items() if v == "investigable"} == {
        "alice@contoso.com", "bob@contoso.com", "erin@contoso.com"}
    assert {r["licence"] for r in model["mailboxes"] if r["verdict"] == "investigable"} == {"premium"}
    targets = {f["target"]: f["finding"] for f in model["fixes"]}
    assert targets["svc-backup"] == "bypass"
    assert targets["dave@contoso.com"] == "audit-set-lacks-MailItemsAccessed"
    assert targets["finance@contoso.com"] == "no-audit-licence"
    again = evkit_cli("readiness", str(tmp_path / "bundle"), "--out", str(tmp_path / "again"), "--signer-key", pub)
    assert again.returncode == 0
    for name in ("readiness.json", "readiness.pdf"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
