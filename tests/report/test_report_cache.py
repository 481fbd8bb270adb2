"""The normalised-table cache (docs/report-cache.md): a later report over a verified bundle reads
the records the first one parsed, with byte-identical outputs; an entry that does not match in
every respect (edited, truncated, another version or build, another bundle, a symbolic link
anywhere in it) is never used, and the report says it parsed the bundle again."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

import scenario_mini as mini
from bundlekit import mia, write_bundle
from evkit.cli import main

OUTPUTS = ("findings.json", "items.csv", "report.pdf")
OTHER_IP = "198.51.100.99"
# A record whose item list is JSON text, as SIEM exports store it: the cache must hold it decoded.
STRINGLY = mia("m-stringly", "2023-06-01T10:30:00Z", mini.A, ip=mini.ATTACKER_IP, session="s-stringly",
               folders={"\\Inbox": ["<stringly-1>"]})
STRINGLY["Folders"] = json.dumps(STRINGLY["Folders"])
NO_ID = mia("", "2023-06-01T10:31:00Z", mini.A, folders={"\\Inbox": ["<o1>"]})
del NO_ID["Id"]


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory, signing_key, examiner_pub):
    return make_case_dir(tmp_path_factory.mktemp("cache"), signing_key, examiner_pub)


def make_case_dir(root: Path, signing_key: Path, examiner_pub: Path) -> Path:
    """Two sealed bundles (IR-MINI_C1, OTHER_C1), two case files and the examiner's key in `root`."""
    for name, records in (("IR-MINI_C1", [*mini.records(), STRINGLY, NO_ID]), ("OTHER_C1", mini.records()[:5])):
        write_bundle(root / name, records, window=mini.EVIDENCE_WINDOW, ledger=mini.ledger(),
                     extra_files=mini.folder_stats_files(), case_id="IR-MINI", key=signing_key)
    (root / "case.toml").write_text(mini.CASE_TOML, encoding="utf-8")
    (root / "case2.toml").write_text(mini.CASE_TOML.replace('ips = ["', f'ips = ["{OTHER_IP}", "'), encoding="utf-8")
    shutil.copy(examiner_pub, root / "examiner.pub")
    return root


def report(case_dir: Path, out: Path, cache: Path | None, capsys, *, case: str = "case.toml",
           bundle: str = "IR-MINI_C1", extra: tuple[str, ...] = ("--signer-key",)) -> list[str]:
    """Run `evkit report`; the cache lines it printed."""
    capsys.readouterr()
    trust = [*extra, str(case_dir / "examiner.pub")] if extra == ("--signer-key",) else list(extra)
    cache_args = ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
    assert main(["report", str(case_dir / bundle), "--case", str(case_dir / case), "--out", str(out),
                 *trust, *cache_args]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("cache: ")]


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def plain(case_dir):
    """The outputs of both case files without any cache."""
    found = {}
    for case in ("case.toml", "case2.toml"):
        out = case_dir / f"plain-{case}"
        assert main(["report", str(case_dir / "IR-MINI_C1"), "--case", str(case_dir / case), "--out", str(out),
                     "--signer-key", str(case_dir / "examiner.pub"), "--no-cache"]) == 0
        found[case] = outputs(out)
    assert found["case.toml"] != found["case2.toml"]   # the second case file really changes the report
    return found


def entry_of(cache: Path) -> Path:
    [entry] = [p for p in cache.iterdir() if not p.name.startswith(".")]
    return entry


def test_a_warm_report_reads_the_cache_and_writes_the_same_bytes(case_dir, plain, tmp_path, capsys):
    cache = tmp_path / "cache"
    cold = report(case_dir, tmp_path / "cold", cache, capsys)
    assert len(cold) == 1 and "parsed; its tables are now cached" in cold[0]
    assert outputs(tmp_path / "cold") == plain["case.toml"]
    entry = entry_of(cache)
    assert sorted(p.name for p in entry.iterdir()) == ["events.parquet", "meta.json", "problems.parquet"]
    assert not any(case_dir.joinpath("IR-MINI_C1").rglob("*.parquet"))   # never inside the bundle
    for case in ("case2.toml", "case.toml"):                            # a different case file, then the same
        warm = report(case_dir, tmp_path / f"warm-{case}", cache, capsys, case=case)
        assert len(warm) == 1 and "read from the cache" in warm[0], warm
        assert outputs(tmp_path / f"warm-{case}") == plain[case]
    items = (tmp_path / "warm-case.toml" / "items.csv").read_text(encoding="utf-8")
    assert "<stringly-1>" in items                                      # the JSON-text record, decoded


