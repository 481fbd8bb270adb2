"""Client helpers for the emulator's contract tests: a requests session that always passes the
emulator's CA, and an Api wrapper that fetches secret-based tokens and calls each service."""

from __future__ import annotations

from typing import Any

import requests

from evkit.emulator.testing import RunningEmulator


class CaSession(requests.Session):
    """requests lets REQUESTS_CA_BUNDLE override Session.verify, so pass verify on every call."""

    def __init__(self, ca: str) -> None:
        super().__init__()
        self.ca = ca

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self.ca
        kwargs.setdefault("timeout", 60)
        return super().request(*args, **kwargs)


class Api:
    """Thin client: secret-based tokens per resource and authenticated calls."""

    RESOURCES = {"graph": "https://graph.microsoft.com", "manage": "https://manage.office.com",
                 "exchange": "https://outlook.office365.com"}

    def __init__(self, emu: RunningEmulator) -> None:
        self.emu = emu
        self.c = emu.connection
        self.http = CaSession(self.c["ca_bundle"])
        self._tokens: dict[str, str] = {}

    @property
    def tenant(self) -> str:
        return str(self.c["tenant_id"])

    def token_response(self, scope: str, **form: str) -> requests.Response:
        data = {"grant_type": "client_credentials", "client_id": self.c["client_id"],
                "client_secret": self.c["client_secret"], "scope": scope, **form}
        return self.http.post(f"{self.c['authority_host']}/{self.tenant}/oauth2/v2.0/token", data=data)

    def token(self, service: str) -> str:
        if service not in self._tokens:
            r = self.token_response(f"{self.RESOURCES[service]}/.default")
            assert r.status_code == 200, r.text
            self._tokens[service] = r.json()["access_token"]
        return self._tokens[service]

    def get(self, service: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        url = path if path.startswith("https://") else f"{self.c[service]}{path}"
        headers = {"Authorization": f"Bearer {token or self.token(service)}", **kw.pop("headers", {})}
        return self.http.get(url, headers=headers, **kw)

    def post(self, service: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        url = path if path.startswith("https://") else f"{self.c[service]}{path}"
        headers = {"Authorization": f"Bearer {token or self.token(service)}", **kw.pop("headers", {})}
        return self.http.post(url, headers=headers, **kw)

    # service-specific shorthands
    def mgmt_url(self, op: str) -> str:
        return f"/api/v1.0/{self.tenant}/activity/feed/{op}"

    def invoke(self, cmdlet: str, token: str | None = None, url: str | None = None,
               headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}
        response = self.post("exchange", url or f"/adminapi/beta/{self.tenant}/InvokeCommand", token=token,
                             json=body, headers=headers or {}, allow_redirects=False)
        if response.status_code in (307, 308):  # current: the tenant's own host (docs/emulator-fidelity.md)
            response = self.post("exchange", response.headers["Location"], token=token, json=body,
                                 headers=headers or {}, allow_redirects=False)
        return response
