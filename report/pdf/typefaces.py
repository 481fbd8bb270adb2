"""The fonts evkit's PDFs embed, and what a page shows for a character no font has.

- Latin, Greek and Cyrillic (and much more): DejaVu Sans Condensed (regular, bold) and DejaVu Sans
  Mono, shipped in `report/pdf/fonts/` with their licence, so a report never depends on the fonts
  of the machine that made it. Condensed keeps tables as compact as the old built-in Helvetica.
- Chinese, Japanese and Korean: a CJK font is 4 MB to 100 MB, too large to ship, so it is looked
  up at run time in known system paths (`CJK_CANDIDATES`; Debian's `fonts-droid-fallback` gives the
  first). Where none is installed, CJK characters are shown as their code points.
- A character no embedded font can draw, and any control or invisible formatting character, is
  shown as its code point in brackets ("[U+3042]"), never as "?" or an empty box: the reader can
  tell exactly what the evidence holds. findings.json keeps the value itself.

reportlab embeds a subset of each TrueType font with names derived from the document, not from
the clock or a random source, so the same findings still give the same bytes (on a machine with
the same CJK font, or none).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from reportlab.graphics import shapes
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
SANS, SANS_BOLD, MONO, CJK = "EvkitSans", "EvkitSans-Bold", "EvkitMono", "EvkitCJK"
_SHIPPED = {SANS: "DejaVuSansCondensed.ttf", SANS_BOLD: "DejaVuSansCondensed-Bold.ttf",
            MONO: "DejaVuSansMono.ttf"}
# TrueType-outline CJK fonts reportlab can embed (it cannot embed CFF-outline OpenType fonts
# such as Noto Sans CJK), most complete first.
CJK_CANDIDATES = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf"),
)
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _register(name: str, path: Path) -> frozenset[int]:
    """Register a TrueType font; the characters it draws that a page can carry as text (the
    Basic Multilingual Plane: reportlab's text map cannot name characters beyond it, so those
    are shown as code points rather than extracted as the wrong character)."""
    font = TTFont(name, str(path))
    pdfmetrics.registerFont(font)
    return frozenset(c for c in font.face.charToGlyph if c <= 0xFFFF)


def _family(name: str, bold: str) -> None:
    for is_bold, is_italic in ((0, 0), (0, 1), (1, 0), (1, 1)):
        addMapping(name, is_bold, is_italic, bold if is_bold else name)


_MAIN = _register(SANS, FONT_DIR / _SHIPPED[SANS]) & _register(SANS_BOLD, FONT_DIR / _SHIPPED[SANS_BOLD])
_register(MONO, FONT_DIR / _SHIPPED[MONO])
_family(SANS, SANS_BOLD)
_family(MONO, MONO)
# A chart starts from reportlab's default state, which names the unembedded Helvetica even when
# every label sets its own font; evkit's charts start from the embedded font instead.
shapes.STATE_DEFAULTS["fontName"] = SANS


def _find_cjk() -> tuple[Path | None, frozenset[int]]:
    for path in CJK_CANDIDATES:
        if path.is_file():
            try:
                chars = _register(CJK, path)
            except Exception:  # noqa: BLE001 - an unreadable system font is skipped, never fatal
                continue
            _family(CJK, CJK)
            return path, chars
    return None, frozenset()


CJK_FONT_PATH, _CJK_CHARS = _find_cjk()


def in_main_font(ch: str) -> bool:
    """True when the main (shipped) fonts draw `ch`."""
    return ord(ch) in _MAIN


def in_cjk_font(ch: str) -> bool:
    """True when a CJK font was found on this machine and it draws `ch` (and the main fonts do not)."""
    return ord(ch) not in _MAIN and ord(ch) in _CJK_CHARS


def invisible(ch: str) -> bool:
    """Control, format (bidi overrides, zero-width), surrogate, private-use or unassigned."""
    return unicodedata.category(ch) in _INVISIBLE


def code_point(ch: str) -> str:
    """How a page shows a character it cannot or must not draw: "[U+3042]"."""
    return f"[U+{ord(ch):04X}]"
