"""BundleWriter: atomic writes, safe names, resume state, hash-chained events.log, sealing."""

from __future__ import annotations

import hashlib
import json

import pytest

from evkit.manifests.bundle import BundleWriter
from evkit.manifests.errors import BundleExistsError, BundleStateError, UnsafeNameError
from evkit.manifests.verify import verify_bundle

from manifests_helpers import make_bundle


def _chain_ok(raw: bytes) -> bool:
    prev = "0" * 64
    for line in raw.split(b"\n")[:-1]:
        if json.loads(line)["prev"] != prev:
            return False
        prev = hashlib.sha256(line).hexdigest()
    return raw.endswith(b"\n")


def test_create_refuses_existing(tmp_path):
    with pytest.raises(BundleExistsError):
        BundleWriter.create(tmp_path, case_id="c", collection_id="x")


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/abs", "a//b", "-rf", "a/-x", "sp ace.json",
                                 "caf\u00e9.json", "a\\b", "x%41", "", ".", "a/./b", "line\nbreak"])
def test_safe_name_policy(tmp_path, bad):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    with pytest.raises(UnsafeNameError):
        writer.write(bad, b"x")
    assert list((tmp_path / "b" / "data").rglob("*")) == [tmp_path / "b" / "data" / "events.log"]


def test_case_collisions_and_no_overwrite(tmp_path):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    record = writer.write("raw/ual/P1.json", b"abc")
    assert (record.relpath, record.size, record.sha256) == ("raw/ual/P1.json", 3, hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(UnsafeNameError, match="letter case"):
        writer.write("raw/ual/p1.json", b"x")
    with pytest.raises(UnsafeNameError, match="letter case"):
        writer.write("raw/UAL/p2.json", b"x")
    with pytest.raises(BundleStateError, match="never rewritten"):
        writer.write("raw/ual/P1.json", b"other")
    with pytest.raises(UnsafeNameError):
        writer.write("events.log", b"x")
    assert writer.exists("raw/ual/P1.json") and not writer.exists("raw/ual/p2.json")
    # case collisions survive a resume (the registry is rebuilt from disk)
    with pytest.raises(UnsafeNameError):
        BundleWriter.resume(tmp_path / "b").write("RAW/ual/x.json", b"x")


def test_write_streams_and_leaves_no_temp_in_data(tmp_path):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")

    def chunks():
        yield b"part1-"
        raise OSError("network dropped")

    with pytest.raises(OSError):
        writer.write("raw/x.json", chunks())
    assert not writer.exists("raw/x.json")
    assert list((tmp_path / "b" / ".evkit-open" / "tmp").iterdir()) == []
    writer.write("raw/x.json", iter([b"a", b"b"]))   # the name is free again
    assert (tmp_path / "b" / "data" / "raw" / "x.json").read_bytes() == b"ab"


def test_state_and_events_survive_resume_with_torn_line(tmp_path):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    writer.write_state({"windows": {"w1": "complete"}})
    writer.log_event("page", n=1)
    log = tmp_path / "b" / "data" / "events.log"
    with open(log, "ab") as handle:
        handle.write(b'{"event":"page","n":2,"pr')          # crash in the middle of a line
    resumed = BundleWriter.resume(tmp_path / "b")
    assert resumed.read_state() == {"windows": {"w1": "complete"}}
    resumed.log_event("page", n=2)
    raw = log.read_bytes()
    assert _chain_ok(raw)
    events = [json.loads(line) for line in raw.splitlines()]
    assert [e["event"] for e in events] == ["opened", "page", "log-repaired", "page"]
    assert events[2]["dropped_bytes"] == len(b'{"event":"page","n":2,"pr')
    assert [e["seq"] for e in events] == [1, 2, 3, 4]


def test_resume_refuses_corrupt_middle_line(tmp_path):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    writer.log_event("a")
    log = tmp_path / "b" / "data" / "events.log"
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(lines[0].replace(b"opened", b"OPENED") + b"\n" + lines[1] + b"\n")
    with pytest.raises(BundleStateError, match="corrupt"):
        BundleWriter.resume(tmp_path / "b")


def test_seal_closes_the_bundle(tmp_path, examiner_key):
    root = make_bundle(tmp_path / "b", examiner_key)
    assert not (root / ".evkit-open").exists()
    with pytest.raises(BundleStateError, match="sealed"):
        BundleWriter.resume(root)
    collection = json.loads((root / "data" / "collection.json").read_bytes())
    raw = (root / "data" / "events.log").read_bytes()
    assert collection["events_log"] == {"lines": raw.count(b"\n"),
                                        "head_sha256": hashlib.sha256(raw.splitlines()[-1]).hexdigest()}
    for name in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"):
        lines = (root / name).read_bytes().decode().splitlines(keepends=True)
        assert lines == sorted(lines, key=lambda line: line.split("  ", 1)[1])
        assert all(line.endswith("\n") and "\r" not in line and len(line.split("  ")) == 2 for line in lines)
    info = (root / "bag-info.txt").read_text()
    assert "External-Identifier: IR-TEST\n" in info and f"Evkit-Signer-Fingerprint: {examiner_key.fingerprint}\n" in info
    verify_md = (root / "VERIFY.md").read_text()
    assert examiner_key.fingerprint in verify_md and "EXAMINER='examiner@firm.example'" in verify_md
    assert (root / "keys" / "allowed_signers").read_text() == (
        f'examiner@firm.example namespaces="evkit-evidence" {" ".join(examiner_key.openssh_line.split()[:2])}\n')


def test_unsealed_bundle_is_invalid(tmp_path, signing_key, examiner_key):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    writer.write("imports/a.csv", b"x")
    result = verify_bundle(tmp_path / "b", signer_key=signing_key[0].with_name("examiner.key.pub"))
    assert result.verdict == "invalid"
    assert "unsealed" in {f.code for f in result.findings}


def test_interrupted_seal_can_be_redone(tmp_path, signing_key, examiner_key, monkeypatch):
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")
    writer.write("imports/a.csv", b"x")
    import evkit.manifests.bundle as bundle_mod

    def boom(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(bundle_mod.custody, "first_record", boom)
    with pytest.raises(RuntimeError):
        writer.seal(examiner_key, bag_info={}, collection={"kind": "import"})
    assert (tmp_path / "b" / ".evkit-open").exists()
    half = verify_bundle(tmp_path / "b", signer_key=signing_key[0].with_name("examiner.key.pub"))
    assert half.verdict == "invalid" and "unsealed" in {f.code for f in half.findings}
    monkeypatch.undo()
    BundleWriter.resume(tmp_path / "b").seal(examiner_key, bag_info={}, collection={"kind": "import"})
    done = verify_bundle(tmp_path / "b", signer_key=signing_key[0].with_name("examiner.key.pub"))
    assert done.verdict == "valid", [str(f) for f in done.findings]


def test_concurrent_writes_and_events_keep_the_chain(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    writer = BundleWriter.create(tmp_path / "b", case_id="c", collection_id="x")

    def work(i):
        writer.write(f"raw/p{i:04d}.json", b"x" * i)
        writer.log_event("page", n=i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(200)))
    raw = (tmp_path / "b" / "data" / "events.log").read_bytes()
    assert _chain_ok(raw) and raw.count(b"\n") == 201
    assert len(list((tmp_path / "b" / "data" / "raw").iterdir())) == 200
