"""Per-run test PKI: a throw-away CA, the loopback server certificate it signs, and the fake app's
certificate credential. Generated fresh each run so no key outlives the emulator."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class AppCredential:
    """The fake app's certificate credential: what the emulator checks assertions against."""

    cert: x509.Certificate
    cert_pem: bytes
    key_pem_encrypted: bytes
    passphrase: str
    thumbprint_sha1: str  # upper-case hex, as the Entra portal shows it
    thumbprint_sha256: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return builder.not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA valid for a few days: trusted only by whoever reads ca.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("evkit emulator test CA")
    builder = _validity(x509.CertificateBuilder(), 7).subject_name(name).issuer_name(name)
    builder = builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
        critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return key, builder.sign(key, hashes.SHA256())


def make_server_cert(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
                     ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Leaf certificate for 127.0.0.1, ::1 and localhost, signed by the run's CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ])
    builder = _validity(x509.CertificateBuilder(), 7).subject_name(_name("localhost"))
    builder = builder.issuer_name(ca_cert.subject).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number())
    builder = builder.add_extension(san, critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                    critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_app_credential(client_id: str) -> AppCredential:
    """RSA certificate for the fake app (MSAL signs assertions RS256/PS256, so RSA is required)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(f"evkit-emulator-app-{client_id}")
    builder = _validity(x509.CertificateBuilder(), 30).subject_name(name).issuer_name(name)
    builder = builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
    cert = builder.sign(key, hashes.SHA256())
    passphrase = secrets.token_urlsafe(18)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()))
    return AppCredential(
        cert=cert, cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem_encrypted=key_pem,
        passphrase=passphrase, thumbprint_sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def encrypted_key_pem(key: ec.EllipticCurvePrivateKey, passphrase: str) -> bytes:
    """Private keys only ever reach disk encrypted (house rule)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only."""
    path.write_bytes(data)
    path.chmod(0o600)
