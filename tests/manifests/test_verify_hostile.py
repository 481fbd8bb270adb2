"""verify on hostile bundles, no key needed: malformed JSON of any shape, links to /dev/zero or
outside the bundle, FIFOs where a file should be. Each must end as one clear "invalid" (exit 1)
within seconds, in bounded memory, with --json still valid JSON and no traceback."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evkit.manifests.bundle import BundleWriter
from evkit.manifests.jsonio import canonical
from evkit.manifests.signing import sshsig_sign

import manifests_helpers as h
from manifests_helpers import make_bundle

MEMORY_LIMIT = 1 << 30   # a run that tries to read /dev/zero whole dies here instead of the machine


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_verify(bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evkit", "verify", str(bundle), *extra],
                          capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory, check=False)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, examiner_key):
    return make_bundle(tmp_path_factory.mktemp("hostile") / "pristine", examiner_key)


@pytest.fixture
def bundle(sealed, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(sealed, copy, symlinks=True)
    return copy


def _replace(path: Path, maker) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    maker(path)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _zero(path: Path) -> None:
    os.symlink("/dev/zero", path)


def _outside_copy(path: Path) -> None:
    """A link to an identical copy outside the bundle (stock hash checks would pass through it)."""
    outside = path.parent.parent / f"outside-{path.name}" if path.parent.name != "bundle" \
        else path.parent.parent / f"outside-{path.name}"
    source = Path(str(path).replace("/bundle/", "/pristine-copy/"))
    if source.is_dir():
        shutil.copytree(source, outside)
    else:
        shutil.copy(source, outside)
    os.symlink(outside, path)


def _write(rel: str, data: bytes):
    def tamper(bundle: Path) -> None:
        (bundle / rel).write_bytes(data)
    return tamper


def _custody_actor_list(bundle: Path, examiner_key) -> None:
    path = bundle / "custody" / "0001.json"
    record = json.loads(path.read_bytes())
    record["actor"] = ["examiner@firm.example"]
    data = canonical(record)
    path.write_bytes(data)
    (bundle / "custody" / "0001.json.sshsig").write_text(sshsig_sign(examiner_key, data))


DEEP = b"[" * 50_000 + b"]" * 50_000

# case -> (tamper(bundle), finding code expected)
CASES = {
    "events-log-list": (_write("data/events.log", b"[1]\n"), "events-log"),
    "collection-list": (_write("data/collection.json", b"[1]"), "collection-format"),
    "collection-deep": (_write("data/collection.json", DEEP), "collection-format"),
    "custody-deep": (_write("custody/0001.json", DEEP), "custody-chain"),
    "events-log-deep": (_write("data/events.log", DEEP + b"\n"), "events-log"),
    "verify-md-dev-zero": (lambda b: _replace(b / "VERIFY.md", _zero), "symlink"),
    "events-log-dev-zero": (lambda b: _replace(b / "data" / "events.log", _zero), "extra"),
    "collection-dev-zero": (lambda b: _replace(b / "data" / "collection.json", _zero), "symlink"),
    "bagit-fifo": (lambda b: _replace(b / "bagit.txt", _fifo), "special-file"),
    "manifest-fifo": (lambda b: _replace(b / "manifest-sha256.txt", _fifo), "special-file"),
    "signer-pub-fifo": (lambda b: _replace(b / "keys" / "signer.pub", _fifo), "special-file"),
    "sshsig-fifo": (lambda b: _replace(b / "signatures" / "tagmanifest-sha256.txt.sshsig", _fifo), "special-file"),
    "custody-sig-fifo": (lambda b: _replace(b / "custody" / "0001.json.sshsig", _fifo), "special-file"),
    "data-outside": (lambda b: _replace(b / "data", _outside_copy), "symlink"),
    "custody-outside": (lambda b: _replace(b / "custody", _outside_copy), "symlink"),
    "bag-info-outside": (lambda b: _replace(b / "bag-info.txt", _outside_copy), "symlink"),
    "tagmanifest-outside": (lambda b: _replace(b / "tagmanifest-sha256.txt", _outside_copy), "symlink"),
    "keys-outside": (lambda b: _replace(b / "keys", _outside_copy), "symlink"),
    "signature-outside": (lambda b: _replace(b / "signatures" / "tagmanifest-sha256.txt.sig", _outside_copy),
                          "symlink"),
    "data-file-fifo": (lambda b: _replace(b / "data" / "imports" / "a.csv", _fifo), "extra"),
    "manifest-outside": (lambda b: _replace(b / "manifest-sha256.txt", _outside_copy), "symlink"),
    "signer-pub-outside": (lambda b: _replace(b / "keys" / "signer.pub", _outside_copy), "symlink"),
    "custody-record-outside": (lambda b: _replace(b / "custody" / "0001.json", _outside_copy), "symlink"),
    "bag-info-huge": (_write("bag-info.txt", b"Contact-Name: " + b"A" * (5 << 20) + b"\n"), "too-large"),
    "custody-record-huge": (_write("custody/0001.json", b" " * (5 << 20) + b"{}"), "too-large"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_bundle_is_one_clean_invalid(case, bundle, sealed, signing_key):
    shutil.copytree(sealed, bundle.parent / "pristine-copy", symlinks=True)
    tamper, code = CASES[case]
    tamper(bundle)
    pub = str(signing_key[0]) + ".pub"
    proc = run_verify(bundle, "--signer-key", pub)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1 and proc.stdout.startswith("invalid: "), proc.stdout + proc.stderr
    assert f"  {code}: " in proc.stdout, proc.stdout
    as_json = run_verify(bundle, "--signer-key", pub, "--json")
    out = json.loads(as_json.stdout)
    assert out["verdict"] == "invalid" and as_json.returncode == 1
    assert code in {f["code"] for f in out["findings"]}
    no_key = run_verify(bundle, "--json")   # no key needed to call it invalid
    assert json.loads(no_key.stdout)["verdict"] == "invalid" and no_key.returncode == 1


def test_custody_actor_of_the_wrong_shape_is_a_finding(bundle, examiner_key, signing_key):
    _custody_actor_list(bundle, examiner_key)
    proc = run_verify(bundle, "--signer-key", str(signing_key[0]) + ".pub", "--json")
    assert "Traceback" not in proc.stderr and proc.returncode == 1
    assert "custody-format" in {f["code"] for f in json.loads(proc.stdout)["findings"]}


def test_hostile_bundles_fail_the_stock_route_too(bundle, sealed, signing_key, tmp_path):
    """Each link case also fails VERIFY.md's stock steps (a link is reported before anything reads it)."""
    shutil.copytree(sealed, bundle.parent / "pristine-copy", symlinks=True)
    _replace(bundle / "data", _outside_copy)
    ok, output = h.verify_md_linux(bundle, Path(str(signing_key[0]) + ".pub"), tmp_path / "trusted")
    assert not ok and "LINK" in output


