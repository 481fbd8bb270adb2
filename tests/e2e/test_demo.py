"""`evkit demo` end to end: its report trusts the examiner's public key it was handed, and says so."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from evkit.demo import run_demo


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_demo_report_page_one_says_the_evidence_verified_against_the_trusted_key(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_demo(out) == 0
    printed = capsys.readouterr()
    assert "--signer-key" in printed.out
    listed = subprocess.run(["ssh-keygen", "-lf", str(out / "examiner.key.pub")], capture_output=True,
                            text=True, check=True).stdout.split()[1]
    text = subprocess.run(["pdftotext", "-layout", "-f", "1", "-l", "1", str(out / "report" / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    page_one = " ".join(text.split())
    assert (f"Signed by examiner@evkit-demo.example (key {listed}), verified against the key you trust"
            in page_one), page_one
    assert "UNTRUSTED" not in page_one and "INVALID" not in page_one
    custody = sorted((out / "bundle" / "custody").glob("*.json"))
    assert "report-generated" in custody[-1].read_text(encoding="utf-8")
