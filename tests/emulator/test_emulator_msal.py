"""MSAL's own clients get tokens from the emulator over HTTPS (docs/microsoft-365.md §7.1-§7.1)."""

from __future__ import annotations

import pathlib

import msal
import pytest

from evkit.emulator import jwt

from emulator_helpers import CaSession


def _authority(c: dict) -> str:
    return f"{c['authority_host']}/{c['tenant_id']}"


def _claims(token: str) -> dict:
    return jwt.split(token)[1]


@pytest.mark.parametrize("scope,aud", [("https://graph.microsoft.com/.default", "https://graph.microsoft.com"),
                                       ("https://manage.office.com/.default", "https://manage.office.com"),
                                       ("https://outlook.office365.com/.default", "https://outlook.office365.com")])
def test_confidential_client_with_secret(emu, scope, aud):
    c = emu.connection
    app = msal.ConfidentialClientApplication(c["client_id"], client_credential=c["client_secret"],
                                             authority=_authority(c), http_client=CaSession(c["ca_bundle"]),
                                             instance_discovery=False)
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == aud and claims["tid"] == c["tenant_id"] and claims["appid"] == c["client_id"]
    assert result["expires_in"] == 3599


def test_confidential_client_with_certificate_sha1_thumbprint(emu):
    c = emu.connection
    cert = c["certificate"]
    credential = {"private_key": pathlib.Path(cert["key_path"]).read_text(), "thumbprint": cert["thumbprint"],
                  "passphrase": cert["key_passphrase"]}
    app = msal.ConfidentialClientApplication(c["client_id"], client_credential=credential, authority=_authority(c),
                                             http_client=CaSession(c["ca_bundle"]), instance_discovery=False)
    result = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    assert "access_token" in result, result
    assert "Exchange.ManageAsApp" in _claims(result["access_token"])["roles"]


def test_confidential_client_with_certificate_sha256_ps256(emu):
    """With public_certificate and no thumbprint MSAL signs PS256 with x5t#S256 (7.1)."""
    c = emu.connection
    cert = c["certificate"]
    credential = {"private_key": pathlib.Path(cert["key_path"]).read_text(),
                  "public_certificate": pathlib.Path(cert["cert_path"]).read_text(),
                  "passphrase": cert["key_passphrase"]}
    app = msal.ConfidentialClientApplication(c["client_id"], client_credential=credential, authority=_authority(c),
                                             http_client=CaSession(c["ca_bundle"]), instance_discovery=False)
    result = app.acquire_token_for_client(scopes=["https://manage.office.com/.default"])
    assert "access_token" in result, result


def test_confidential_client_wrong_secret_gets_aadsts_error(emu):
    c = emu.connection
    app = msal.ConfidentialClientApplication(c["client_id"], client_credential="wrong", authority=_authority(c),
                                             http_client=CaSession(c["ca_bundle"]), instance_discovery=False)
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215:")


def test_public_client_device_flow(emu):
    c = emu.connection
    app = msal.PublicClientApplication(c["public_client_id"], authority=_authority(c),
                                       http_client=CaSession(c["ca_bundle"]), instance_discovery=False)
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/.default"])
    assert "user_code" in flow, flow
    assert flow["verification_uri"] == "https://microsoft.com/devicelogin"
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com" and claims["upn"].startswith("admin@")
    assert "AuditLogsQuery.Read.All" in claims["scp"].split()
    # the cached account refreshes silently through the refresh_token grant
    accounts = app.get_accounts()
    assert accounts and accounts[0]["username"] == claims["upn"]
    silent = app.acquire_token_silent(["https://outlook.office365.com/.default"], account=accounts[0])
    assert silent and _claims(silent["access_token"])["aud"] == "https://outlook.office365.com"