def test_unsealed_bundle_says_so_first_and_counts_the_files(tmp_path, signing_key):
    writer = BundleWriter.create(tmp_path / "open", case_id="c", collection_id="x")
    for n in range(300):
        writer.write(f"raw/ual/p{n:06d}.json", b"{}")
    proc = run_verify(tmp_path / "open", "--signer-key", str(signing_key[0]) + ".pub")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("invalid: ") and "unsealed" in lines[0]
    assert lines[1].startswith("  unsealed: ")
    assert len(lines) < 30, proc.stdout
    extra = [line for line in lines if line.startswith("  extra: ")]
    assert len(extra) == 1 and "301 file(s)" in extra[0]   # 300 pages and events.log


def test_json_output_is_json_even_for_bad_options(sealed, tmp_path):
    proc = run_verify(sealed, "--signer-key", str(tmp_path / "missing.pub"), "--json")
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    assert out["verdict"] is None and "does not exist" in out["error"]


def test_an_unforeseen_failure_is_invalid_not_a_traceback(sealed, signing_key, monkeypatch):
    import evkit.manifests.verify as verify_mod

    def broken(*args, **kwargs):
        raise TypeError("an input nobody foresaw")

    monkeypatch.setattr(verify_mod, "_check_custody", broken)
    result = verify_mod.verify_bundle(sealed, signer_key=Path(f"{signing_key[0]}.pub"))
    assert result.verdict == "invalid"
    assert [f.code for f in result.findings] == ["verify-error"]
    assert "TypeError: an input nobody foresaw" in result.findings[0].message
