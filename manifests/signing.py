"""Ed25519 signatures in the two forms a recipient can check with stock tools.

- raw: the 64-byte RFC 8032 signature over the file bytes (`openssl pkeyutl -verify -rawin`);
- SSHSIG: OpenSSH's armored signature format (PROTOCOL.sshsig), hash sha512, namespace
  "evkit-evidence" (`ssh-keygen -Y verify`). Built and checked here with `cryptography`
  alone, so neither sealing nor `evkit verify` ever shells out to ssh-keygen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evkit.manifests.errors import KeyFileError, SignatureError
from evkit.manifests.keys import KEY_TYPE, SigningKey, fingerprint, public_blob, public_key_from_blob

NAMESPACE = "evkit-evidence"
_MAGIC = b"SSHSIG"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _s(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def sign_raw(key: SigningKey, data: bytes) -> bytes:
    """Raw Ed25519 signature (64 bytes) over data."""
    return key.sign(data)


def verify_raw(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when signature is a valid raw Ed25519 signature of data by public_key."""
    if len(signature) != 64:
        return False
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _signed_data(namespace: str, hash_alg: str, data: bytes) -> bytes:
    digest = _HASHES[hash_alg](data).digest()
    return _MAGIC + _s(namespace.encode()) + _s(b"") + _s(hash_alg.encode()) + _s(digest)


def sshsig_sign(key: SigningKey, data: bytes, namespace: str = NAMESPACE) -> str:
    """Armored SSHSIG over data (hash sha512), byte-compatible with `ssh-keygen -Y sign`."""
    signature = key.sign(_signed_data(namespace, "sha512", data))
    blob = (_MAGIC + (1).to_bytes(4, "big") + _s(public_blob(key.public_key)) + _s(namespace.encode())
            + _s(b"") + _s(b"sha512") + _s(_s(KEY_TYPE.encode()) + _s(signature)))
    b64 = base64.b64encode(blob).decode()
    lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


@dataclass(frozen=True)
class SshSig:
    """The parsed fields of an SSHSIG blob."""

    public_key: Ed25519PublicKey
    namespace: str
    hash_alg: str
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SignatureError("SSH signature is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def string(self) -> bytes:
        return self.take(int.from_bytes(self.take(4), "big"))


def parse_sshsig(armored: bytes | str) -> SshSig:
    """Parse an armored SSHSIG; raise SignatureError when it is not a well-formed Ed25519 one."""
    text = armored.decode("ascii", "replace") if isinstance(armored, bytes) else armored
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise SignatureError("not an armored SSH signature")
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("SSH signature is not valid base64") from None
    reader = _Reader(blob)
    if reader.take(6) != _MAGIC or int.from_bytes(reader.take(4), "big") != 1:
        raise SignatureError("not an SSHSIG version 1 blob")
    try:
        public_key = public_key_from_blob(reader.string(), "SSH signature")
    except KeyFileError as exc:
        raise SignatureError(str(exc)) from None
    namespace = reader.string().decode("utf-8", "replace")
    reader.string()  # reserved
    hash_alg = reader.string().decode("ascii", "replace")
    sig_reader = _Reader(reader.string())
    if sig_reader.string() != KEY_TYPE.encode():
        raise SignatureError("SSH signature is not an Ed25519 signature")
    signature = sig_reader.string()
    if hash_alg not in _HASHES:
        raise SignatureError(f"SSH signature uses unsupported hash {hash_alg!r}")
    return SshSig(public_key, namespace, hash_alg, signature)


def sshsig_verify(armored: bytes | str, data: bytes, namespace: str = NAMESPACE) -> SshSig:
    """Check an SSHSIG over data in the namespace; return it parsed (caller decides trust).

    Raises SignatureError for a malformed blob, a wrong namespace or a bad signature.
    """
    sig = parse_sshsig(armored)
    if sig.namespace != namespace:
        raise SignatureError(f"SSH signature namespace is {sig.namespace!r}, expected {namespace!r}")
    if not verify_raw(sig.public_key, sig.signature, _signed_data(namespace, sig.hash_alg, data)):
        raise SignatureError("SSH signature does not match the signed file")
    return sig
