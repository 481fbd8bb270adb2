"""Fonts as a reader meets them: embedded, non-Latin evidence readable, never '?'.

Rendered PDFs are read back with poppler (pdffonts, pdftotext). A Japanese folder name comes out
as text where a CJK font is installed (Debian's fonts-droid-fallback) and as code points where
none is: either way the exact characters can be told.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pdfrules import check_fonts_embedded, check_shown_as_text

from evkit.report.pdf.report import render_report
from evkit.report.pdf.typefaces import CJK_FONT_PATH

FIXTURES = Path(__file__).parent / "fixtures"
CYRILLIC = "\\Входящие"
JAPANESE = "\\受信トレイ"
GREEK = "Ελληνικά"

pytestmark = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdffonts")),
                                reason="poppler-utils missing: run `make tools`")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    findings = json.loads((FIXTURES / "findings_bec.json").read_text(encoding="utf-8"))
    findings["syncs"][0]["folder"] = CYRILLIC
    findings["syncs"][1]["folder"] = JAPANESE
    findings["sends"][0]["subject"] = f"{GREEK} \U0001F4B8"
    findings["case"]["id"] = "IR-Ж-受"
    out = tmp_path_factory.mktemp("fonts") / "r.pdf"
    render_report(findings, out)
    return out


def text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_every_font_is_embedded(pdf):
    check_fonts_embedded(pdf)


def test_cyrillic_and_greek_come_out_as_text(pdf):
    shown = text(pdf)
    assert CYRILLIC in shown
    assert GREEK in shown
    assert "?" not in re.sub(r"[^\w?]", "", shown.split("Folder synchronisation")[1][:2000])


def test_japanese_is_text_with_a_cjk_font_and_code_points_without(pdf):
    check_shown_as_text(pdf, [JAPANESE])
    if CJK_FONT_PATH is None:
        assert "\\[U+53D7][U+4FE1][U+30C8][U+30EC][U+30A4]" in text(pdf)


def test_a_character_no_font_has_is_its_code_point(pdf):
    assert f"{GREEK} [U+1F4B8]" in text(pdf)


def test_the_page_header_draws_one_font_and_shows_the_rest_as_code_points(pdf):
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    assert "Case IR-Ж-[U+53D7]" in first


def test_same_findings_same_bytes_with_embedded_fonts(pdf, tmp_path):
    findings = json.loads((FIXTURES / "findings_bec.json").read_text(encoding="utf-8"))
    findings["syncs"][0]["folder"] = CYRILLIC
    findings["syncs"][1]["folder"] = JAPANESE
    findings["sends"][0]["subject"] = f"{GREEK} \U0001F4B8"
    findings["case"]["id"] = "IR-Ж-受"
    render_report(findings, tmp_path / "again.pdf")
    assert (tmp_path / "again.pdf").read_bytes() == pdf.read_bytes()
