"""`evkit report` on a bundle made by the real collector from the emulator (bec-basic).

emulator -> `evkit collect` (subprocess, real HTTPS) -> `evkit report` with the scenario's
day-one case.toml -> scored against the ground truth like the direct-bundle scenario tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "report"))

from pdfrules import check_report  # noqa: E402
from scoring import score  # noqa: E402

from test_collect_emulator import clock_env, collected_at  # noqa: E402

from evkit.cli import main  # noqa: E402

pytestmark = pytest.mark.slow
testing = pytest.importorskip("evkit.emulator.testing")


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _collect_and_report(tmp_path, signing_key, **options):
    key, passphrase, _ = signing_key
    with testing.running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, **options) as emu:
        conn = emu.connection
        env = dict(os.environ, EVKIT_PASSPHRASE=passphrase, EVKIT_CLIENT_SECRET=conn["client_secret"],
                   EVKIT_CERT_PASSPHRASE=conn["certificate"]["key_passphrase"],
                   **clock_env(tmp_path, collected_at(emu)))  # the sign-in log still holds the window
        bundle = tmp_path / "bundle"
        proc = subprocess.run([sys.executable, "-m", "evkit", "collect", "--config", str(emu.workdir / "collect.toml"),
                               "--out", str(bundle), "--key", str(key), "--quiet"],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        out = tmp_path / "out"
        assert main(["report", str(bundle), "--case", str(emu.workdir / "case.toml"), "--out", str(out),
                     "--signer-key", f"{key}.pub"]) == 0
        truth = json.loads((emu.workdir / "ground-truth.json").read_text(encoding="utf-8"))
    return proc, out, truth


@pytest.fixture(scope="module")
def collected(tmp_path_factory, signing_key):
    """One collection of bec-basic with every source, and its report."""
    return _collect_and_report(tmp_path_factory.mktemp("collected"), signing_key)


def test_sign_ins_and_mail_apps_in_the_pdf(collected):
    """The attacker's sign-ins (address, app, user agent, the mailboxes their sessions read) and
    the app consented in the window are on the page, from the Entra sign-in log."""
    proc, out, truth = collected
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert findings["sign_ins"]["source"] == "Entra sign-in log" and findings["sign_ins"]["gap"] is None
    text = " ".join(_pdf_text(out / "report.pdf").split())
    for words in ("Sign-ins of the attacker's sessions", "from the Entra sign-in log", "python-requests/2.31.0",
                  "Mail Sync Tool", "Applications that can read mail", "Mail.Read", "(delegated)",
                  truth["indicators"]["ips"][0]):
        assert words in text, words
    bad = next(a for a in truth["apps"] if a["attacker"])
    assert f"{bad['consented_at'][:10]} {bad['consented_at'][11:16]}" in text
    # the app the evidence was collected with holds Exchange.ManageAsApp since just before: listed, never a lead
    own = [a for a in findings["applications"]["apps"] if a["collecting_app"]]
    assert [(a["permissions"], a["recent"]) for a in own] == [(["Exchange.ManageAsApp"], False)]


def test_without_entra_p1_the_report_falls_back_to_the_audit_log_and_says_so(tmp_path, signing_key):
    proc, out, truth = _collect_and_report(tmp_path, signing_key, entra_p1=False)
    assert proc.returncode == 4 and "Entra ID P1" in proc.stderr
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    section = findings["sign_ins"]
    assert section["source"].startswith("audit log") and "Entra ID P1" in section["gap"]
    assert any("Entra ID P1" in line for line in findings["limitations"])
    result = score(truth, out)   # the attacker's sign-ins are still all listed, from the audit log
    assert result.failures == [], "\n".join(result.failures[:20])
    text = " ".join(_pdf_text(out / "report.pdf").split())
    assert "Collecting the Entra sign-in log failed" in text and "UserLoggedIn" in text


def test_report_on_a_collected_bundle(collected, capsys):
    proc, out, truth = collected
    assert proc.returncode in (0, 4), proc.stderr
    result = score(truth, out)
    with capsys.disabled():
        print("\n[bec-basic, collected]")
        for line in result.lines:
            print("  " + line)
    assert result.failures == [], "\n".join(result.failures[:20])
    check_report(out)                    # its PDF, read as a reader does (tests/report/pdfrules.py)
