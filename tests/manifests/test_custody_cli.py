"""`evkit custody`: appends chained, signed records; refuses what it cannot do, in one line."""

from __future__ import annotations

import json

from evkit.manifests.verify import verify_bundle

from manifests_helpers import make_bundle, passphrase_env


def test_custody_cli_appends_and_verifies(tmp_path, signing_key, examiner_key, evkit_cli):
    key_path, passphrase, fp = signing_key
    bundle = make_bundle(tmp_path / "b", examiner_key)
    proc = evkit_cli("custody", str(bundle), "--event", "transferred", "--key", str(key_path),
                     "--to", "lawyer@counsel.example", "--note", "courier, envelope 17",
                     env=passphrase_env(passphrase))
    assert proc.returncode == 0, proc.stderr
    record = json.loads((bundle / "custody" / "0002.json").read_bytes())
    assert record["seq"] == 2 and record["event"] == "transferred" and record["to"] == "lawyer@counsel.example"
    assert record["actor"]["fingerprint"] == fp and record["from"] == "examiner@firm.example"
    assert record["prev_record_sha256"] == __import__("hashlib").sha256(
        (bundle / "custody" / "0001.json").read_bytes()).hexdigest()
    assert (bundle / "custody" / "0002.json").read_bytes().endswith(b"}\n")
    result = verify_bundle(bundle, signer_key=key_path.with_name(key_path.name + ".pub"))
    assert result.verdict == "valid", [str(f) for f in result.findings]


def test_custody_cli_errors(tmp_path, signing_key, examiner_key, evkit_cli):
    key_path, passphrase, _ = signing_key
    bundle = make_bundle(tmp_path / "b", examiner_key)
    env = passphrase_env(passphrase)
    bad_event = evkit_cli("custody", str(bundle), "--event", "stolen", "--key", str(key_path), env=env)
    assert bad_event.returncode == 2 and "transferred" in bad_event.stderr
    wrong_pass = evkit_cli("custody", str(bundle), "--event", "note", "--key", str(key_path),
                           env=passphrase_env("nope"))
    assert wrong_pass.returncode == 1 and "wrong passphrase" in wrong_pass.stderr
    (bundle / ".evkit-open").mkdir()   # open-state folder and no bagit.txt: never sealed
    (bundle / "bagit.txt").rename(tmp_path / "bagit.txt")
    unsealed = evkit_cli("custody", str(bundle), "--event", "note", "--key", str(key_path), env=env)
    assert unsealed.returncode == 1 and "not a sealed" in unsealed.stderr
    for proc in (bad_event, wrong_pass, unsealed):
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (bundle / "custody").iterdir()) == ["0001.json", "0001.json.sshsig"]
