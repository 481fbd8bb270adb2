"""Login authority contract (docs/microsoft-365.md §7.1-§7.1)."""

from __future__ import annotations

import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from evkit.emulator import jwt


def _token_url(api, tenant=None):
    return f"{api.c['authority_host']}/{tenant or api.tenant}/oauth2/v2.0/token"


def test_openid_configuration_names_token_and_device_endpoints(api):
    """7.3: MSAL reads token_endpoint, authorization_endpoint, device_authorization_endpoint."""
    for tenant in (api.tenant, api.c["tenant_domain"]):
        r = api.http.get(f"{api.c['authority_host']}/{tenant}/v2.0/.well-known/openid-configuration")
        assert r.status_code == 200
        doc = r.json()
        base = f"{api.c['authority_host']}/{tenant}"
        assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
        assert doc["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
        assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
        assert doc["token_endpoint"].startswith("https://")


def test_instance_discovery_document(api):
    r = api.http.get(f"{api.c['authority_host']}/common/discovery/instance",
                     params={"api-version": "1.1",
                             "authorization_endpoint": f"{api.c['authority_host']}/{api.tenant}/oauth2/v2.0/authorize"})
    assert r.status_code == 200
    body = r.json()
    assert body["tenant_discovery_endpoint"].endswith(f"/login/{api.tenant}/v2.0/.well-known/openid-configuration")
    assert body["metadata"][0]["aliases"]


def test_unknown_tenant_is_aadsts90002(api):
    r = api.http.get(f"{api.c['authority_host']}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]


def test_token_response_shape(api):
    r = api.token_response("https://graph.microsoft.com/.default")
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["ext_expires_in"] == body["expires_in"]
    header, claims, _, _ = jwt.split(body["access_token"])
    assert header["alg"] == "RS256" and claims["iss"] == f"https://sts.windows.net/{api.tenant}/"
    assert claims["ver"] == "1.0" and claims["appidacr"] == "1"
    assert set(claims["roles"]) >= {"AuditLogsQuery.Read.All", "Organization.Read.All", "User.Read.All"}


def test_token_endpoint_errors(api):
    cases = [
        ({"client_id": ""}, 400, "invalid_request", 900144),
        ({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016),
        ({"client_secret": "nope"}, 401, "invalid_client", 7000215),
        ({"scope": "https://graph.microsoft.com/User.Read"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://example.com/.default"}, 400, "invalid_resource", 500011),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ]
    for extra, status, error, code in cases:
        data = {"grant_type": "client_credentials", "client_id": api.c["client_id"],
                "client_secret": api.c["client_secret"], "scope": "https://graph.microsoft.com/.default", **extra}
        r = api.http.post(_token_url(api), data=data)
        body = r.json()
        assert (r.status_code, body["error"], body["error_codes"]) == (status, error, [code]), extra
        assert body["error_description"].startswith(f"AADSTS{code}:")
        assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_missing_credential_is_7000218(api):
    data = {"grant_type": "client_credentials", "client_id": api.c["client_id"],
            "scope": "https://graph.microsoft.com/.default"}
    r = api.http.post(_token_url(api), data=data)
    assert r.status_code == 401 and r.json()["error_codes"] == [7000218]


def _assertion(api, key, *, aud=None, iss=None, exp_in=600, x5t=None, alg="RS256"):
    now = int(time.time())
    thumb = bytes.fromhex(api.c["certificate"]["thumbprint"])
    header = {"alg": alg, "typ": "JWT", "x5t": x5t or jwt.b64url(thumb)}
    claims = {"aud": aud or _token_url(api), "iss": iss or api.c["client_id"], "sub": iss or api.c["client_id"],
              "jti": str(uuid.uuid4()), "nbf": now, "exp": now + exp_in}
    import json
    signing_input = f"{jwt.b64url(json.dumps(header).encode())}.{jwt.b64url(json.dumps(claims).encode())}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{jwt.b64url(sig)}"


def _app_key(api):
    cert = api.c["certificate"]
    return serialization.load_pem_private_key(open(cert["key_path"], "rb").read(),
                                              cert["key_passphrase"].encode())


def _post_assertion(api, assertion):
    data = {"grant_type": "client_credentials", "client_id": api.c["client_id"],
            "scope": "https://manage.office.com/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    return api.http.post(_token_url(api), data=data)


def test_certificate_assertion_is_checked(api):
    """Signature against the registered certificate, x5t thumbprint, aud, iss/sub and exp (issue item 1)."""
    key = _app_key(api)
    assert _post_assertion(api, _assertion(api, key)).status_code == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        (_assertion(api, other), 700027),                                        # not signed by the app key
        (_assertion(api, key, x5t=jwt.b64url(b"\x01" * 20)), 700027),            # unregistered thumbprint
        (_assertion(api, key, aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"), 50012),
        (_assertion(api, key, iss=str(uuid.uuid4())), 700021),
        (_assertion(api, key, exp_in=-3600), 700024),                            # expired
        ("not-a-jwt", 50027),
    ]
    for assertion, code in cases:
        r = _post_assertion(api, assertion)
        assert r.status_code == 401 and r.json()["error_codes"] == [code], (code, r.text)


def _devicecode(api, client_id=None):
    r = api.http.post(f"{api.c['authority_host']}/{api.tenant}/oauth2/v2.0/devicecode",
                      data={"client_id": client_id or api.c["public_client_id"],
                            "scope": "https://outlook.office365.com/.default openid profile offline_access"})
    assert r.status_code == 200, r.text
    return r.json()


def _poll(api, code):
    return api.http.post(_token_url(api), data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                                "client_id": api.c["public_client_id"], "device_code": code})


def test_device_code_pending_slow_down_then_token(api):
    """7.2: authorization_pending until approved, slow_down when polling faster than interval."""
    flow = _devicecode(api)
    assert flow["interval"] == 1 and flow["expires_in"] > 0 and flow["user_code"] in flow["message"]
    r = _poll(api, flow["device_code"])
    assert r.status_code == 400 and r.json()["error"] == "authorization_pending"
    r = _poll(api, flow["device_code"])  # immediately again: too fast
    assert r.status_code == 400 and r.json()["error"] == "slow_down"
    results = []
    for _ in range(3):
        time.sleep(1.05)
        r = _poll(api, flow["device_code"])
        results.append(r.json().get("error", "ok"))
        if r.status_code == 200:
            break
    assert results[-1] == "ok", results
    body = r.json()
    assert {"access_token", "refresh_token", "id_token", "client_info"} <= set(body)
    assert jwt.split(body["access_token"])[1]["aud"] == "https://outlook.office365.com"
    assert _poll(api, flow["device_code"]).json()["error"] == "invalid_grant"  # redeemed once only


def test_device_code_expired_token(api, emu):
    flow = _devicecode(api)
    emu.state.device_codes[flow["device_code"]].issued -= 10_000  # let it run out
    r = _poll(api, flow["device_code"])
    assert r.status_code == 400 and r.json()["error"] == "expired_token"


def test_public_client_cannot_use_client_credentials(api):
    data = {"grant_type": "client_credentials", "client_id": api.c["public_client_id"],
            "scope": "https://graph.microsoft.com/.default"}
    r = api.http.post(_token_url(api), data=data)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
