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


def test_clear_removes_nothing_that_only_looks_like_an_entry(tmp_path, capsys):
    """A cache folder named by mistake ($HOME, a folder of another tool's 64-hex layers): folders
    whose names evkit uses but whose contents it did not write are named and left."""
    home = tmp_path / "home"
    layer = home / ("c" * 64)                       # another tool's layer folder
    (layer / "diff").mkdir(parents=True)
    (layer / "link").write_text("x", encoding="utf-8")
    bare = home / ("d" * 64)                        # evkit's names, but a folder where a file goes
    (bare / "events.parquet").mkdir(parents=True)
    extra = home / ("e" * 64)                       # meta.json and a file evkit never writes
    extra.mkdir()
    (extra / "meta.json").write_text("{}", encoding="utf-8")
    (extra / "thesis.docx").write_text("mine", encoding="utf-8")
    (home / ".old-settings" / "entry").mkdir(parents=True)    # a user's folder named as mkdtemp names
    (home / ".old-settings" / "entry" / "notes.txt").write_text("mine", encoding="utf-8")
    (home / ".old-abcdefgh" / "photos").mkdir(parents=True)   # mkdtemp's name, not its contents
    (home / ".write-abcdefgh" / "sub").mkdir(parents=True)
    code, out, _ = run(["cache", "clear", "--cache-dir", str(home)], capsys)
    assert code == 0 and "removed 0 entries" in out and "left 6 name(s)" in out, out
    assert (layer / "diff").is_dir() and (bare / "events.parquet").is_dir() and (extra / "thesis.docx").is_file()
    assert (home / ".old-settings" / "entry" / "notes.txt").is_file() and (home / ".old-abcdefgh" / "photos").is_dir()
    assert (home / ".write-abcdefgh" / "sub").is_dir()


def test_an_entry_removed_meanwhile_does_not_stop_the_clear(tmp_path, capsys, monkeypatch):
    """Two clears at once (or a report replacing an entry): an entry gone between listing and
    removing is skipped, the others are still removed, and no error is raised."""
    from evkit.report.engine import cache_folder
    cache = tmp_path / "cache"
    for name in ("a" * 64, "b" * 64):
        (cache / name).mkdir(parents=True)
        (cache / name / "meta.json").write_text("{}", encoding="utf-8")
    listed = cache_folder.cache_contents

    def listed_then_one_gone(folder):
        found = listed(folder)
        (cache / ("a" * 64) / "meta.json").unlink()
        (cache / ("a" * 64)).rmdir()
        return found

    monkeypatch.setattr(cache_folder, "cache_contents", listed_then_one_gone)
    code, out, err = run(["cache", "clear", "--cache-dir", str(cache)], capsys)
    assert code == 0 and "removed 1 entry (2 bytes)" in out and not err, (out, err)
    assert list(cache.iterdir()) == []


def test_clear_finishes_what_an_interrupted_removal_left(tmp_path, capsys):
    """A clear or a report stopped while removing an entry leaves part of it (meta.json may be
    gone first): the next clear still removes it, rows derived from evidence are not left behind."""
    cache = tmp_path / "cache"
    half = cache / ("a" * 64)
    half.mkdir(parents=True)
    (half / "events.parquet").write_bytes(b"PAR1 rows")
    old = cache / ".old-k2j4_x9q" / "entry"
    old.mkdir(parents=True)
    (old / "problems.parquet").write_bytes(b"PAR1")
    (cache / ".old-zzzzzzzz").mkdir()
    code, out, _ = run(["cache", "clear", "--cache-dir", str(cache)], capsys)
    assert code == 0 and "removed 3 entries" in out and "left" not in out, out
    assert list(cache.iterdir()) == []
