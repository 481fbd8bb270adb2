"""Building blocks shared by evkit's PDFs (breach-scope report, readiness report).

Everything that makes a PDF trustworthy lives here once:

- `clean`, `esc`, `para`: the only way an untrusted string (subject, folder name, query, user
  agent...) reaches a page. Markup is escaped, control and invisible formatting characters
  (bidi overrides, zero-width) and characters no embedded font has are shown as their code
  point ("[U+3042]"; fonts: `evkit.report.pdf.typefaces`), and very long values are cut with a
  marker. The exact value always stays in
  findings.json; the PDF is a view of it.
- `build_document`: A4 document in reportlab invariant mode with metadata and the creation date
  taken from the caller (never from the clock or SOURCE_DATE_EPOCH), a header with the case id,
  "Page X of Y", and an INVALID EVIDENCE banner on every page when the evidence failed
  verification (UNTRUSTED EVIDENCE when it was not verified against a key the reader trusts).
  Same story in, same bytes out.
- `data_table`, `section`, `none_found`, `note`: tables whose long bodies split across pages
  with a repeated header, and sections that say "None found" instead of vanishing.
- `as_dict`, `as_rows`, `as_list`, `count_text`, `show_time`, `show_period`:
  tolerant reading of a model, so a malformed one renders instead of raising.

Use: build a list of flowables with `rich` (evkit's own markup, untrusted parts through
`esc`), `para` (untrusted text), `data_table(columns, rows)` (cells are escaped for you), then
`build_document(path, DocumentInfo(title, case_id, created_utc, evidence_valid), story)`.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape as _xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from evkit.times import as_utc, format_minutes, parse_iso_or_none
from evkit.report.pdf.typefaces import (
    CJK, MONO, SANS, SANS_BOLD, code_point, in_cjk_font, in_main_font, invisible,
)

PAGE_SIZE = A4
MARGIN = 18 * mm
FRAME_WIDTH = PAGE_SIZE[0] - 2 * MARGIN
DEFAULT_LIMIT = 300            # characters of one untrusted value shown in the PDF
TRUNCATION_MARKER = " [... {more} more characters; full value in findings.json]"
WORD_BACKOFF = 40              # a cut moves back this far at most to fall between words
MAX_TABLE_ROWS = 1000          # beyond this a table says how many rows it left to the JSON/CSV
_CHUNK_ROWS = 250              # reportlab splits huge tables slowly; feed it pieces

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5a5a5a")
ACCENT = colors.HexColor("#1f4e79")
RULE = colors.HexColor("#b8c4d0")
ZEBRA = colors.HexColor("#f2f5f8")
ALERT = colors.HexColor("#b00020")

FONT, FONT_BOLD, FONT_ITALIC, FONT_MONO = SANS, SANS_BOLD, SANS, MONO


# -- untrusted text ---------------------------------------------------------------------------

def _shown(ch: str) -> str:
    """`ch` as the page shows it: itself when a font draws it, else its code point."""
    if ch in "\t\n\r":
        return " "
    if invisible(ch) or not (in_main_font(ch) or in_cjk_font(ch)):
        return code_point(ch)
    return ch


def clean(value: Any, limit: int | None = DEFAULT_LIMIT) -> str:
    """Plain, drawable text for any value from the evidence (no markup escaping yet).

    None becomes "", other non-strings their `str()`. Whitespace controls become spaces;
    control and invisible formatting characters (bidi overrides, zero-width) and characters no
    embedded font has are shown as their code point ("[U+202E]"); text longer than `limit` is
    cut with a marker naming how much was left out, between words when a space falls in the
    last WORD_BACKOFF characters (never "not l [... more]"). CJK characters stay when a CJK font was
    found (`esc` switches to it); `plain_text` is for places that draw with one font only.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    more = 0
    if limit is not None and len(text) > limit:
        cut = limit
        if not text[limit].isspace():
            space = text.rfind(" ", max(0, limit - WORD_BACKOFF), limit)
            cut = space if space > 0 else limit
        kept = text[:cut].rstrip()
        more = len(text) - len(kept)
        text = kept
    shown = "".join(_shown(ch) for ch in text)
    if more:
        shown += TRUNCATION_MARKER.format(more=f"{more:,}")
    return shown


def plain_text(value: Any, limit: int | None = DEFAULT_LIMIT) -> str:
    """`clean`, for text drawn in the main font only (page headers, chart labels): characters
    only the CJK font has are shown as code points too."""
    return "".join(ch if in_main_font(ch) or ch == " " else code_point(ch)
                   for ch in clean(value, limit))


