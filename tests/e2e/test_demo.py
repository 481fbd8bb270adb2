"""`evkit demo` end to end: its report trusts the examiner's public key it was handed, and says so;
it keeps every PDF reading rule (tests/report/pdfrules.py); the README shows its page 1."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "report"))

from pdfrules import check_report  # noqa: E402

from evkit.demo import run_demo  # noqa: E402

PAGE_ONE_PNG = "docs/report-page1.png"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


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
    check_report(out / "report")
    # the README's picture of page 1 is this page, rendered the way the README says
    assert f"]({PAGE_ONE_PNG})" in (REPO / "README.md").read_text(encoding="utf-8")
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile",
                    str(out / "report" / "report.pdf"), str(tmp_path / "page1")], check=True)
    assert png_size(tmp_path / "page1.png") == png_size(REPO / PAGE_ONE_PNG)
