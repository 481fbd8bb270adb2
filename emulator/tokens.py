"""Access tokens: issued by the authority, checked by every API for signature, audience, tenant,
expiry and the permissions the app holds."""

from __future__ import annotations

import uuid
from typing import Any

from evkit.emulator import jwt
from evkit.emulator.options import (DIRECTORY_ROLE, EXCHANGE_ADMIN_ROLE_ID, EXCHANGE_ROLES, GRAPH_ROLES,
                              MANAGE_ROLES)
from evkit.emulator.state import State

# token audience (the scope's resource) -> service prefix it is valid for
RESOURCES = {
    "https://graph.microsoft.com": "graph",
    "https://manage.office.com": "manage",
    "https://outlook.office365.com": "exchange",
}
AUDIENCE_OF = {service: aud for aud, service in RESOURCES.items()}
ROLES_OF = {"graph": GRAPH_ROLES, "manage": MANAGE_ROLES, "exchange": EXCHANGE_ROLES}


class TokenRejected(Exception):
    """The bearer token is missing or unusable; `reason` is the text Microsoft would give."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # missing | invalid | expired | audience | tenant


def app_roles(state: State, service: str) -> list[str]:
    return [r for r in ROLES_OF[service] if r not in state.options.withhold]


def issue(state: State, *, resource: str, appid: str, delegated_user: str | None = None,
          scopes: list[str] | None = None) -> tuple[str, int]:
    """Sign an access token for `resource` (a v1-style token, as Graph/EXO/Management issue)."""
    assert state.signing_key is not None
    service = RESOURCES[resource]
    issued = state.clock()
    now = int(issued)
    lifetime = state.options.token_lifetime
    claims: dict[str, Any] = {
        "aud": resource, "iss": f"https://sts.windows.net/{state.tenant_id}/", "iat": now, "nbf": now,
        "exp": now + lifetime, "appid": appid, "appidacr": "0" if delegated_user else "1",
        "tid": state.tenant_id, "ver": "1.0", "uti": uuid.uuid4().hex[:22],
        "oid": state.client_id if not delegated_user else str(uuid.uuid5(uuid.NAMESPACE_URL, delegated_user)),
    }
    if delegated_user:
        claims["upn"] = delegated_user
        claims["scp"] = " ".join(app_roles(state, service))
    else:
        claims["roles"] = app_roles(state, service)
    # legacy: the app holds the Exchange Administrator directory role; current: least privilege,
    # Exchange role groups only (emulator/exchange.py), so the token carries no directory role
    if service == "exchange" and not state.options.current and DIRECTORY_ROLE not in state.options.withhold:
        claims["wids"] = [EXCHANGE_ADMIN_ROLE_ID]
    if state.plan.token_expiry is not None:
        with state.lock:
            state.token_issued[claims["uti"]] = issued
    return jwt.sign_rs256(claims, state.signing_key, state.kid), lifetime


def check(state: State, authorization: str | None, service: str) -> dict[str, Any]:
    """Verify a bearer token for `service`; raise TokenRejected with Microsoft's wording."""
    assert state.signing_key is not None
    if not authorization:
        raise TokenRejected("Access token is empty.", "missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("Access token is empty.", "missing")
    try:
        _, claims = jwt.verify(token.strip(), state.signing_key.public_key())
    except jwt.JwtError:
        raise TokenRejected("Access token validation failure. Invalid signature or malformed token.",
                            "invalid") from None
    if claims.get("aud") != AUDIENCE_OF[service]:
        raise TokenRejected("Access token validation failure. Invalid audience.", "audience")
    now = state.clock()
    if now >= float(claims.get("exp", 0)):
        raise TokenRejected("Lifetime validation failed, the token is expired.", "expired")
    expiry = state.plan.token_expiry
    # measured from the exact issue time: `iat` is whole seconds, so against it a token could
    # expire up to a second early (at once, for token-expiry=1)
    issued = state.token_issued.get(str(claims.get("uti")), float(claims.get("iat", 0)))
    if expiry is not None and now >= issued + expiry:
        raise TokenRejected("Lifetime validation failed, the token is expired.", "expired")
    return claims


def permissions(claims: dict[str, Any]) -> set[str]:
    """Application roles plus delegated scopes carried by the token."""
    return set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