def test_no_cache_neither_reads_nor_writes(case_dir, tmp_path, capsys):
    assert report(case_dir, tmp_path / "out", None, capsys) == []


def test_an_untrusted_bundle_is_never_cached(case_dir, tmp_path, capsys):
    cache = tmp_path / "cache"
    notes = report(case_dir, tmp_path / "out", cache, capsys, extra=("--allow-untrusted",))
    assert len(notes) == 1 and "not cached" in notes[0]
    assert not cache.exists() or not any(cache.iterdir())


def _rewrite_listing(entry: Path) -> None:
    """Make meta.json list the files as they are now (what an edit that knows the format does)."""
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    for name in meta["files"]:
        data = (entry / name).read_bytes()
        meta["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (entry / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _poison(entry: Path) -> None:
    """Rewrite the cached events so a report that used them would differ (the attacker's IP
    gone from every record), listed correctly in meta.json: only the mismatch under test can
    keep it out."""
    path = (entry / "events.parquet").as_posix()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE e AS SELECT * FROM read_parquet('{path}')")
    con.execute("UPDATE e SET client_ip_address = '192.0.2.200' WHERE client_ip_address = ?", [mini.ATTACKER_IP])
    con.execute(f"COPY e TO '{path}' (FORMAT parquet)")
    con.close()
    _rewrite_listing(entry)


def _edit_meta(entry: Path, **fields: str) -> None:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    meta.update(fields)
    (entry / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _edited(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    _poison(entry)
    with (entry / "events.parquet").open("r+b") as fh:   # one byte changed after the listing
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))


def _truncated(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    path = entry / "events.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _rewrite_listing(entry)    # even listed as it now is, DuckDB cannot read it


def _other_version(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    _poison(entry)
    _edit_meta(entry, evkit_version="0.0.1")


def _other_parser(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    _poison(entry)
    _edit_meta(entry, parser="0" * 64)


def _other_path(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    _poison(entry)
    _edit_meta(entry, root="/somewhere/else/IR-MINI_C1")


def _other_bundle(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    """Another bundle's entry (valid in itself) put in this bundle's place."""
    other = tmp_path / "other-cache"
    assert main(["report", str(case_dir / "OTHER_C1"), "--case", str(case_dir / "case.toml"),
                 "--out", str(tmp_path / "other-out"), "--signer-key", str(case_dir / "examiner.pub"),
                 "--cache-dir", str(other)]) == 0
    shutil.rmtree(entry)
    shutil.copytree(entry_of(other), entry)


def _planted_link(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    (entry / "extra.parquet").symlink_to(entry / "events.parquet")


def _linked_file(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    """events.parquet a link to a poisoned copy whose digest meta.json lists."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(entry, elsewhere)
    _poison(elsewhere)
    shutil.copy(elsewhere / "meta.json", entry / "meta.json")
    (entry / "events.parquet").unlink()
    (entry / "events.parquet").symlink_to(elsewhere / "events.parquet")


def _linked_entry(entry: Path, case_dir: Path, tmp_path: Path) -> None:
    """The entry itself a link to a poisoned copy of it."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(entry, elsewhere)
    _poison(elsewhere)
    shutil.rmtree(entry)
    entry.symlink_to(elsewhere, target_is_directory=True)


@pytest.mark.parametrize(("spoil", "why"), [
    (_edited, "edited or truncated"),
    (_truncated, "DuckDB cannot read"),
    (_other_version, "another evkit version"),
    (_other_parser, "another build"),
    (_other_path, "another path"),
    (_other_bundle, "another bundle"),
    (_planted_link, "other files than evkit writes"),
    (_linked_file, "events.parquet as a symbolic link"),
    (_linked_entry, "symbolic link"),
])
def test_a_cache_that_does_not_match_is_never_used(case_dir, plain, tmp_path, capsys, spoil, why):
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "cold", cache, capsys)
    entry = entry_of(cache)
    spoil(entry, case_dir, tmp_path)
    notes = report(case_dir, tmp_path / "spoilt", cache, capsys)
    assert any("re-parsed" in n and why in n for n in notes), notes
    assert outputs(tmp_path / "spoilt") == plain["case.toml"]
    # the entry was written again, as a real folder, and serves the next report
    assert entry.is_dir() and not entry.is_symlink()
    again = report(case_dir, tmp_path / "again", cache, capsys)
    assert len(again) == 1 and "read from the cache" in again[0], again
    assert outputs(tmp_path / "again") == plain["case.toml"]
    if (tmp_path / "elsewhere").exists():       # what a link pointed to is never touched
        assert (tmp_path / "elsewhere" / "events.parquet").is_file()


def test_the_poison_of_these_tests_would_change_the_report(case_dir, plain, tmp_path, capsys):
    """The control: the poisoned entry, with nothing else changed, is read (the cache is trusted
    within its key, as docs/report-cache.md says), and changes the outputs; so the tests above
    fail if a check is missing."""
    cache = tmp_path / "cache"
    report(case_dir, tmp_path / "cold", cache, capsys)
    _poison(entry_of(cache))
    notes = report(case_dir, tmp_path / "poisoned", cache, capsys)
    assert "read from the cache" in notes[0]
    assert outputs(tmp_path / "poisoned") != plain["case.toml"]


def test_a_bundle_that_no_longer_verifies_is_parsed_not_read_from_its_cache(case_dir, tmp_path, capsys):
    """The payload changed after the first report (the tag manifest did not): verification
    finds it, and the report (allowed on invalid evidence) parses what the bundle now holds."""
    bundle = tmp_path / "IR-MINI_C1"
    shutil.copytree(case_dir / "IR-MINI_C1", bundle)
    shutil.copy(case_dir / "examiner.pub", tmp_path / "examiner.pub")
    shutil.copy(case_dir / "case.toml", tmp_path / "case.toml")
    cache = tmp_path / "cache"
    assert "now cached" in report(tmp_path, tmp_path / "cold", cache, capsys)[0]
    [page] = sorted(bundle.joinpath("data", "raw").rglob("*.json.gz"))[:1]
    os.chmod(page, 0o644)
    page.write_bytes(b"not a page any more")
    notes = report(tmp_path, tmp_path / "tampered", cache, capsys,
                   extra=("--allow-invalid", "--signer-key", str(tmp_path / "examiner.pub")))
    assert len(notes) == 1 and "not cached" in notes[0], notes
    findings = json.loads((tmp_path / "tampered" / "findings.json").read_text(encoding="utf-8"))
    assert any("unreadable" in p or "not" in p for p in findings["problems"] if page.name in p)


def test_a_cached_and_a_parsed_bundle_are_de_duplicated_together(case_dir, tmp_path, capsys):
    """OTHER_C1 holds copies of records IR-MINI_C1 holds: with one bundle read from the cache and
    the other parsed, the report is the one no cache gives."""
    both = [str(case_dir / "IR-MINI_C1"), str(case_dir / "OTHER_C1")]

    def run(out: Path, *cache_args: str) -> list[str]:
        capsys.readouterr()
        assert main(["report", *both, "--case", str(case_dir / "case.toml"), "--out", str(out),
                     "--signer-key", str(case_dir / "examiner.pub"), *cache_args]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("cache: ")]

    cache = tmp_path / "cache"
    run(tmp_path / "plain", "--no-cache")
    report(case_dir, tmp_path / "first", cache, capsys)                  # IR-MINI_C1 only
    notes = run(tmp_path / "mixed", "--cache-dir", str(cache))
    assert any("IR-MINI_C1: read from the cache" in n for n in notes), notes
    assert any("OTHER_C1: parsed; its tables are now cached" in n for n in notes), notes
    assert outputs(tmp_path / "mixed") == outputs(tmp_path / "plain")
    findings = json.loads((tmp_path / "mixed" / "findings.json").read_text(encoding="utf-8"))
    assert len(findings["bundles"]) == 2
