"""Sealing commits with one rename: a crash at ANY filesystem step of `create` or `seal` leaves
either no bundle / an open bundle that resume finishes, or a sealed bundle that verifies.

The crash is `Killed` at step N (tests/crashpoints.py), for every N until the operation runs
to its end; after each, the bundle is recovered the way a user would and checked in full.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from crashpoints import CrashInjector, Killed
from manifests_helpers import stock_bagit, stock_sha256_tag

from evkit.manifests.bundle import BundleWriter
from evkit.manifests.custody import append_custody
from evkit.manifests.errors import BundleExistsError, BundleSealedError
from evkit.manifests.sealstate import SealState, has_leftover, remove_leftover, seal_state
from evkit.manifests.verify import verify_bundle

FILES = {"raw/ual/u1/p000001.json": b'{"value":[1]}', "raw/ual/u1/p000002.json": b'{"value":[2]}',
         "imports/a.csv": b"a,b\n1,2\n"}
STATE = {"pages": {"ual/u1": 3}, "ledger": {"ual/u1": {"status": "complete"}}, "runs": 1}
BAG_INFO = {"Source-Organization": "Test Firm"}
COLLECTION = {"schema": "evkit.collection/1", "kind": "import"}
MAX_STEPS = 1000


def open_bundle(root: Path) -> BundleWriter:
    writer = BundleWriter.create(root, case_id="IR-CRASH", collection_id="C-1")
    for rel, data in FILES.items():
        writer.write(rel, data)
        writer.log_event("wrote", file=rel)
    writer.write_state(STATE)
    return writer


def payload(root: Path) -> dict[str, str]:
    data = root / "data"
    return {p.relative_to(data).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.rglob("*")) if p.is_file() and p.parent.name != "logs"
            and p.name not in ("events.log", "collection.json")}


def assert_verifies(root: Path, pub: Path) -> None:
    result = verify_bundle(root, signer_key=pub)
    assert result.verdict == "valid", [str(f) for f in result.findings]


def test_crash_at_every_step_of_seal_recovers(tmp_path, signing_key, examiner_key, monkeypatch):
    pub = Path(f"{signing_key[0]}.pub")
    template = tmp_path / "template"
    open_bundle(template)
    want = payload(template)
    injector = CrashInjector(monkeypatch)
    outcomes = {"open": 0, "sealed": 0, "sealed-with-leftover": 0}
    for step in range(1, MAX_STEPS):
        root = tmp_path / f"b{step}"
        shutil.copytree(template, root, symlinks=True)
        writer = BundleWriter.resume(root)
        try:
            with injector.armed(step):
                writer.seal(examiner_key, bag_info=BAG_INFO, collection=COLLECTION)
        except Killed:
            pass
        else:
            assert step > 20, "seal finished in too few steps for this test to mean anything"
            assert_verifies(root, pub)
            assert not os.path.lexists(root / ".evkit-open")
            break
        state = seal_state(root)
        if state is SealState.OPEN:
            outcomes["open"] += 1
            resumed = BundleWriter.resume(root)
            assert resumed.read_state() == STATE, f"step {step} ({injector.where}): resume state lost"
            resumed.seal(examiner_key, bag_info=BAG_INFO, collection=COLLECTION)
        else:
            assert state is SealState.SEALED, f"step {step} ({injector.where}): {state}"
            leftover = has_leftover(root)
            outcomes["sealed-with-leftover" if leftover else "sealed"] += 1
            # sealed means verifiable as it lies, leftover or not, with evkit and stock tools
            assert_verifies(root, pub)
            assert stock_sha256_tag(root)
            with pytest.raises(BundleSealedError, match="already sealed"):
                BundleWriter.resume(root)
            remove_leftover(root)
        assert not os.path.lexists(root / ".evkit-open"), f"step {step}"
        assert_verifies(root, pub)
        assert payload(root) == want, f"step {step} ({injector.where}): payload changed"
        shutil.rmtree(root)
    else:
        pytest.fail("seal never finished")
    assert outcomes["open"] > 10 and outcomes["sealed-with-leftover"] > 0, outcomes


def test_leftover_beside_a_committed_seal_is_not_unsealed(tmp_path, signing_key, examiner_key):
    """What a kill at the final rmdir used to leave: signed bundle plus an empty open folder."""
    from manifests_helpers import make_bundle

    root = make_bundle(tmp_path / "b", examiner_key)
    (root / ".evkit-open").mkdir()
    result = verify_bundle(root, signer_key=Path(f"{signing_key[0]}.pub"))
    assert result.verdict == "valid", [str(f) for f in result.findings]
    assert stock_bagit(root)
    with pytest.raises(BundleSealedError):
        BundleWriter.resume(root)
    append_custody(root, event="note", key=examiner_key, note="received")   # sealed: custody goes on
    assert remove_leftover(root) and not (root / ".evkit-open").exists()
    assert not remove_leftover(root)


def test_crash_at_every_step_of_create_leaves_nothing_or_an_open_bundle(tmp_path, monkeypatch):
    injector = CrashInjector(monkeypatch)
    for step in range(1, MAX_STEPS):
        root = tmp_path / f"b{step}"
        try:
            with injector.armed(step):
                BundleWriter.create(root, case_id="IR-CRASH", collection_id="C-1")
        except Killed:
            pass
        else:
            assert step > 5
            break
        if os.path.lexists(root):   # it appeared: it must be a complete open bundle
            writer = BundleWriter.resume(root)
            assert writer.read_state() == {} and writer.collection_id == "C-1"
        else:   # a retry creates it, clearing what the crash left behind
            BundleWriter.create(root, case_id="IR-CRASH", collection_id="C-2")
            assert [p.name for p in tmp_path.iterdir() if ".evkit-new-" in p.name] == []
        shutil.rmtree(root)
    else:
        pytest.fail("create never finished")


def test_create_never_replaces_a_directory_that_appears_meanwhile(tmp_path, monkeypatch):
    import evkit.manifests.bundle as bundle_mod

    root = tmp_path / "b"
    real = bundle_mod.fsync_dir

    def rival_appears(path):
        real(path)
        if ".evkit-new-" in Path(path).name and not root.exists():   # just before the rename
            root.mkdir()
            (root / "theirs.txt").write_text("someone else's")

    monkeypatch.setattr(bundle_mod, "fsync_dir", rival_appears)
    with pytest.raises(BundleExistsError, match="already exists"):
        BundleWriter.create(root, case_id="IR-CRASH", collection_id="C-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert sorted(p.name for p in root.iterdir()) == ["theirs.txt"]