def esc(value: Any, limit: int | None = DEFAULT_LIMIT) -> str:
    """`clean` then escape &, <, > and quotes so the text is inert inside Paragraph markup;
    runs of CJK characters are set in the CJK font."""
    return _markup(clean(value, limit))


def _markup(text: str) -> str:
    out: list[str] = []
    run: list[str] = []
    cjk = False
    for ch in text:
        is_cjk = in_cjk_font(ch)
        if is_cjk != cjk and run:
            out.append(_run("".join(run), cjk))
            run = []
        cjk = is_cjk
        run.append(ch)
    if run:
        out.append(_run("".join(run), cjk))
    return "".join(out)


def _run(text: str, cjk: bool) -> str:
    escaped = _xml_escape(text, {'"': "&quot;", "'": "&#39;"})
    return f'<font name="{CJK}">{escaped}</font>' if cjk else escaped


def one_font(text: str) -> bool:
    """True when the main font draws every character of `text` (already through `clean`)."""
    return all(in_main_font(ch) or ch == " " for ch in text)


def was_altered(value: Any) -> bool:
    """True when `clean` would change a string's characters (used to print a footnote)."""
    return isinstance(value, str) and any(_shown(ch) != ch for ch in value if ch not in "\t\n\r")


# -- styles -----------------------------------------------------------------------------------

def _style(name: str, **kw: Any) -> ParagraphStyle:
    base = {"fontName": FONT, "bulletFontName": FONT, "fontSize": 9, "leading": 12, "textColor": INK,
            "splitLongWords": 1, "wordWrap": None}
    base.update(kw)
    return ParagraphStyle(name, **base)


STYLES: dict[str, ParagraphStyle] = {
    "title": _style("title", fontName=FONT_BOLD, fontSize=18, leading=22, textColor=ACCENT,
                    spaceAfter=2),
    "subtitle": _style("subtitle", fontSize=10, leading=13, textColor=MUTED, spaceAfter=10),
    "h1": _style("h1", fontName=FONT_BOLD, fontSize=14, leading=18, textColor=ACCENT,
                 spaceBefore=10, spaceAfter=6),
    "h2": _style("h2", fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=8,
                 spaceAfter=3),
    "h3": _style("h3", fontName=FONT_BOLD, fontSize=8.5, leading=11, textColor=INK,
                 spaceBefore=5, spaceAfter=2),
    "headline": _style("headline", fontName=FONT_BOLD, fontSize=12, leading=15.5, spaceAfter=6),
    "body": _style("body", fontSize=9.5, leading=13, spaceAfter=5),
    "bullet": _style("bullet", fontSize=9.5, leading=13, leftIndent=12, bulletIndent=2,
                     spaceAfter=2),
    "note": _style("note", fontName=FONT_ITALIC, fontSize=8, leading=10.5, textColor=MUTED,
                   spaceAfter=4),
    "signer": _style("signer", fontSize=8.5, leading=11, leftIndent=12, bulletIndent=2, spaceAfter=1),
    "cell": _style("cell", fontSize=7.8, leading=9.6),
    "cell_num": _style("cell_num", fontSize=7.8, leading=9.6, alignment=TA_RIGHT),
    "cell_mono": _style("cell_mono", fontName=FONT_MONO, fontSize=7.4, leading=9.6),
    "cell_head": _style("cell_head", fontName=FONT_BOLD, fontSize=7.8, leading=9.6,
                        textColor=colors.white),
    "cell_head_num": _style("cell_head_num", fontName=FONT_BOLD, fontSize=7.8, leading=9.6,
                            textColor=colors.white, alignment=TA_RIGHT),
    "stat_num": _style("stat_num", fontName=FONT_BOLD, fontSize=18, leading=21, textColor=ACCENT),
    "stat_label": _style("stat_label", fontSize=8.5, leading=10.5, textColor=MUTED),
    "contents": _style("contents", fontSize=8.5, leading=11, textColor=INK, spaceBefore=6),
    "alert": _style("alert", fontName=FONT_BOLD, fontSize=10, leading=13, textColor=ALERT),
}


def para(value: Any, style: str = "body", limit: int | None = DEFAULT_LIMIT) -> Paragraph:
    """A Paragraph of untrusted text: always escaped, never interpreted as markup."""
    return Paragraph(esc(value, limit), STYLES[style])


def rich(markup: str, style: str = "body") -> Paragraph:
    """A Paragraph of evkit's own markup. Interpolate untrusted values only through `esc`."""
    return Paragraph(markup, STYLES[style])


