"""`evkit export` and the normalised-table cache (docs/report-cache.md, docs/export.md): the
export reads the entry a report (or an earlier export) stored for a bundle verified valid against
a trusted key, stores one when it parsed, and writes the same bytes with and without it; an entry
that does not match is never used, and a bundle not verified valid is never read or stored."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import scenario_mini as mini
from evkit.cli import main
from test_report_cache import _edited, _other_bundle, _poison, entry_of, make_case_dir, report

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory, signing_key, examiner_pub):
    return make_case_dir(tmp_path_factory.mktemp("export-cache"), signing_key, examiner_pub)


def export(case_dir: Path, out: Path, cache: Path | None, capsys, *,
           trust: tuple[str, ...] = ("--signer-key",), case: bool = True) -> list[str]:
    """Run `evkit export` on IR-MINI_C1; the cache lines it printed."""
    capsys.readouterr()
    args = [*trust, str(case_dir / "examiner.pub")] if trust == ("--signer-key",) else list(trust)
    args += ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
    args += ["--case", str(case_dir / "case.toml")] if case else []
    assert main(["export", str(case_dir / "IR-MINI_C1"), "--out", str(out), *args]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("cache: ")]


def files(out: Path) -> dict[str, bytes]:
    """Every file of an export, by path."""
    found = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert "export.json" in found and any(name.startswith("events/day=") for name in found)
    return found


@pytest.fixture(scope="module")
def plain(case_dir, tmp_path_factory):
    """The export without any cache."""
    out = tmp_path_factory.mktemp("plain-export") / "out"
    assert main(["export", str(case_dir / "IR-MINI_C1"), "--out", str(out), "--signer-key",
                 str(case_dir / "examiner.pub"), "--case", str(case_dir / "case.toml"), "--no-cache"]) == 0
    return files(out)


def test_an_export_reads_the_entry_a_report_wrote_and_writes_the_same_bytes(case_dir, plain, tmp_path, capsys):
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "report", cache, capsys)
    notes = export(case_dir, tmp_path / "warm", cache, capsys)
    assert len(notes) == 1 and "read from the cache" in notes[0], notes
    assert files(tmp_path / "warm") == plain


def test_a_cold_export_stores_the_entry_and_the_next_one_reads_it(case_dir, plain, tmp_path, capsys):
    cache = tmp_path / "cache"
    cold = export(case_dir, tmp_path / "cold", cache, capsys)
    assert len(cold) == 1 and "parsed; its tables are now cached" in cold[0], cold
    assert files(tmp_path / "cold") == plain
    assert sorted(p.name for p in entry_of(cache).iterdir()) == ["events.parquet", "meta.json", "problems.parquet"]
    warm = export(case_dir, tmp_path / "warm", cache, capsys)
    assert len(warm) == 1 and "read from the cache" in warm[0], warm
    assert files(tmp_path / "warm") == plain
    # and a report reads what the export stored
    assert "read from the cache" in report(case_dir, tmp_path / "report", cache, capsys)[0]


def test_no_cache_neither_reads_nor_writes(case_dir, tmp_path, capsys):
    assert export(case_dir, tmp_path / "out", None, capsys) == []


def test_the_environment_chooses_the_cache_without_the_option(case_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EVKIT_CACHE_DIR", str(tmp_path / "env-cache"))
    capsys.readouterr()
    assert main(["export", str(case_dir / "IR-MINI_C1"), "--out", str(tmp_path / "out"), "--signer-key",
                 str(case_dir / "examiner.pub")]) == 0
    assert "parsed; its tables are now cached" in capsys.readouterr().out
    assert entry_of(tmp_path / "env-cache").is_dir()


def test_an_untrusted_bundle_is_neither_read_nor_stored(case_dir, tmp_path, capsys):
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "report", cache, capsys)
    _poison(entry_of(cache))           # an export that read it would differ
    notes = export(case_dir, tmp_path / "out", cache, capsys, trust=("--allow-untrusted",))
    assert len(notes) == 1 and "not cached" in notes[0], notes
    ips = duckdb.connect().execute(
        "SELECT list(DISTINCT client_ip_address) FROM read_parquet(?)",
        [f"{(tmp_path / 'out' / 'events').as_posix()}/**/*.parquet"]).fetchone()
    assert ips is not None and mini.ATTACKER_IP in ips[0] and "192.0.2.200" not in ips[0]


@pytest.mark.parametrize("spoil", [_edited, _other_bundle])
def test_an_entry_that_does_not_match_is_never_used(case_dir, plain, tmp_path, capsys, spoil):
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "report", cache, capsys)
    spoil(entry_of(cache), case_dir, tmp_path)
    notes = export(case_dir, tmp_path / "spoilt", cache, capsys)
    assert any("re-parsed" in n for n in notes), notes
    assert files(tmp_path / "spoilt") == plain


def test_the_poisoned_entry_would_change_the_export(case_dir, plain, tmp_path, capsys):
    """The control for the tests above: the poisoned entry, matching in every other respect, is
    read and changes the files."""
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "report", cache, capsys)
    _poison(entry_of(cache))
    assert "read from the cache" in export(case_dir, tmp_path / "poisoned", cache, capsys)[0]
    assert files(tmp_path / "poisoned") != plain


@pytest.mark.parametrize("case", [None, "case.toml"])
def test_the_files_do_not_depend_on_the_order_the_tables_were_filled(case_dir, tmp_path, monkeypatch, case):
    """The engine's tables hold the records in the order they were read (parsed in parallel, or
    read from the cache), which varies; every file of the export holds its rows in a fixed
    order, so the same evidence gives the same files. Here the events are put in another order
    after the load, as another run could have read them."""
    from evkit.report.engine.loader import Engine
    from evkit.report.export.run import run_export
    from evkit.report.intake import Trust

    load = Engine.load
    found = []
    for n, order in enumerate(("id", "id DESC")):
        def reordered(self, inventories, cache=None, order=order):
            load(self, inventories, cache)
            self.execute(f"CREATE TABLE shuffled AS SELECT * FROM events ORDER BY {order}")
            self.execute("DELETE FROM events")
            self.execute(f"INSERT INTO events SELECT * FROM shuffled ORDER BY {order}")

        monkeypatch.setattr(Engine, "load", reordered)
        out = tmp_path / f"out-{n}"
        run_export([case_dir / "IR-MINI_C1"], out, trust=Trust(signer_key=case_dir / "examiner.pub"),
                   case_path=case_dir / case if case else None)
        found.append({name: data for name, data in files(out).items() if name != "export.json"})
    assert found[0] == found[1]
