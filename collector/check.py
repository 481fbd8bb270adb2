"""`evkit collect --check`: ask each configured source's API once and name what is missing.

Every probe is a read: nothing is written to the tenant and nothing is stored. A refused call is
named with the permission or Exchange role group it needs and the exact fix (the same message
the collection ledger records, collector/permissions.py); a Management API content type without a
subscription is named too when the config does not allow starting one. `ok` only when all is in
place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from evkit.collector.client import ApiClient, TokenProvider, Transport
from evkit.collector.config import CollectConfig
from evkit.collector.errors import ApiError, AuthError, CollectorError
from evkit.collector.permissions import missing
from evkit.collector.retry import RetryPolicy
from evkit.collector.sources.base import routing_headers
from evkit.collector.sources.mgmt import CONTENT_TYPES, START_KEY, with_publisher
from evkit.collector.sources.ual import SEARCH_TIMEOUT
from evkit.times import format_iso


@dataclass
class CheckReport:
    """One line per probe: (source, what was asked, None when fine else the problem)."""

    lines: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(problem is None for _s, _w, problem in self.lines)

    def problems(self) -> list[str]:
        return [f"{source}: {problem}" for source, _what, problem in self.lines if problem is not None]

    def render(self) -> list[str]:
        return [f"{'ok' if problem is None else 'MISSING'}  {source}: {what}"
                + ("" if problem is None else f": {problem}") for source, what, problem in self.lines]


class _Probe:
    def __init__(self, cfg: CollectConfig, client: ApiClient, report: CheckReport) -> None:
        self.cfg, self.client, self.report = cfg, client, report

    def ask(self, source: str, what: str, call: Callable[[], object], cmdlet: str | None = None) -> object | None:
        try:
            result = call()
        except AuthError as exc:
            refused = missing(exc, self.cfg, cmdlet)
            self.report.lines.append((source, what, str(refused or exc)))
            return None
        except CollectorError as exc:
            self.report.lines.append((source, what, f"the call failed: {exc}"))
            return None
        self.report.lines.append((source, what, None))
        return result

    def invoke(self, source: str, cmdlet: str, parameters: dict[str, object],
               timeout: float | None = None) -> object | None:
        """One InvokeCommand call sent as the collection sends it (routing headers, and a search's
        long wait: a slow search is not a missing permission)."""
        url = f"{self.cfg.endpoints.exchange}/adminapi/beta/{self.cfg.tenant_id}/InvokeCommand"
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        return self.ask(source, cmdlet, lambda: self.client.request(
            "POST", url, scope=self.cfg.endpoints.exchange_scope, json_body=body,
            headers=routing_headers(cmdlet, self.cfg.tenant_id), timeout=timeout), cmdlet)

    def get(self, source: str, what: str, url: str, scope: str) -> object | None:
        return self.ask(source, what, lambda: self.client.request("GET", url, scope=scope))


def check(cfg: CollectConfig, tokens: TokenProvider, *,
          now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
          transport: Transport | None = None) -> CheckReport:
    """Probe every source in `cfg.sources` once (reads only). `transport`: tests only."""
    client = ApiClient(tokens, ca_bundle=str(cfg.endpoints.ca_bundle) if cfg.endpoints.ca_bundle else None,
                       timeout=cfg.tuning.timeout_seconds, policy=RetryPolicy(attempts=3, base=0.5), now=now,
                       transport=transport)
    report = CheckReport()
    probe = _Probe(cfg, client, report)
    moment = now().replace(microsecond=0)
    graph = cfg.endpoints.graph
    for source in cfg.sources:
        if source == "ual":
            probe.invoke("ual", "Search-UnifiedAuditLog", {
                "StartDate": format_iso(moment - timedelta(hours=1)), "EndDate": format_iso(moment), "ResultSize": 1},
                max(SEARCH_TIMEOUT, cfg.tuning.timeout_seconds))
        elif source == "config":
            probe.invoke("config", "Get-OrganizationConfig", {})
        elif source == "licences":
            probe.get("licences", "subscribedSkus", f"{graph}/v1.0/subscribedSkus", cfg.endpoints.graph_scope)
            probe.get("licences", "users", f"{graph}/v1.0/users?$select=id&$top=1", cfg.endpoints.graph_scope)
        elif source == "graph" and cfg.cloud not in ("gcc-high", "dod"):
            _graph(probe, cfg)
        elif source == "mgmt":
            _mgmt(probe, cfg)
        elif source == "mailbox":
            _mailbox(probe, cfg)
        elif source == "signins":
            probe.get("signins", "sign-in log", f"{graph}/beta/auditLogs/signIns?$top=1", cfg.endpoints.graph_scope)
        elif source == "apps":
            for what in ("servicePrincipals", "oauth2PermissionGrants"):
                probe.get("apps", what, f"{graph}/v1.0/{what}?$top=1", cfg.endpoints.graph_scope)
    return report


def _mailbox(probe: _Probe, cfg: CollectConfig) -> None:
    """Each mailbox-state cmdlet once, on one mailbox: the first of `users`, else the first listed."""
    listed = probe.invoke("mailbox", "Get-Mailbox", {"ResultSize": 1})
    rows = getattr(listed, "data", None)
    rows = rows.get("value") if isinstance(rows, dict) else None
    first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
    mailbox = cfg.users[0] if cfg.users else str(first.get("PrimarySmtpAddress") or first.get("UserPrincipalName") or "")
    probe.invoke("mailbox", "Get-TransportRule", {"ResultSize": 1})
    probe.invoke("mailbox", "Get-RecipientPermission", {"ResultSize": 1})
    if not mailbox:
        if listed is None:
            return  # Get-Mailbox's refusal is named already
        probe.report.lines.append(("mailbox", "Get-InboxRule", "no mailbox to try it on: Get-Mailbox listed none"))
        return
    probe.invoke("mailbox", "Get-InboxRule", {"Mailbox": mailbox, "IncludeHidden": True})
    probe.invoke("mailbox", "Get-MailboxPermission", {"Identity": mailbox, "ResultSize": 1})
    probe.invoke("mailbox", "Get-MailboxFolderPermission", {"Identity": f"{mailbox}:\\Inbox"})


def _graph(probe: _Probe, cfg: CollectConfig) -> None:
    """List audit log queries on v1.0 (beta when v1.0 answers 404), as the source creates them."""
    def listing() -> object:
        try:
            return probe.client.request("GET", f"{cfg.endpoints.graph}/v1.0/security/auditLog/queries?$top=1",
                                        scope=cfg.endpoints.graph_scope)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return probe.client.request("GET", f"{cfg.endpoints.graph}/beta/security/auditLog/queries?$top=1",
                                        scope=cfg.endpoints.graph_scope)
    probe.ask("graph", "audit log queries", listing)


def _mgmt(probe: _Probe, cfg: CollectConfig) -> None:
    feed = f"{cfg.endpoints.manage}/api/v1.0/{cfg.tenant_id}/activity/feed"
    resp = probe.get("mgmt", "subscriptions", with_publisher(f"{feed}/subscriptions/list", cfg.publisher_id),
                     cfg.endpoints.manage_scope)
    if resp is None or cfg.mgmt_start_subscriptions:
        return
    data = getattr(resp, "data", None)
    enabled = {str(s.get("contentType")) for s in data if isinstance(s, dict)
               and str(s.get("status", "")).lower() == "enabled"} if isinstance(data, list) else set()
    for content_type in CONTENT_TYPES:
        if content_type not in enabled:
            probe.report.lines.append((
                "mgmt", f"subscription {content_type}",
                f"not enabled, so the API lists none of its content; starting it writes to the client's tenant: "
                f"set {START_KEY} = true to allow it (content appears from the start on, up to 12 hours later), "
                f"or drop mgmt from collection.sources"))

