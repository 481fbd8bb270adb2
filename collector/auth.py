"""Tokens through MSAL (the only module importing `msal`), kept in memory per resource scope.

App-only certificate (PEM + SHA-1 thumbprint, or PFX), client secret, or device code. A token
is refreshed a few minutes before it expires and whenever the API refused it (401), so a run
of many hours never dies on expiry (peers.md 5, item 5). Nothing here touches the disk except
reading the credential files the config names.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal

from evkit.collector.client import make_session
from evkit.collector.config import AuthConfig, CollectConfig
from evkit.collector.errors import AuthError, ConfigError, NetworkError

logger = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is renewed


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secret material read by cli_collect from the environment (never from the file or argv)."""

    client_secret: str | None = None
    key_passphrase: str | None = None


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class MsalTokenProvider:
    """Implements collector.client.TokenProvider over an MSAL application."""

    def __init__(self, app: Any, *, device_flow: bool, scopes_extra: tuple[str, ...] = (),
                 announce: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._device_flow = device_flow
        self._announce = announce
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._account: Any = None
        self._extra = scopes_extra

    def token(self, scope: str) -> str:
        with self._lock:
            current = self._tokens.get(scope)
            if current is not None and current.expires_at - REFRESH_MARGIN > self._clock():
                return current.value
            result = self._acquire(scope)
            if "access_token" not in result:
                raise AuthError(_describe(result, scope))
            lifetime = float(result.get("expires_in") or 3600)
            self._tokens[scope] = _Token(result["access_token"], self._clock() + lifetime)
            return result["access_token"]

    def invalidate(self, scope: str) -> None:
        """Forget the token for `scope` (after a 401): the next call fetches a new one."""
        with self._lock:
            self._tokens.pop(scope, None)

    def _acquire(self, scope: str) -> dict[str, Any]:
        try:
            if not self._device_flow:
                # We decide when to renew; MSAL's cache would hand back the old token.
                self._drop_cached(scope)
                return self._app.acquire_token_for_client(scopes=[scope])
            return self._acquire_user(scope)
        except (ValueError, OSError) as exc:  # MSAL raises these for bad authority / transport
            raise AuthError(f"token request for {scope} failed: {exc}") from exc
        except Exception as exc:  # requests errors come through MSAL's http_client
            if type(exc).__module__.startswith(("requests", "urllib3")):
                # no answer from the authority: the API client retries it like any other
                raise NetworkError(f"token request for {scope} got no answer: {type(exc).__name__}: {exc}") from exc
            raise

    def _drop_cached(self, scope: str) -> None:
        cache = getattr(self._app, "token_cache", None)
        if cache is None:
            return
        for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[scope])):
            cache.remove_at(item)

    def _acquire_user(self, scope: str) -> dict[str, Any]:
        if self._account is None:
            accounts = self._app.get_accounts()
            self._account = accounts[0] if accounts else None
        if self._account is not None:
            silent = self._app.acquire_token_silent([scope], account=self._account, force_refresh=True)
            if silent and "access_token" in silent:
                return silent
        flow = self._app.initiate_device_flow(scopes=[scope])
        if "user_code" not in flow:
            return flow
        self._announce(flow.get("message") or
                       f"To sign in, open {flow.get('verification_uri')} and enter the code {flow['user_code']}")
        result = self._app.acquire_token_by_device_flow(flow)
        if "access_token" in result and self._account is None:
            accounts = self._app.get_accounts()
            self._account = accounts[0] if accounts else None
        return result


def _describe(result: dict[str, Any], scope: str) -> str:
    error = result.get("error", "no token")
    description = str(result.get("error_description", "")).splitlines()[0] if result.get("error_description") else ""
    return f"no token for {scope}: {error}" + (f" ({description})" if description else "")


def build_provider(auth: AuthConfig, authority: str, credentials: Credentials, http_client: Any, *,
                   announce: Callable[[str], None] = print) -> MsalTokenProvider:
    """An MSAL application for the configured method, wrapped as a TokenProvider.

    `http_client` is the verifying requests session built by collector.client, so MSAL's own
    calls trust the configured CA bundle.
    """
    common = dict(authority=authority, http_client=http_client, token_cache=msal.TokenCache(),
                  instance_discovery=False)
    try:
        if auth.method == "device-code":
            app = msal.PublicClientApplication(auth.public_client_id or auth.client_id, **common)
            return MsalTokenProvider(app, device_flow=True, announce=announce)
        app = msal.ConfidentialClientApplication(auth.client_id, client_credential=_credential(auth, credentials),
                                                 **common)
    except (ValueError, TypeError) as exc:
        if auth.method == "certificate" and _is_key_decrypt_failure(exc):
            key = auth.pfx or auth.private_key
            field = "auth.pfx" if auth.pfx is not None else "auth.private_key"
            variable = auth.private_key_passphrase_env or "EVKIT_CERT_PASSPHRASE"
            given = "a wrong passphrase" if credentials.key_passphrase else "no passphrase"
            raise ConfigError(f"{field}: cannot decrypt the certificate key {str(key)!r} with {given}; put the "
                              f"key's passphrase in the environment variable {variable} (named by "
                              f"auth.private_key_passphrase_env)") from None
        raise AuthError(f"cannot set up MSAL for {authority}: {exc}") from exc
    return MsalTokenProvider(app, device_flow=False, announce=announce)


def make_tokens(cfg: CollectConfig, credentials: Credentials, *,
                announce: Callable[[str], None] | None = None) -> MsalTokenProvider:
    """The token provider for a run: MSAL over a session that trusts the configured CA bundle.

    `announce` shows the device-code prompt (default: a line on stderr).
    """
    session = make_session(str(cfg.endpoints.ca_bundle) if cfg.endpoints.ca_bundle else None,
                           cfg.tuning.timeout_seconds)
    return build_provider(cfg.auth, cfg.authority, credentials, session, announce=announce or _to_stderr)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _is_key_decrypt_failure(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("password", "passphrase", "decrypt"))


def _credential(auth: AuthConfig, credentials: Credentials) -> Any:
    if auth.method == "secret":
        if not credentials.client_secret:
            raise ConfigError(f"auth.client_secret_env: environment variable {auth.client_secret_env} is not set")
        return credentials.client_secret
    if auth.pfx is not None:
        cred: dict[str, Any] = {"private_key_pfx_path": str(auth.pfx), "public_certificate": True}
        if credentials.key_passphrase:
            cred["passphrase"] = credentials.key_passphrase
        return cred
    assert auth.private_key is not None and auth.certificate is not None
    cred = {"private_key": _read(auth.private_key, "auth.private_key"), "thumbprint": auth.thumbprint,
            "public_certificate": _read(auth.certificate, "auth.certificate")}
    if credentials.key_passphrase:
        cred["passphrase"] = credentials.key_passphrase
    return cred


def _read(path: Path, field_name: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{field_name}: cannot read {str(path)!r} as PEM ({exc})") from None