def section(title: str) -> Paragraph:
    """A numbered-free section heading (evkit's own words, not evidence). `build_document`
    records the page each heading lands on, so page 1 can point to it."""
    heading = Paragraph(_xml_escape(title), STYLES["h1"])
    heading.evkit_section = title
    return heading


def fits_one_page(story: Sequence[Flowable], *, banner: bool = True) -> bool:
    """True when `story` fits in one page's frame (measured as laid out, worst case with the
    evidence banner), so page 1 can choose the most detailed version that fits."""
    height = PAGE_SIZE[1] - 2 * MARGIN - (3 * mm if banner else 0) - 2 * _FRAME_PAD - 4
    used = 0.0
    canvas = Canvas(io.BytesIO(), pagesize=PAGE_SIZE, invariant=1, initialFontName=FONT)
    width = FRAME_WIDTH - 2 * _FRAME_PAD
    for flowable in story:
        _, h = flowable.wrapOn(canvas, width, height)
        used += h + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return bool(used <= height)


def none_found(what: str = "None found.") -> Paragraph:
    """The sentence a section shows when it has no rows, so absence is stated, not hidden."""
    return Paragraph(_xml_escape(what), STYLES["body"])


def note(text: str) -> Paragraph:
    """A small explanatory line under a table (evkit's own words)."""
    return Paragraph(_xml_escape(text), STYLES["note"])


# -- tables -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One table column: heading, share of the frame width, numeric alignment, display limit."""

    title: str
    width: float
    numeric: bool = False
    limit: int | None = DEFAULT_LIMIT
    mono: bool = False             # ids and hashes: fixed width, easy to compare by eye


_PAD = 3.0


def _table_style(columns: Sequence[Column], rows: int) -> TableStyle:
    cmds: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 7.8),
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), _PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), _PAD),
        ("TEXTCOLOR", (0, 1), (-1, -1), INK),
    ]
    for i, column in enumerate(columns):          # plain-string cells (short values)
        style = STYLES[_style_name(column)]
        cmds.append(("FONT", (i, 1), (i, -1), style.fontName, style.fontSize, style.leading))
        if column.numeric:
            cmds.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    cmds += [("BACKGROUND", (0, r), (-1, r), ZEBRA) for r in range(2, rows, 2)]
    return TableStyle(cmds)


def _style_name(column: Column) -> str:
    return "cell_num" if column.numeric else ("cell_mono" if column.mono else "cell")


def _cell(value: Any, column: Column, width: float) -> Flowable | str:
    """A cell: a plain string when the value fits on one line (fast, drawn literally, never
    parsed as markup), else an escaped, wrapping Paragraph."""
    if isinstance(value, Flowable):
        return value
    if isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, int):
        value = f"{value:,}"
    style = STYLES[_style_name(column)]
    text = clean(value, column.limit)
    if one_font(text) and stringWidth(text, style.fontName, style.fontSize) <= width - 2 * _PAD - 1:
        return text
    return wrapped(text, _style_name(column), width - 2 * _PAD - 1)


MIN_TEXT = 7.0                    # no text on a page is smaller than this (points)
# an over-long token may wrap after these characters, or between a lower-case letter and a capital
# ("Set-Mailbox" / "Audit" / "Bypass"), never elsewhere
_BREAKS = re.compile(r"(?<=[@.\-_/\\:;,=&])|(?<=[a-z])(?=[A-Z])")


def wrapped(text: str, style_name: str, width: float) -> Paragraph:
    """A Paragraph of clean text that wraps between words, never inside one: a word wider than
    `width` (an address, a path, an id) is first set smaller, down to MIN_TEXT, then broken
    after '@', '.', '-', '/' and similar, so "alice@contoso.com" wraps as "alice@" / "contoso.com".
    Only a run with no such character at all is cut where it must be."""
    style = STYLES[style_name]
    tokens = text.split(" ")
    longest = max(stringWidth(t, style.fontName, style.fontSize) for t in tokens)
    if longest > width:
        size = max(MIN_TEXT, round(style.fontSize * width / longest, 1))
        if size < style.fontSize:
            style = ParagraphStyle(f"{style.name}-{size}", parent=style, fontSize=size,
                                   leading=max(size * 1.2, 8.4))

    def fits(piece: str) -> bool:
        return bool(stringWidth(piece, style.fontName, style.fontSize) <= width)

    parts = []
    for token in tokens:
        if fits(token):
            parts.append(_markup(token))
            continue
        lines, line = [], ""
        for piece in _BREAKS.split(token):
            if line and not fits(line + piece):
                lines.append(line)
                line = piece
            else:
                line += piece
        lines.append(line)
        parts.append("<br/>".join(_markup(x) for x in lines))
    return Paragraph(" ".join(parts), style)


