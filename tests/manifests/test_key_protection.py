"""Private keys at rest: scrypt (memory-hard) PKCS#8 that stock openssl still opens, passphrases
of at least 12 characters, and keys written by earlier versions (PBKDF2) still load."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from manifests_helpers import passphrase_env

from evkit.manifests.errors import KeyFileError, WeakPassphraseError
from evkit.manifests.keys import MIN_PASSPHRASE, generate_key, load_public_key, load_signing_key
from evkit.manifests.signing import verify_raw

LEGACY = Path(__file__).parent / "fixtures" / "legacy-key" / "legacy.key"
LEGACY_PASSPHRASE = "legacy key passphrase"   # a throw-away test key written by the earlier format


def asn1(path: Path) -> str:
    return subprocess.run(["openssl", "asn1parse", "-in", str(path)], capture_output=True, text=True,
                          check=True).stdout


def test_new_keys_are_scrypt_encrypted_and_openssl_opens_them(signing_key):
    path, passphrase, _ = signing_key
    parsed = asn1(path)
    assert ":PBES2" in parsed and ":scrypt" in parsed and ":aes-256-cbc" in parsed and "PBKDF2" not in parsed
    # N = 2**14 (0x4000), r = 8, p = 5, key length 32 (0x20), in that order after the salt
    ints = [line.rsplit(":", 1)[1] for line in parsed.splitlines() if "prim: INTEGER" in line]
    assert ints == ["4000", "08", "05", "20"]
    derived = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-passin", "env:P"],
                             capture_output=True, env={"P": passphrase}, check=True).stdout
    assert derived == Path(f"{path}.pub.pem").read_bytes()
    wrong = subprocess.run(["openssl", "pkey", "-in", str(path), "-noout", "-passin", "pass:wrong passphrase!"],
                           capture_output=True, check=False)
    assert wrong.returncode != 0


@pytest.mark.parametrize("passphrase", ["", "x", "eleven char"])
def test_short_passphrases_are_refused(tmp_path, passphrase):
    assert len(passphrase) < MIN_PASSPHRASE
    with pytest.raises(WeakPassphraseError, match="at least 12 characters"):
        generate_key(tmp_path / "k", "a@b.example", passphrase)
    assert list(tmp_path.iterdir()) == []


def test_twelve_characters_are_enough_and_unicode_counts_characters(tmp_path):
    generate_key(tmp_path / "k", "a@b.example", "twelve chars")
    generate_key(tmp_path / "u", "a@b.example", "pässwörd-ünï")
    assert load_signing_key(tmp_path / "u", "pässwörd-ünï").signer == "a@b.example"


def test_keygen_cli_refuses_a_short_passphrase(evkit_cli, tmp_path):
    proc = evkit_cli("keygen", "--out", str(tmp_path / "k"), "--signer", "a@b.example",
                     env=passphrase_env("short"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "at least 12 characters" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "k").exists()


def test_a_key_written_by_the_earlier_format_still_loads():
    assert "PBKDF2" in asn1(LEGACY)   # what the earlier versions wrote (2,048 iterations)
    key = load_signing_key(LEGACY, LEGACY_PASSPHRASE)
    public, signer = load_public_key(Path(f"{LEGACY}.pub"))
    assert key.signer == signer == "legacy@firm.example"
    assert key.fingerprint == "SHA256:yUM9urGh4M9LdaDgd+3CQYhICrooh8LXlCQf5Uf3VTc"
    assert verify_raw(public, key.sign(b"evidence"), b"evidence")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_signing_key(LEGACY, "not the passphrase")
