"""The login authority (docs/microsoft-365.md §7.1): OIDC discovery, instance discovery, the v2.0 token
endpoint (client credentials with secret or certificate assertion, device code, refresh token)
and the device-authorization endpoint. Error answers use Entra's AADSTS JSON."""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric import rsa

from evkit.emulator import jwt, tokens
from evkit.emulator.state import DeviceCode, State
from evkit.emulator.wire import Request, Response, aad_error, json_response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
ADMIN_USER = "admin"
_ROUTE = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>.+)$")


def handle(state: State, req: Request) -> Response:
    """Dispatch one request below /login."""
    m = _ROUTE.match(req.path)
    if not m:
        return aad_error(404, "invalid_request", 90011, "Request path is not a login endpoint.")
    tenant, rest = m.group("tenant"), m.group("rest")
    if tenant == "common" and rest == "discovery/instance":
        return _instance_discovery(state, req)
    if not state.tenant_matches(tenant):
        return aad_error(400, "invalid_tenant", 90002,
                         f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                         f"and are signing into the correct cloud.")
    if rest == "v2.0/.well-known/openid-configuration" and req.method == "GET":
        return json_response(200, openid_configuration(state, req, tenant))
    if rest == "discovery/v2.0/keys" and req.method == "GET":
        return json_response(200, _jwks(state))
    if rest == "oauth2/v2.0/token" and req.method == "POST":
        return _token(state, req, tenant)
    if rest == "oauth2/v2.0/devicecode" and req.method == "POST":
        return _devicecode(state, req)
    if rest == "oauth2/v2.0/authorize":
        return aad_error(400, "unsupported_response_type", 70000,
                         "The emulator supports client credentials and device code only.")
    return aad_error(404, "invalid_request", 90011, f"Unknown login endpoint '{rest}'.")


def _authority(req: Request, tenant: str) -> str:
    return f"{req.base_url}/login/{tenant}"


def openid_configuration(state: State, req: Request, tenant: str) -> dict[str, Any]:
    base = _authority(req, tenant)
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": _issuer(req, state),
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True, "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "preferred_username", "name", "tid",
                             "ver", "oid"],
        "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net", "msgraph_host": "graph.microsoft.com",
    }


def _issuer(req: Request, state: State) -> str:
    return f"{req.base_url}/login/{state.tenant_id}/v2.0"


