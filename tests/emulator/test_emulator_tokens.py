"""Every API checks the bearer token: presence, signature, audience, tenant, expiry
(docs/microsoft-365.md §1.1, §2.2, §6.5 "a Graph token is rejected", §7.3)."""

from __future__ import annotations

import time

import pytest

from evkit.emulator import jwt

PATHS = {
    "graph": ("GET", "/v1.0/subscribedSkus"),
    "manage": ("GET", "/api/v1.0/{tenant}/activity/feed/subscriptions/list"),
    "exchange": ("POST", "/adminapi/beta/{tenant}/InvokeCommand"),
}
BODY = {"CmdletInput": {"CmdletName": "Get-OrganizationConfig", "Parameters": {}}}


def _call(api, service, token):
    method, path = PATHS[service]
    url = api.c[service] + path.format(tenant=api.tenant)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return api.http.request(method, url, headers=headers, json=BODY if method == "POST" else None)


@pytest.mark.parametrize("service", sorted(PATHS))
def test_good_token_is_accepted(api, service):
    assert _call(api, service, api.token(service)).status_code == 200


@pytest.mark.parametrize("service", sorted(PATHS))
def test_missing_token_is_401_with_challenge(api, service):
    r = _call(api, service, None)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    if service == "graph":
        assert r.json()["error"]["code"] == "InvalidAuthenticationToken"
    if service == "exchange":
        assert r.content == b""


@pytest.mark.parametrize("service,other", [("graph", "exchange"), ("manage", "graph"), ("exchange", "graph")])
def test_token_for_another_resource_is_rejected(api, service, other):
    r = _call(api, service, api.token(other))
    assert r.status_code == 401
    if service == "graph":
        assert "Invalid audience" in r.json()["error"]["message"]


def _forge(emu, **changes):
    claims = {"aud": "https://graph.microsoft.com", "tid": emu.connection["tenant_id"], "iat": int(time.time()),
              "exp": int(time.time()) + 600, "roles": ["Organization.Read.All"], "appid": "x"}
    claims.update(changes)
    return jwt.sign_rs256(claims, emu.state.signing_key, emu.state.kid)


def test_expired_token_is_401_lifetime(api, emu):
    r = _call(api, "graph", _forge(emu, exp=int(time.time()) - 5))
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Lifetime validation failed, the token is expired."


def test_token_signed_by_someone_else_is_401(api, emu):
    from cryptography.hazmat.primitives.asymmetric import rsa
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.split(api.token("graph"))[1]
    r = _call(api, "graph", jwt.sign_rs256(claims, other, "k"))
    assert r.status_code == 401
    r = _call(api, "graph", "garbage")
    assert r.status_code == 401


def test_management_token_for_other_tenant_is_af20010(api, emu):
    token = _forge(emu, aud="https://manage.office.com", tid="11111111-2222-3333-4444-555555555555",
                   roles=["ActivityFeed.Read"])
    r = _call(api, "manage", token)
    assert r.json()["error"]["code"] == "AF20010"
