"""`evkit import`: names made safe, bad input refused in one line, nothing half-written left."""

from __future__ import annotations

import json
import os
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

from evkit.evidence.errors import ImportInputError
from evkit.collector.importer import import_files, plan_names
from evkit.manifests.errors import UnsafeNameError
from evkit.manifests.verify import verify_bundle


def _env(passphrase):
    env = dict(os.environ)
    env["EVKIT_PASSPHRASE"] = passphrase
    return env


def _run(*args, env):
    return subprocess.run([sys.executable, "-m", "evkit", "import", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=120)


def _one_line(proc):
    return (proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
            and proc.stderr.startswith("evkit import: error: "))


def test_plan_names_sanitises_and_deduplicates(tmp_path):
    names = plan_names([tmp_path / "Audit search (1).csv", tmp_path / "-rf", tmp_path / "caf\u00e9.json",
                        tmp_path / "A.csv", tmp_path / "a.csv", tmp_path / "x", tmp_path / "x.meta.json"])
    assert names == ["Audit_search__1_.csv", "_rf", "caf_.json", "A.csv", "a-2.csv", "x", "x.meta-2.json_"]
    assert len({n.lower() for n in names}) == len(names)
    with pytest.raises(UnsafeNameError):
        plan_names([tmp_path / "..."])


def test_import_library_keeps_bytes_and_original_names(tmp_path, signing_key):
    from evkit.manifests.keys import load_signing_key
    key_path, passphrase, _ = signing_key
    key = load_signing_key(key_path, passphrase)
    src = tmp_path / "Sentinel export \u00e9.csv"
    src.write_bytes(b"\xff\xfeT\x00i\x00m\x00e\x00\r\x00\n\x00")
    bundle = import_files(tmp_path / "b", case_id="IR-7", key=key, files=[src], provided_by="Client IT")
    stored = bundle / "data" / "imports" / "Sentinel_export__.csv"
    assert stored.read_bytes() == src.read_bytes()
    meta = json.loads((bundle / "data" / "imports" / "Sentinel_export__.csv.meta.json").read_bytes())
    assert meta["original_name"] == "Sentinel export \u00e9.csv" and meta["size"] == src.stat().st_size
    assert set(meta) >= {"kind", "sha256", "provided_by", "received_utc", "format", "encoding",
                         "record_count", "errors", "lossy"}
    collection = json.loads((bundle / "data" / "collection.json").read_bytes())
    assert collection["kind"] == "import" and collection["ledger"][0]["status"] == "complete"
    assert verify_bundle(bundle, signer_key=key_path.with_name(key_path.name + ".pub")).verdict == "valid"


def test_failure_mid_import_leaves_nothing(tmp_path, signing_key, monkeypatch):
    from evkit.manifests.keys import load_signing_key
    import evkit.collector.importer as importer
    key = load_signing_key(signing_key[0], signing_key[1])
    src = tmp_path / "a.csv"
    src.write_bytes(b"x")

    def unreadable(path):
        raise ImportInputError(f"{path}: cannot read the file: Permission denied")

    monkeypatch.setattr(importer, "_describe_format", unreadable)
    with pytest.raises(ImportInputError):
        import_files(tmp_path / "b", case_id="IR-7", key=key, files=[src])
    assert not (tmp_path / "b").exists()


def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, signing_key):
    key_path, passphrase, _ = signing_key
    good = tmp_path / "good.csv"
    good.write_bytes(b"a\n")
    out = tmp_path / "out"
    cases = {
        "missing key": (["--key", str(tmp_path / "nokey")], _env(passphrase), 1, "does not exist"),
        "wrong passphrase": (["--key", str(key_path)], _env("wrong"), 1, "wrong passphrase"),
        "missing input": (["--key", str(key_path), str(tmp_path / "gone.csv")], _env(passphrase), 1, "no such file"),
        "directory input": (["--key", str(key_path), str(tmp_path)], _env(passphrase), 1, "not a regular file"),
    }
    (tmp_path / "...").write_bytes(b"x")
    cases["unsafe name"] = (["--key", str(key_path), str(tmp_path / "...")], _env(passphrase), 2, "cannot be made safe")
    for label, (extra, env, code, text) in cases.items():
        files = [] if any(a.startswith(str(tmp_path) + "/") and a != str(key_path) and "nokey" not in a
                          for a in extra[2:]) else [str(good)]
        proc = _run("--case", "IR-1", "--out", str(out), *extra, *files, env=env)
        assert proc.returncode == code, (label, proc.stderr)
        assert _one_line(proc) and text in proc.stderr, (label, proc.stderr)
        assert not out.exists(), label
    out.mkdir()
    exists = _run("--case", "IR-1", "--out", str(out), "--key", str(key_path), str(good), env=_env(passphrase))
    assert exists.returncode == 2 and _one_line(exists) and "already exists" in exists.stderr
    assert list(out.iterdir()) == []


def test_import_killed_at_any_step_leaves_nothing_or_a_sealed_bundle(tmp_path, signing_key, monkeypatch):
    """All or nothing: --out holds a sealed bundle that verifies, or does not exist (and a new
    import to the same name then works and leaves no hidden folder behind)."""
    from crashpoints import CrashInjector, Killed

    from evkit.manifests.keys import load_signing_key

    key = load_signing_key(signing_key[0], signing_key[1])
    pub = Path(f"{signing_key[0]}.pub")
    src = tmp_path / "export.csv"
    src.write_bytes(b"CreationDate,UserIds,Operations,AuditData\n")
    work = tmp_path / "work"
    work.mkdir()
    injector = CrashInjector(monkeypatch)
    outcomes = {"absent": 0, "sealed": 0}
    for step in range(1, 1000):
        out = work / f"b{step}"
        try:
            with injector.armed(step):
                import_files(out, case_id="IR-7", key=key, files=[src])
        except Killed:
            pass
        else:
            assert step > 30
            break
        if out.exists():
            outcomes["sealed"] += 1
        else:
            outcomes["absent"] += 1
            import_files(out, case_id="IR-7", key=key, files=[src])
        result = verify_bundle(out, signer_key=pub)
        assert result.verdict == "valid", (step, injector.where, [str(f) for f in result.findings])
        assert sorted(p.name for p in work.iterdir()) == [out.name], step
        shutil.rmtree(out)
    else:
        pytest.fail("import never finished")
    assert outcomes["absent"] > 30 and outcomes["sealed"] >= 1, outcomes