def _instance_discovery(state: State, req: Request) -> Response:
    """What MSAL asks login.microsoftonline.com for unknown hosts (7.3); served for completeness."""
    host = req.base_url.split("://", 1)[1]
    endpoint = req.query.get("authorization_endpoint") or f"{req.base_url}/login/common/oauth2/v2.0/authorize"
    tenant = endpoint.split("/login/", 1)[-1].split("/", 1)[0] if "/login/" in endpoint else "common"
    return json_response(200, {
        "tenant_discovery_endpoint": f"{req.base_url}/login/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    })


def _jwks(state: State) -> dict[str, Any]:
    assert state.signing_key is not None
    numbers = state.signing_key.public_key().public_numbers()

    def enc(n: int) -> str:
        return jwt.b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"keys": [{"kty": "RSA", "use": "sig", "kid": state.kid, "n": enc(numbers.n), "e": enc(numbers.e)}]}


def _form(req: Request) -> dict[str, str]:
    try:
        parsed = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {k: v[-1] for k, v in parsed.items()}


def _resource_of(scopes: list[str], *, app_only: bool) -> tuple[str | None, Response | None]:
    """The single resource a scope list names, or the AADSTS error for a bad scope list."""
    resource_scopes = [s for s in scopes if s not in OIDC_SCOPES]
    if len(resource_scopes) == 0:
        return None, aad_error(400, "invalid_scope", 1002012,
                               "The provided value for the input parameter 'scope' is not valid.")
    resources = set()
    for scope in resource_scopes:
        if app_only and not scope.endswith("/.default"):
            return None, aad_error(400, "invalid_scope", 1002012,
                                   f"The provided value for scope {scope} is not valid. Client credential flows "
                                   f"must have a scope value with /.default suffixed to the resource identifier "
                                   f"(application ID URI).")
        resource = scope.rsplit("/", 1)[0] if "/" in scope.split("://", 1)[-1] else scope
        resources.add(resource)
    if len(resources) != 1:
        return None, aad_error(400, "invalid_scope", 70011,
                               "The provided request must include a 'scope' input parameter naming one resource.")
    resource = resources.pop()
    if resource not in tokens.RESOURCES:
        return None, aad_error(400, "invalid_resource", 500011,
                               f"The resource principal named {resource} was not found in the tenant. This can "
                               f"happen if the application has not been installed by the administrator of the "
                               f"tenant or consented to by any user in the tenant.")
    return resource, None


def _token(state: State, req: Request, tenant: str) -> Response:
    form = _form(req)
    basic = req.header("authorization") or ""
    if basic.lower().startswith("basic "):
        try:
            user, _, pw = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", user)
            form.setdefault("client_secret", pw)
        except (ValueError, UnicodeDecodeError):
            pass
    grant = form.get("grant_type")
    client_id = form.get("client_id")
    if not grant:
        return aad_error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'grant_type'.")
    unknown = _unknown_client(state, client_id)
    if unknown:
        return unknown
    if grant == "client_credentials":
        return _client_credentials(state, req, tenant, form)
    if grant == DEVICE_GRANT:
        return _device_poll(state, req, form)
    if grant == "refresh_token":
        return _refresh(state, req, form)
    return aad_error(400, "unsupported_grant_type", 70003,
                     f"The app requested an unsupported grant type '{grant}'.")


def _client_credentials(state: State, req: Request, tenant: str, form: dict[str, str]) -> Response:
    client_id = form["client_id"]
    if client_id == state.public_client_id:
        return aad_error(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")
    resource, error = _resource_of(form.get("scope", "").split(), app_only=True)
    if error:
        return error
    assert resource is not None
    if "client_assertion" in form:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return aad_error(400, "invalid_request", 700023,
                             "Invalid client_assertion_type; expected urn:ietf:params:oauth:client-assertion-type:"
                             "jwt-bearer.")
        problem = check_assertion(state, req, tenant, form["client_assertion"], client_id)
        if problem:
            return problem
    elif "client_secret" in form:
        if not hmac.compare_digest(form["client_secret"].encode(), state.client_secret.encode()):
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             f"client secret value, not the client secret ID, for a secret added to app "
                             f"'{client_id}'.")
    else:
        return aad_error(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")
    token, lifetime = tokens.issue(state, resource=resource, appid=client_id)
    return _token_response({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                            "access_token": token})


def _token_response(body: dict[str, Any]) -> Response:
    return json_response(200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def check_assertion(state: State, req: Request, tenant: str, assertion: str, client_id: str) -> Response | None:
    """Verify MSAL's client assertion: registered certificate (x5t or x5t#S256), signature, aud
    (the token endpoint), iss = sub = client_id, exp/nbf. None when it is good."""
    assert state.app is not None
    try:
        header, claims, _, _ = jwt.split(assertion)
    except jwt.JwtError as exc:
        return aad_error(401, "invalid_client", 50027, f"JWT token is invalid or malformed ({exc}).")
    thumb_sha1 = header.get("x5t")
    thumb_sha256 = header.get("x5t#S256")
    registered = False
    try:
        if thumb_sha256:
            registered = jwt.b64url_decode(thumb_sha256).hex().upper() == state.app.thumbprint_sha256
        elif thumb_sha1:
            registered = jwt.b64url_decode(thumb_sha1).hex().upper() == state.app.thumbprint_sha1
    except jwt.JwtError:
        registered = False
    if not registered:
        return aad_error(401, "invalid_client", 700027,
                         "The certificate with identifier used to sign the client assertion is not registered "
                         f"on application. [Reason - The key was not found., Thumbprint of key used by client: "
                         f"'{thumb_sha1 or thumb_sha256}']")
    public_key = state.app.cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    try:
        jwt.verify(assertion, public_key, allowed_algs=("RS256", "PS256"))
    except jwt.JwtError:
        return aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation.")
    endpoints = {f"{_authority(req, t)}/oauth2/v2.0/token" for t in (tenant, state.tenant_id, state.tenant_domain)}
    if claims.get("aud") not in endpoints:
        return aad_error(401, "invalid_client", 50012,
                         "Client assertion audience claim does not match Realm issuer.")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return aad_error(401, "invalid_client", 700021,
                         "Client assertion application identifier doesn't match 'client_id' parameter.")
    now = time.time()
    try:
        exp = float(claims["exp"])
        nbf = float(claims.get("nbf", claims.get("iat", now)))
    except (KeyError, TypeError, ValueError):
        return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
    if now >= exp + 300 or now < nbf - 300:  # Entra allows five minutes of clock skew
        return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
    return None


def _unknown_client(state: State, client_id: str | None) -> Response | None:
    """Entra's answer to a missing or unregistered client_id, or None when the app is known."""
    if not client_id:
        return aad_error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'client_id'.")
    if client_id not in (state.client_id, state.public_client_id):
        return aad_error(400, "unauthorized_client", 700016,
                         f"Application with identifier '{client_id}' was not found in the directory "
                         f"'{state.tenant_domain}'.")
    return None


def _devicecode(state: State, req: Request) -> Response:
    form = _form(req)
    client_id = form.get("client_id")
    unknown = _unknown_client(state, client_id)
    if unknown:
        return unknown
    scopes = form.get("scope", "").split()
    resource, error = _resource_of(scopes, app_only=False)
    if error:
        return error
    assert resource is not None
    device_code = secrets.token_urlsafe(32)
    user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
    opts = state.options
    with state.lock:
        state.device_codes[device_code] = DeviceCode(
            client_id=client_id, resource=resource, scopes=scopes, issued=time.time(),
            expires_in=opts.device_expires_in, interval=opts.device_interval)
    verification = "https://microsoft.com/devicelogin"
    response = json_response(200, {
        "user_code": user_code, "device_code": device_code, "verification_uri": verification,
        "expires_in": opts.device_expires_in, "interval": opts.device_interval,
        "message": f"To sign in, use a web browser to open the page {verification} and enter the code "
                   f"{user_code} to authenticate. (emulator: approves after {opts.device_approve_after} polls)",
    })
    return response


def _device_poll(state: State, req: Request, form: dict[str, str]) -> Response:
    code = form.get("device_code") or form.get("code") or ""
    now = time.time()
    with state.lock:
        flow = state.device_codes.get(code)
        if flow is None or flow.client_id != form["client_id"] or flow.redeemed:
            return aad_error(400, "invalid_grant", 70000,
                             "Provided grant is invalid or malformed.")
        if now >= flow.issued + flow.expires_in:
            return aad_error(400, "expired_token", 70019, "Verification code expired.")
        too_soon = flow.interval > 0 and flow.last_poll and now - flow.last_poll < flow.interval - 0.5
        flow.last_poll = now
        if too_soon:  # the client must add 5 s (RFC 8628 3.5); the server only checks the spacing
            return aad_error(400, "slow_down", 70016,
                             "OAuth 2.0 device flow error. Polling too frequently; slow down.")
        flow.polls += 1
        if flow.polls <= state.options.device_approve_after:
            return aad_error(400, "authorization_pending", 70016,
                             "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        flow.redeemed = True
    return _user_tokens(state, req, flow.client_id, flow.resource, flow.scopes)


def _user_tokens(state: State, req: Request, client_id: str, resource: str, scopes: list[str]) -> Response:
    """Delegated tokens for the tenant's admin, as the device-code and refresh grants return them."""
    assert state.signing_key is not None
    upn = f"{ADMIN_USER}@{state.tenant_domain}"
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, upn))
    access, lifetime = tokens.issue(state, resource=resource, appid=client_id, delegated_user=upn)
    now = int(time.time())
    id_token = jwt.sign_rs256({
        "aud": client_id, "iss": _issuer(req, state), "iat": now, "nbf": now, "exp": now + 3600,
        "name": "Emulator Admin", "oid": oid, "preferred_username": upn, "sub": oid, "tid": state.tenant_id,
        "ver": "2.0"}, state.signing_key, state.kid)
    refresh = secrets.token_urlsafe(48)
    with state.lock:
        state.refresh_tokens[refresh] = {"client_id": client_id}
    client_info = jwt.b64url(json.dumps({"uid": oid, "utid": state.tenant_id}).encode())
    return _token_response({
        "token_type": "Bearer", "scope": " ".join(scopes), "expires_in": lifetime, "ext_expires_in": lifetime,
        "access_token": access, "refresh_token": refresh, "id_token": id_token, "client_info": client_info})


def _refresh(state: State, req: Request, form: dict[str, str]) -> Response:
    with state.lock:
        entry = state.refresh_tokens.get(form.get("refresh_token", ""))
    if entry is None or entry["client_id"] != form["client_id"]:
        return aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    scopes = form.get("scope", "").split()
    resource, error = _resource_of(scopes, app_only=False)
    if error:
        return error
    assert resource is not None
    return _user_tokens(state, req, form["client_id"], resource, scopes)
