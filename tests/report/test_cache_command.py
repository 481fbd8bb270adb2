"""`evkit cache list|clear`: an examiner sees what the table cache holds (rows derived from the
evidence) and removes it at the end of a case with evkit itself; only what evkit wrote is
removed, a symbolic link is never followed (docs/report-cache.md)."""

from __future__ import annotations

import os

import pytest

from evkit.cli import main
from test_report_cache import case_dir, report  # noqa: F401 - the module fixture builds the bundles


def run(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    got = capsys.readouterr()
    return code, got.out, got.err


def test_list_then_clear_removes_every_entry_and_leaves_what_evkit_did_not_write(case_dir, tmp_path, capsys):  # noqa: F811
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "a", cache, capsys)
    report(case_dir, tmp_path / "b", cache, capsys, bundle="OTHER_C1")
    (cache / ".write-leftover").mkdir()                       # an interrupted write
    (cache / "notes.txt").write_text("mine", encoding="utf-8")   # not evkit's
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep", encoding="utf-8")
    os.symlink(outside, cache / ("f" * 64))                   # a link named like an entry
    code, out, _ = run(["cache", "list", "--cache-dir", str(cache)], capsys)
    assert code == 0
    assert "IR-MINI_C1 (" in out and "OTHER_C1 (" in out
    assert "evkit cache: 3 entries" in out and "left 2 name(s) evkit did not write" in out
    code, out, _ = run(["cache", "clear", "--cache-dir", str(cache)], capsys)
    assert code == 0 and "removed 3 entries" in out, out
    assert sorted(p.name for p in cache.iterdir()) == sorted(["notes.txt", "f" * 64])
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "keep"   # the link was not followed
    # the next report parses again and says so
    lines = report(case_dir, tmp_path / "c", cache, capsys)
    assert "parsed; its tables are now cached" in lines[0]


def test_the_environment_names_the_folder_and_an_absent_one_is_empty(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EVKIT_CACHE_DIR", str(tmp_path / "nowhere"))
    code, out, _ = run(["cache", "list"], capsys)
    assert code == 0 and f"0 entries (0 bytes) in {tmp_path / 'nowhere'}" in out


@pytest.mark.parametrize("verb", ["list", "clear"])
def test_a_cache_folder_that_is_a_link_is_refused(tmp_path, capsys, verb):
    real = tmp_path / "real"
    (real / ("a" * 64)).mkdir(parents=True)
    os.symlink(real, tmp_path / "link")
    code, _, err = run(["cache", verb, "--cache-dir", str(tmp_path / "link")], capsys)
    assert code == 1 and "is a symbolic link" in err and len(err.strip().splitlines()) == 1
    assert (real / ("a" * 64)).is_dir()
