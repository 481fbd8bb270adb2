"""Trust comes only from what the verifier passes: allowed_signers parsing and --signer-key."""

from __future__ import annotations

import pytest

from evkit.manifests.errors import KeyFileError
from evkit.manifests.trust import from_allowed_signers, from_signer_key


def test_allowed_signers_options(tmp_path, examiner_key, other_key):
    e = " ".join(examiner_key.openssh_line.split()[:2])
    o = " ".join(other_key.openssh_line.split()[:2])
    path = tmp_path / "allowed"
    path.write_text(
        "# comment\n\n"
        f'examiner@firm.example,alt@firm.example namespaces="git,evkit-*" {e}\n'
        f'lawyer@counsel.example namespaces="file" {o}\n'
        f"ca@x cert-authority {o}\n"
        "someone ssh-rsa AAAAB3NzaC1yc2E\n")
    store = from_allowed_signers(path)
    assert store.trusts(examiner_key.public_key) and not store.trusts(other_key.public_key)
    assert store.principals(examiner_key.public_key) == {"examiner@firm.example", "alt@firm.example"}


def test_allowed_signers_errors(tmp_path):
    with pytest.raises(KeyFileError, match="does not exist"):
        from_allowed_signers(tmp_path / "none")
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(KeyFileError, match="no ssh-ed25519 key"):
        from_allowed_signers(tmp_path / "empty")
    (tmp_path / "bad").write_text("a@b ssh-ed25519 !!!notbase64\n")
    with pytest.raises(KeyFileError):
        from_allowed_signers(tmp_path / "bad")


def test_signer_key_forms(signing_key, examiner_key, tmp_path):
    path = signing_key[0]
    for suffix in (".pub", ".pub.pem"):
        assert from_signer_key(path.with_name(path.name + suffix)).trusts(examiner_key.public_key)
    (tmp_path / "junk.pub").write_text("not a key\n")
    with pytest.raises(KeyFileError):
        from_signer_key(tmp_path / "junk.pub")
