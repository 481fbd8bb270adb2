"""The shared PDF building blocks: escaping of untrusted text, tables, deterministic documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from reportlab.platypus import Paragraph, Table

from evkit.report.pdf.common import (
    DocumentInfo, Column, build_document, clean, data_table, esc, para, show_period,
    show_time, was_altered,
)


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text", "plain text"),
    ("<b>bold</b> & co", "<b>bold</b> & co"),            # clean keeps markup literal
    ("tab\there\nnewline\r", "tab here newline "),
    ("nul\x00 esc\x1b bell\x07 del\x7f", "nul[U+0000] esc[U+001B] bell[U+0007] del[U+007F]"),
    ("\u0412\u0445\u043e\u0434\u044f\u0449\u0438\u0435 \u0395\u03bb\u03bb\u03ac\u03b4\u03b1",
     "\u0412\u0445\u043e\u0434\u044f\u0449\u0438\u0435 \u0395\u03bb\u03bb\u03ac\u03b4\u03b1"),  # Cyrillic, Greek kept
    ("pay \U0001F4B8 now", "pay [U+1F4B8] now"),            # beyond the fonts: its code point, never '?'
    ("\u202egnp.exe", "[U+202E]gnp.exe"),                   # bidi override cannot reorder the page
    ("zero\u200bwidth\ufeff", "zero[U+200B]width[U+FEFF]"),
    ("lone \ud800 surrogate", "lone [U+D800] surrogate"),
    ("caf\u00e9 \u20ac5 \u2018q\u2019", "caf\u00e9 \u20ac5 \u2018q\u2019"),  # WinAnsi is kept
    (None, ""),
    (42, "42"),
])
def test_clean_makes_any_value_drawable(raw, shown):
    assert clean(raw) == shown


def test_clean_cuts_long_values_with_a_marker_naming_what_is_left_out():
    shown = clean("A" * 10_000, limit=300)
    assert shown.startswith("A" * 300)
    assert shown.endswith("[... 9,700 more characters; full value in findings.json]")
    assert clean("A" * 300, limit=300) == "A" * 300
    assert clean("A" * 10_000, limit=None) == "A" * 10_000


@pytest.mark.parametrize(("raw", "escaped"), [
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ("a & b", "a &amp; b"),
    ("&amp;", "&amp;amp;"),
    ("</para><img src='x'/>", "&lt;/para&gt;&lt;img src=&#39;x&#39;/&gt;"),
    ('say "hi"', "say &quot;hi&quot;"),
])
def test_esc_makes_markup_inert(raw, escaped):
    assert esc(raw) == escaped


@pytest.mark.parametrize("hostile", [
    "<b>unclosed", "</para>", "<font size=400>big</font>", "&#0;", "&bogus;", "\x00<\x01>",
    "<img src='/etc/passwd'/>", "<link href='http://x'>x</link>",
])
def test_para_never_interprets_evidence_as_markup(hostile):
    paragraph = para(hostile)
    assert isinstance(paragraph, Paragraph)
    text = "".join(frag.text for frag in paragraph.frags)
    assert text == clean(hostile)


def test_was_altered_flags_only_strings_that_lose_characters():
    assert was_altered("emoji \U0001F600")
    assert not was_altered("plain <b>markup</b>")
    assert not was_altered(None)


def test_show_time_and_period():
    assert show_time("2023-06-01T12:34:56Z") == "2023-06-01 12:34"
    assert show_time("2023-06-01T12:34:56Z", " UTC") == "2023-06-01 12:34 UTC"
    assert show_time(None) == "(not recorded)"
    assert show_time("<b>garbage</b>") == "<b>garbage</b>"
    assert show_period("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z") == \
        "2023-06-01 00:00 to 2023-06-02 00:00 UTC"


def test_data_table_states_absence_instead_of_vanishing():
    (only,) = data_table([Column("A", 1.0)], [])
    assert isinstance(only, Paragraph)
    assert "None found" in only.getPlainText()


def test_data_table_chunks_long_bodies_and_names_rows_left_to_the_json():
    flowables = data_table([Column("A", 0.5), Column("B", 0.5, numeric=True)],
                           ([f"row {i}", i] for i in range(700)), max_rows=600, what="syncs")
    tables = [f for f in flowables if isinstance(f, Table)]
    assert sum(len(t._cellvalues) - 1 for t in tables) == 600
    assert all(t.repeatRows == 1 for t in tables)
    assert "first 600 of 700 syncs" in flowables[-1].getPlainText()


def _build(path, **kw):
    info = DocumentInfo(title="Test", case_id="IR-1",
                        created_utc=datetime(2023, 7, 17, 11, 5, 42, tzinfo=UTC), **kw)
    build_document(path, info, [para("hello <world>")])
    return path.read_bytes()


def test_document_is_deterministic_and_dated_from_the_model(tmp_path, monkeypatch):
    first = _build(tmp_path / "a.pdf")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")   # the environment must not leak in
    second = _build(tmp_path / "b.pdf")
    assert first.startswith(b"%PDF-")
    assert first == second
    assert b"D:20230717110542+00'00'" in first


def test_a_naive_document_date_is_taken_as_utc(tmp_path):
    info = DocumentInfo(title="Test", case_id="IR-1", created_utc=datetime(2023, 7, 17, 11, 5, 42))
    build_document(tmp_path / "n.pdf", info, [para("hello <world>")])
    assert (tmp_path / "n.pdf").read_bytes() == _build(tmp_path / "a.pdf")


def test_document_date_changes_the_bytes(tmp_path):
    first = _build(tmp_path / "a.pdf")
    info = DocumentInfo(title="Test", case_id="IR-1",
                        created_utc=datetime(2024, 1, 1, tzinfo=UTC))
    build_document(tmp_path / "b.pdf", info, [para("hello <world>")])
    assert (tmp_path / "b.pdf").read_bytes() != first


def test_clean_cuts_between_words_not_mid_word():
    value = "the mailbox's account has an audit bypass association: owner access not logged at all"
    shown = clean(value, limit=70)
    kept = shown.split(" [... ")[0]
    assert kept == "the mailbox's account has an audit bypass association: owner access"
    assert shown.endswith(f"[... {len(value) - len(kept)} more characters; full value in findings.json]")
    assert value.startswith(kept) and value[len(kept)] == " "
    assert clean("x" * 100 + " tail", limit=90).startswith("x" * 90 + " [... 15 more")   # no space near: cut


def test_the_file_id_follows_the_content_not_the_clock(tmp_path):
    import re as _re

    from evkit.report.pdf.common import DocumentInfo, build_document, rich

    def file_id(name: str, digest: str) -> bytes:
        out = tmp_path / name
        build_document(out, DocumentInfo(title="t", case_id="c", created_utc=None, content_digest=digest),
                       [rich("x")])
        return _re.search(rb"/ID\s*\[\s*<([0-9a-fA-F]+)>", out.read_bytes()).group(1)

    assert file_id("a.pdf", "one") == file_id("b.pdf", "one")
    assert file_id("c.pdf", "one") != file_id("d.pdf", "two")