def data_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], *,
               width: float = FRAME_WIDTH, max_rows: int = MAX_TABLE_ROWS,
               what: str = "rows") -> list[Flowable]:
    """Flowables for a table of untrusted cells; long bodies split with a repeated header.

    Cells that are already Flowables are used as given (callers build them with `para`/`rich`).
    Past `max_rows` the table stops and says how many rows remain in findings.json.
    """
    total = 0
    body: list[list[Flowable | str]] = []
    for row in rows:
        total += 1
        if total <= max_rows:
            body.append([_cell(v, c, c.width * width)
                         for v, c in zip(row, columns, strict=False)])
    if not body:
        return [none_found()]
    head = [wrapped(c.title, "cell_head_num" if c.numeric else "cell_head",
                    c.width * width - 2 * _PAD - 1) for c in columns]
    widths = [c.width * width for c in columns]
    out: list[Flowable] = []
    for start in range(0, len(body), _CHUNK_ROWS):
        chunk = [head, *body[start:start + _CHUNK_ROWS]]
        table = Table(chunk, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(_table_style(columns, len(chunk)))
        out.append(table)
    if total > max_rows:
        out.append(note(f"Showing the first {max_rows:,} of {total:,} {what}; "
                        "all of them are listed in findings.json."))
    return out


def stat_block(stats: Sequence[tuple[str, str]], width: float = FRAME_WIDTH) -> Table:
    """A row of big numbers with plain labels (the executive's at-a-glance figures)."""
    cells = [[rich(_xml_escape(num), "stat_num"), rich(_xml_escape(label), "stat_label")]
             for num, label in stats]
    table = Table([cells], colWidths=[width / len(stats)] * len(stats), hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("LINEBEFORE", (1, 0), (-1, -1), 0.6, RULE),
        ("BACKGROUND", (0, 0), (-1, -1), ZEBRA),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
    ]))
    return table


# -- document ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentInfo:
    """Fixed metadata for one PDF: everything that would otherwise come from the environment."""

    title: str                     # e.g. "Breach scope report" (evkit's words)
    case_id: str                   # untrusted: shown through `clean`
    created_utc: datetime | None   # from the model; None -> reportlab's invariant date
    evidence_valid: bool = True
    evidence_trusted: bool = True  # False: let through with --allow-untrusted; every page says so
    subject: str = ""
    creator: str = "evkit"
    id_label: str = "Case"         # header prefix for case_id (e.g. "Tenant" for readiness)
    content_digest: str = ""       # of the model drawn: the file ID differs when the content does


INVALID_BANNER = "INVALID EVIDENCE - not verified; do not rely on this report"
UNTRUSTED_BANNER = "UNTRUSTED EVIDENCE - not verified against a key you trust; do not rely on this report"


def _banner(info: DocumentInfo) -> tuple[str, str] | None:
    """(banner, footer words) for evidence that is not valid and trusted, else None."""
    if not info.evidence_valid:
        return INVALID_BANNER, "INVALID EVIDENCE"
    if not info.evidence_trusted:
        return UNTRUSTED_BANNER, "UNTRUSTED EVIDENCE: signer not verified"
    return None


class _PinnedTimeStamp:
    """Stands in for reportlab's TimeStamp so dates and the file ID come from the model."""

    def __init__(self, when: datetime | None) -> None:
        when = when or datetime(2000, 1, 1, tzinfo=UTC)
        # a naive time is taken as UTC, never as the machine's local time
        when = as_utc(when)
        self.t = int(when.timestamp())
        self.lt = when.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh = self.dmm = 0
        self.tzname = "UTC"
        self.datetime = when


def _canvas_class(info: DocumentInfo) -> type[Canvas]:
    """A canvas that defers pages so each can say "Page X of Y", and pins the timestamp."""

    class _ReportCanvas(Canvas):
        def __init__(self, *args: Any, **kw: Any) -> None:
            kw["invariant"] = 1
            kw["initialFontName"] = FONT             # never reference an unembedded Helvetica
            super().__init__(*args, **kw)
            stamp = _PinnedTimeStamp(info.created_utc)
            doc = self._doc
            doc._timeStamp = stamp               # noqa: SLF001 (no public hook for the date)
            doc.signature = hashlib.md5(f"evkit {stamp.t} {info.content_digest}".encode(),
                                        usedforsecurity=False)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:              # noqa: N802 (reportlab API)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                _decorate(self, info, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return _ReportCanvas


