"""Examiner signing keys: Ed25519, private half encrypted at rest, fingerprints in OpenSSH form.

With `signing.py` and `pkcs8.py`, the only modules that handle key material. A key at PATH is
three files: PATH (PKCS#8 PEM encrypted with the passphrase through scrypt, mode 0600; see
pkcs8.py), PATH.pub (the OpenSSH public key line with the signer as comment) and PATH.pub.pem
(SubjectPublicKeyInfo PEM, for openssl). Passphrases shorter than MIN_PASSPHRASE characters
are refused when a key is made. Keys written by earlier versions (PKCS#8 with PBKDF2) still load.
The fingerprint is `SHA256:` + unpadded base64 of SHA-256 over the SSH wire public key blob,
exactly what `ssh-keygen -lf PATH.pub` prints, so it can be published and compared by anyone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
# cryptography's serialization module (PEM, PKCS#8) is imported inside the functions that read or
# write PEM: it pulls in every cipher and the OpenSSH key parser, and `evkit verify` with an
# OpenSSH public key never needs it while payload hashing competes for the CPU.
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evkit.manifests.errors import KeyExistsError, KeyFileError, WeakPassphraseError

KEY_TYPE = "ssh-ed25519"
MIN_PASSPHRASE = 12       # characters
# A principal in allowed_signers and a comment in .pub: no whitespace, quotes or commas.
_SIGNER_RE = re.compile(r"^[A-Za-z0-9._%+@-]{1,200}$")


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def public_blob(public_key: Ed25519PublicKey) -> bytes:
    """The SSH wire encoding of an Ed25519 public key: string "ssh-ed25519", string key32."""
    return _ssh_string(KEY_TYPE.encode()) + _ssh_string(public_key.public_bytes_raw())


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """OpenSSH fingerprint, identical to `ssh-keygen -lf`: SHA256:<base64, no padding>."""
    digest = hashlib.sha256(public_blob(public_key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def openssh_line(public_key: Ed25519PublicKey, comment: str = "") -> str:
    """`ssh-ed25519 AAAA... comment` (no newline)."""
    line = f"{KEY_TYPE} {base64.b64encode(public_blob(public_key)).decode()}"
    return f"{line} {comment}" if comment else line


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, the form `openssl pkeyutl -pubin -inkey` reads."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - PEM only: see the note at the top
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def check_signer(signer: str) -> str:
    """Reject signer names that would break an allowed_signers line or a .pub comment."""
    if not _SIGNER_RE.match(signer or ""):
        raise KeyFileError(f"signer {signer!r} must be an e-mail-like name: letters, digits "
                           "and ._%+@- only, no spaces")
    return signer


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key plus who it belongs to; `sign` gives a raw 64-byte Ed25519 signature."""

    signer: str
    public_key: Ed25519PublicKey
    _private: Ed25519PrivateKey = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def openssh_line(self) -> str:
        return openssh_line(self.public_key, self.signer)

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create path exclusively with the given mode (never overwrite), fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def check_passphrase(passphrase: str) -> str:
    """Refuse passphrases too short to protect a key that signs evidence."""
    if len(passphrase or "") < MIN_PASSPHRASE:
        raise WeakPassphraseError(f"the passphrase must be at least {MIN_PASSPHRASE} characters long "
                                  f"(got {len(passphrase or '')}); use a long phrase from a password manager")
    return passphrase


def generate_key(path: Path, signer: str, passphrase: str) -> str:
    """Create PATH, PATH.pub and PATH.pub.pem; return the fingerprint. Refuses to overwrite."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - PEM only: see the note at the top

    from evkit.manifests.pkcs8 import encrypt_pkcs8  # noqa: PLC0415 - loads the PEM stack: see the note at the top
    path = Path(path)
    check_signer(signer)
    check_passphrase(passphrase)
    targets = [path, Path(f"{path}.pub"), Path(f"{path}.pub.pem")]
    for target in targets:
        if os.path.lexists(target):
            raise KeyExistsError(f"{target} already exists; refusing to overwrite a key "
                                 "(choose another --out)")
    if not path.parent.is_dir():
        raise KeyFileError(f"directory {path.parent} does not exist")
    private = Ed25519PrivateKey.generate()
    pem = encrypt_pkcs8(private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), passphrase.encode("utf-8"))
    public = private.public_key()
    try:
        _write_new(targets[0], pem, 0o600)
        _write_new(targets[1], (openssh_line(public, signer) + "\n").encode(), 0o644)
        _write_new(targets[2], public_pem(public), 0o644)
    except FileExistsError as exc:
        raise KeyExistsError(f"{exc.filename} already exists; refusing to overwrite") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write {exc.filename or path}: {exc.strerror}") from None
    return fingerprint(public)


def parse_public_line(line: str, source: str = "public key") -> tuple[Ed25519PublicKey, str]:
    """Parse `ssh-ed25519 AAAA... [comment]` into (key, comment)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] != KEY_TYPE:
        raise KeyFileError(f"{source}: not an ssh-ed25519 public key line")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise KeyFileError(f"{source}: public key is not valid base64") from None
    return public_key_from_blob(blob, source), (parts[2] if len(parts) == 3 else "")


def public_key_from_blob(blob: bytes, source: str = "public key") -> Ed25519PublicKey:
    """Decode an SSH wire blob (string "ssh-ed25519", string key32) into a public key."""
    expected_prefix = _ssh_string(KEY_TYPE.encode()) + (32).to_bytes(4, "big")
    if len(blob) != len(expected_prefix) + 32 or not blob.startswith(expected_prefix):
        raise KeyFileError(f"{source}: not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(blob[len(expected_prefix):])


def _read_key_file(path: Path, what: str, hint: str) -> bytes:
    """The bytes of a key file; KeyFileError naming the file (and what to do) otherwise."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist{hint}") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_public_key(path: Path) -> tuple[Ed25519PublicKey, str]:
    """Read a public key file: OpenSSH line (.pub) or PEM (.pub.pem). Returns (key, comment)."""
    path = Path(path)
    return load_public_key_bytes(_read_key_file(path, "public key", ""), str(path))


def load_public_key_bytes(data: bytes, source: str) -> tuple[Ed25519PublicKey, str]:
    """A public key file's bytes (OpenSSH line or PEM) as (key, comment); KeyFileError naming source."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - PEM only: see the note at the top
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError(f"{source}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{source}: not an Ed25519 key")
        return key, ""
    return parse_public_line(data.decode("ascii", "replace"), source)


def load_signing_key(path: Path, passphrase: str) -> SigningKey:
    """Decrypt PATH with the passphrase; the signer name comes from PATH.pub (must match)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - PEM only: see the note at the top
    path = Path(path)
    data = _read_key_file(path, "key file", " (create one with `evkit keygen`)")
    if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
        # decrypting OpenSSH's format needs bcrypt, which evkit does not depend on
        raise KeyFileError(f"{path} is an OpenSSH-format key; evkit signs with keys made by "
                           "`evkit keygen` (PKCS#8, encrypted)")
    try:
        private = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except TypeError:
        raise KeyFileError(f"{path} is not encrypted; evkit only uses keys encrypted at rest") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"cannot decrypt {path}: wrong passphrase or not an evkit key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    pub_path = Path(f"{path}.pub")
    public, signer = load_public_key(pub_path)
    if public_blob(public) != public_blob(private.public_key()):
        raise KeyFileError(f"{pub_path} does not belong to {path}")
    check_signer(signer)
    return SigningKey(signer=signer, public_key=private.public_key(), _private=private)
