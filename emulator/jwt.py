"""Minimal JWT (JWS compact) signing and checking with `cryptography`: the emulator's access
tokens and the client assertions MSAL signs with the app certificate."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JwtError(ValueError):
    """A token that is malformed or whose signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JwtError("not base64url") from exc


def _compact_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def sign_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    header = {"typ": "JWT", "alg": "RS256", "kid": kid}
    signing_input = f"{b64url(_compact_json(header))}.{b64url(_compact_json(claims))}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS, without verifying."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("not a compact JWS (expected three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwtError("header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("header or payload is not a JSON object")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])


def verify(token: str, public_key: rsa.RSAPublicKey, allowed_algs: tuple[str, ...] = ("RS256",)
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the signature (RS256 or PS256) and return (header, claims); expiry is the caller's."""
    header, claims, signing_input, signature = split(token)
    alg = header.get("alg")
    if alg not in allowed_algs:
        raise JwtError(f"algorithm {alg!r} not accepted")
    if alg == "RS256":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    else:  # PS256, as MSAL signs with a SHA-256 thumbprint
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise JwtError("signature does not verify") from exc
    return header, claims
