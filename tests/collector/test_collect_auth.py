"""MsalTokenProvider over a fake MSAL application: caching, renewal before expiry, after a 401,
device code announcement, and MSAL error dicts mapped to AuthError."""

from __future__ import annotations

from typing import Any

import pytest

from evkit.collector.auth import REFRESH_MARGIN, Credentials, MsalTokenProvider, _credential
from evkit.collector.config import AuthConfig
from evkit.collector.errors import AuthError, ConfigError


class FakeApp:
    def __init__(self, lifetime: int = 3600, fail: bool = False) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.fail = fail
        self.token_cache = None

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            return {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret.\nTrace"}
        return {"access_token": f"at-{self.calls}", "expires_in": self.lifetime}


class FakePublicApp:
    def __init__(self) -> None:
        self.flows = 0
        self.accounts: list[dict] = []

    def get_accounts(self) -> list[dict]:
        return self.accounts

    def acquire_token_silent(self, scopes, account, force_refresh=False):
        return {"access_token": "silent", "expires_in": 3600}

    def initiate_device_flow(self, scopes):
        self.flows += 1
        return {"user_code": "ABCD-1234", "verification_uri": "https://login/device", "message": "enter ABCD-1234"}

    def acquire_token_by_device_flow(self, flow):
        self.accounts = [{"username": "examiner"}]
        return {"access_token": "device", "expires_in": 3600}


def test_tokens_are_cached_per_scope_and_renewed_before_expiry() -> None:
    now = [0.0]
    app = FakeApp(lifetime=3600)
    provider = MsalTokenProvider(app, device_flow=False, clock=lambda: now[0])
    assert provider.token("graph") == "at-1"
    assert provider.token("graph") == "at-1"
    assert provider.token("manage") == "at-2"
    now[0] = 3600 - REFRESH_MARGIN + 1
    assert provider.token("graph") == "at-3"


def test_invalidate_after_401_fetches_a_new_token() -> None:
    provider = MsalTokenProvider(FakeApp(), device_flow=False, clock=lambda: 0.0)
    first = provider.token("graph")
    provider.invalidate("graph")
    assert provider.token("graph") != first


def test_msal_error_becomes_one_line_auth_error() -> None:
    provider = MsalTokenProvider(FakeApp(fail=True), device_flow=False)
    with pytest.raises(AuthError, match=r"invalid_client \(AADSTS7000215: Invalid client secret.\)$"):
        provider.token("graph")


def test_device_code_prints_the_code_once_then_refreshes_silently() -> None:
    said: list[str] = []
    app = FakePublicApp()
    provider = MsalTokenProvider(app, device_flow=True, announce=said.append, clock=lambda: 0.0)
    assert provider.token("graph") == "device"
    assert said == ["enter ABCD-1234"]
    assert provider.token("exchange") == "silent" and app.flows == 1


def test_credentials_forms(tmp_path) -> None:
    with pytest.raises(ConfigError, match="EVKIT_SECRET"):
        _credential(AuthConfig("secret", "c", client_secret_env="EVKIT_SECRET"), Credentials())
    assert _credential(AuthConfig("secret", "c", client_secret_env="S"), Credentials(client_secret="s")) == "s"
    (tmp_path / "k.pem").write_text("KEY")
    (tmp_path / "c.pem").write_text("CERT")
    cred = _credential(AuthConfig("certificate", "c", certificate=tmp_path / "c.pem", private_key=tmp_path / "k.pem",
                                  thumbprint="AB" * 20), Credentials(key_passphrase="pw"))
    assert cred == {"private_key": "KEY", "thumbprint": "AB" * 20, "public_certificate": "CERT", "passphrase": "pw"}
    pfx = _credential(AuthConfig("certificate", "c", pfx=tmp_path / "a.pfx"), Credentials())
    assert pfx == {"private_key_pfx_path": str(tmp_path / "a.pfx"), "public_certificate": True}


def test_wrong_certificate_passphrase_names_the_key_and_the_variable(tmp_path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from evkit.collector.auth import build_provider

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evkit-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "app.key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"right passphrase")))
    (tmp_path / "app.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    auth = AuthConfig("certificate", "11111111-1111-1111-1111-111111111111", certificate=tmp_path / "app.crt.pem",
                      private_key=tmp_path / "app.key.pem", thumbprint="AB" * 20,
                      private_key_passphrase_env="EVKIT_CERT_PASSPHRASE")
    class Discovery:  # MSAL reads the authority's OpenID configuration before it loads the key
        def get(self, url, **kwargs):
            return Answer()

        post = get

        def close(self):
            pass

    class Answer:
        status_code, headers = 200, {}
        text = ('{"authorization_endpoint": "https://login.example/tenant/oauth2/v2.0/authorize", '
                '"token_endpoint": "https://login.example/tenant/oauth2/v2.0/token", '
                '"issuer": "https://login.example/tenant/v2.0", "device_authorization_endpoint": '
                '"https://login.example/tenant/oauth2/v2.0/devicecode"}')

        def raise_for_status(self):
            pass

    with pytest.raises(ConfigError) as caught:
        build_provider(auth, "https://login.example/tenant", Credentials(key_passphrase="wrong"), Discovery())
    message = str(caught.value)
    assert "app.key.pem" in message and "EVKIT_CERT_PASSPHRASE" in message and "wrong passphrase" in message


def test_msal_floor_has_the_pfx_option_the_collector_uses() -> None:
    """`private_key_pfx_path` exists from msal 1.29.0; an older floor would install without it."""
    import configparser
    import re
    from pathlib import Path

    parser = configparser.ConfigParser()
    parser.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    spec = next(line for line in parser["options"]["install_requires"].splitlines() if line.strip().startswith("msal"))
    floor = tuple(int(part) for part in re.search(r">=\s*([\d.]+)", spec).group(1).split("."))
    assert floor >= (1, 29), spec
