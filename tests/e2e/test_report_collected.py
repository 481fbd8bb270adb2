"""`evkit report` on a bundle made by the real collector from the emulator (bec-basic).

emulator -> `evkit collect` (subprocess, real HTTPS) -> `evkit report` with the scenario's
day-one case.toml -> scored against the ground truth like the direct-bundle scenario tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from pdfrules import check_report  # noqa: E402
from scoring import score  # noqa: E402

from evkit.cli import main  # noqa: E402

pytestmark = pytest.mark.slow
testing = pytest.importorskip("evkit.emulator.testing")


def test_report_on_a_collected_bundle(tmp_path, signing_key, capsys):
    key, passphrase, _ = signing_key
    with testing.running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1) as emu:
        conn = emu.connection
        env = dict(os.environ, EVKIT_PASSPHRASE=passphrase, EVKIT_CLIENT_SECRET=conn["client_secret"],
                   EVKIT_CERT_PASSPHRASE=conn["certificate"]["key_passphrase"])
        bundle = tmp_path / "bundle"
        proc = subprocess.run([sys.executable, "-m", "evkit", "collect", "--config", str(emu.workdir / "collect.toml"),
                               "--out", str(bundle), "--key", str(key), "--quiet"],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        assert proc.returncode in (0, 4), proc.stderr
        truth_path, case = emu.workdir / "ground-truth.json", emu.workdir / "case.toml"
        out = tmp_path / "out"
        assert main(["report", str(bundle), "--case", str(case), "--out", str(out),
                     "--signer-key", f"{key}.pub"]) == 0
    import json

    result = score(json.loads(truth_path.read_text(encoding="utf-8")), out)
    with capsys.disabled():
        print("\n[bec-basic, collected]")
        for line in result.lines:
            print("  " + line)
    assert result.failures == [], "\n".join(result.failures[:20])
    check_report(out)                    # its PDF, read as a reader does (tests/report/pdfrules.py)
