"""Encrypt a private key as PKCS#8 (RFC 5958) with PBES2 (RFC 8018), scrypt (RFC 7914) and AES-256-CBC.

The cryptography library writes encrypted PKCS#8 only with PBKDF2 at a low, fixed iteration
count, so the EncryptedPrivateKeyInfo is assembled here (a few DER fields); reading it back is
the library's ordinary `load_pem_private_key`, and `openssl pkey` reads it too.

scrypt parameters: N=2**14, r=8, p=5 is one of the settings the OWASP password-storage guidance
lists as equal in cost to N=2**17, r=8, p=1, and it is the largest memory cost per lane
(16 MiB) that OpenSSL's default scrypt memory limit (32 MiB) accepts, so the stock tool can
still open the key. Deriving it takes a few tenths of a second on a laptop core.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 5
KEY_LENGTH = 32                                  # AES-256
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
PEM_LABEL = "ENCRYPTED PRIVATE KEY"


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _sequence(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _pem(der: bytes) -> bytes:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {PEM_LABEL}-----\n" + "\n".join(lines) + f"\n-----END {PEM_LABEL}-----\n").encode("ascii")


def encrypt_pkcs8(private_key_info: bytes, passphrase: bytes) -> bytes:
    """PEM EncryptedPrivateKeyInfo of an unencrypted PKCS#8 DER PrivateKeyInfo."""
    salt, iv = os.urandom(16), os.urandom(16)
    key = Scrypt(salt=salt, length=KEY_LENGTH, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf = _sequence(_oid(OID_SCRYPT), _sequence(_octets(salt), _integer(SCRYPT_N), _integer(SCRYPT_R),
                                                _integer(SCRYPT_P), _integer(KEY_LENGTH)))
    scheme = _sequence(_oid(OID_AES256_CBC), _octets(iv))
    algorithm = _sequence(_oid(OID_PBES2), _sequence(kdf, scheme))
    return _pem(_sequence(algorithm, _octets(encrypted)))
