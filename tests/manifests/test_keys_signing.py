"""Keys and signatures checked against the real ssh-keygen and openssl."""

from __future__ import annotations

import stat
import subprocess

import pytest

from evkit.manifests.errors import KeyExistsError, KeyFileError, SignatureError
from evkit.manifests.keys import generate_key, load_public_key, load_signing_key
from evkit.manifests.signing import parse_sshsig, sign_raw, sshsig_sign, sshsig_verify, verify_raw

from manifests_helpers import NS, passphrase_env


def test_fingerprint_matches_ssh_keygen(signing_key):
    path, _, fp = signing_key
    out = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == fp
    assert out.stdout.split()[2] == "examiner@firm.example"


def test_private_key_is_encrypted_and_private(signing_key):
    path, passphrase, _ = signing_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # openssl agrees the .pub.pem is the public half of the encrypted key
    derived = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-passin", "env:P"],
                             capture_output=True, env={"P": passphrase}, check=True).stdout
    assert derived == path.with_name(path.name + ".pub.pem").read_bytes()


def test_refuses_to_overwrite(signing_key):
    path, _, _ = signing_key
    with pytest.raises(KeyExistsError):
        generate_key(path, "x@y.example", "long enough passphrase")


def test_wrong_passphrase_and_missing_file(signing_key, tmp_path):
    path, _, _ = signing_key
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_signing_key(path, "not it")
    with pytest.raises(KeyFileError, match="does not exist"):
        load_signing_key(tmp_path / "nope.key", "pw")


def test_signer_must_be_one_token(tmp_path):
    with pytest.raises(KeyFileError):
        generate_key(tmp_path / "k", "Examiner Name <examiner@x>", "long enough passphrase")
    assert not (tmp_path / "k").exists()


def test_load_public_key_both_forms(signing_key, examiner_key):
    path, _, _ = signing_key
    for suffix in (".pub", ".pub.pem"):
        key, _ = load_public_key(path.with_name(path.name + suffix))
        assert verify_raw(key, examiner_key.sign(b"x"), b"x")


def test_sshsig_verifies_with_ssh_keygen(examiner_key, tmp_path):
    message = b"line one\nline two\n"
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "m.sig").write_text(sshsig_sign(examiner_key, message))
    (tmp_path / "allowed").write_text(f'examiner@firm.example namespaces="{NS}" {examiner_key.openssh_line}\n')
    ok = subprocess.run(f"ssh-keygen -Y verify -f allowed -I examiner@firm.example -n {NS} -s m.sig < m",
                        shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert examiner_key.fingerprint in ok.stdout
    wrong_ns = subprocess.run("ssh-keygen -Y verify -f allowed -I examiner@firm.example -n file -s m.sig < m",
                              shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert wrong_ns.returncode != 0


def test_python_verifies_ssh_keygen_signatures(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    (tmp_path / "m").write_bytes(b"payload")
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(tmp_path / "k"), "-n", NS, str(tmp_path / "m")],
                   check=True, capture_output=True)
    armored = (tmp_path / "m.sig").read_bytes()
    sig = sshsig_verify(armored, b"payload")
    fp = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, text=True).stdout.split()[1]
    assert sig.fingerprint == fp
    with pytest.raises(SignatureError, match="does not match"):
        sshsig_verify(armored, b"payload!")
    with pytest.raises(SignatureError, match="namespace"):
        sshsig_verify(armored, b"payload", namespace="file")
    with pytest.raises(SignatureError):
        parse_sshsig(b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n")


def test_raw_signature_verifies_with_openssl(examiner_key, signing_key, tmp_path):
    path, _, _ = signing_key
    (tmp_path / "m").write_bytes(b"tag manifest bytes\n")
    (tmp_path / "m.sig").write_bytes(sign_raw(examiner_key, b"tag manifest bytes\n"))
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", f"{path}.pub.pem", "-rawin",
           "-in", "m", "-sigfile", "m.sig"]
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "m").write_bytes(b"tag manifest bytes!\n")
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True).returncode != 0


def test_keygen_cli(evkit_cli, tmp_path):
    env = passphrase_env("s3cret but long enough")
    ok = evkit_cli("keygen", "--out", str(tmp_path / "k"), "--signer", "a@b.example", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("SHA256:")
    again = evkit_cli("keygen", "--out", str(tmp_path / "k"), "--signer", "a@b.example", env=env)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    no_pass = {k: v for k, v in env.items() if k != "EVKIT_PASSPHRASE"}
    prompt = evkit_cli("keygen", "--out", str(tmp_path / "k2"), "--signer", "a@b.example", env=no_pass)
    assert prompt.returncode == 2 and "EVKIT_PASSPHRASE" in prompt.stderr
    assert "Traceback" not in ok.stderr + again.stderr + prompt.stderr



def test_openssh_format_key_is_refused_clearly(tmp_path):
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "ssh pass", "-f", str(path)], check=True)
    with pytest.raises(KeyFileError, match="OpenSSH-format key"):
        load_signing_key(path, "ssh pass")