def _decorate(canvas: Canvas, info: DocumentInfo, number: int, total: int) -> None:
    """Header, footer and (for invalid evidence) the banner on one page."""
    width, height = PAGE_SIZE
    canvas.saveState()
    top = height - MARGIN + 6 * mm
    banner = _banner(info)
    if banner is not None:
        canvas.setFillColor(ALERT)
        canvas.rect(0, height - 11 * mm, width, 11 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(FONT_BOLD, 10)
        canvas.drawCentredString(width / 2, height - 7 * mm, banner[0])
        top -= 3 * mm
    canvas.setFont(FONT, 8)
    canvas.setFillColor(MUTED)
    canvas.drawString(MARGIN, top, f"evkit - {info.title}")
    canvas.drawRightString(width - MARGIN, top, f"{info.id_label} {plain_text(info.case_id, 60)}")
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, top - 2.5 * mm, width - MARGIN, top - 2.5 * mm)
    canvas.line(MARGIN, MARGIN - 5 * mm, width - MARGIN, MARGIN - 5 * mm)
    bottom = MARGIN - 9 * mm
    if info.created_utc is not None:
        canvas.drawString(MARGIN, bottom,
                          "Evidence as of " + format_minutes(info.created_utc) + " UTC")
    canvas.drawRightString(width - MARGIN, bottom, f"Page {number} of {total}")
    if banner is not None:
        canvas.setFillColor(ALERT)
        canvas.setFont(FONT_BOLD, 8)
        canvas.drawCentredString(width / 2, bottom, banner[1])
    canvas.restoreState()


_FRAME_PAD = 6.0                   # reportlab's default frame padding


class _Document(SimpleDocTemplate):
    """Records the page of every section heading into `pages` (first occurrence wins)."""

    pages: dict[str, int] | None = None

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 (reportlab API)
        title = getattr(flowable, "evkit_section", None)
        if title and self.pages is not None:
            self.pages.setdefault(title, self.page)


def build_document(out_path: Path | BinaryIO, info: DocumentInfo, story: list[Flowable], *,
                   pages: dict[str, int] | None = None) -> None:
    """Lay out `story` into `out_path` (a path or a binary file): deterministic bytes for the
    same story and info. `pages`, when given, receives each section heading's page number."""
    top = MARGIN + (3 * mm if _banner(info) is not None else 0)
    doc = _Document(
        out_path if not isinstance(out_path, Path) else str(out_path), pagesize=PAGE_SIZE,
        leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=top, bottomMargin=MARGIN, invariant=1,
        title=f"{info.title} - {clean(info.case_id, 60)}", author=info.creator,
        subject=clean(info.subject, 200), creator=info.creator, producer=info.creator,
        keywords=[],
    )
    doc.pages = pages
    doc.build(story, canvasmaker=_canvas_class(info))


def spacer(points: float) -> Spacer:
    """Vertical space, in points."""
    return Spacer(1, points)


def show_time(value: Any, zone: str = "") -> str:
    """A UTC timestamp as "2023-06-01 12:00" (plus `zone`, e.g. " UTC", in running text).

    Table headings say "(UTC)" once instead. Unreadable values are shown as given, cleaned.
    """
    when = parse_iso_or_none(value)
    if when is None:
        return clean(value, 60) if value else "(not recorded)"
    return format_minutes(when) + zone


def show_period(start: Any, end: Any) -> str:
    """A UTC period for running text: "2023-06-01 12:00 to 2023-06-02 12:00 UTC"."""
    return f"{show_time(start)} to {show_time(end)} UTC"


# -- tolerant access to the model (a renderer shows what is there and names what is not) -----

def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_rows(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in a list (anything else in it is not a row)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def count_text(value: Any) -> str:
    """A count as the findings state it ("1,234"), or "not stated" when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "not stated"
    return f"{value:,}"


def bullet(markup: str) -> Paragraph:
    """A bulleted paragraph of evkit's own markup (untrusted parts already through `esc`)."""
    return Paragraph("<bullet>&bull;</bullet>" + markup, STYLES["bullet"])


def plural(count: int, one: str, many: str) -> str:
    """ "1 entry" / "3 entries", with thousands separators."""
    return f"{count:,} {one if count == 1 else many}"
