"""Run options shared by the CLI, `evkit.emulator.server.run` and `evkit.emulator.testing`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from evkit.emulator.errors import UsageError
from evkit.emulator.faults import parse_faults

# Application permissions the default app holds, per resource (docs/microsoft-365.md §1.1, §2.2, §5.1, §6.5).
GRAPH_ROLES = ("AuditLogsQuery.Read.All", "Organization.Read.All", "User.Read.All", "AuditLog.Read.All",
               "Application.Read.All", "DelegatedPermissionGrant.Read.All", "Mail.ReadBasic.All")
MANAGE_ROLES = ("ActivityFeed.Read", "ActivityFeed.ReadDlp", "ServiceHealth.Read")
EXCHANGE_ROLES = ("Exchange.ManageAsApp",)
# The Entra directory role app-only Exchange access also needs; shows in the token's `wids`.
EXCHANGE_ADMIN_ROLE_ID = "29232cdf-9323-42fd-ade2-1d097af3e4de"
DIRECTORY_ROLE = "directory-role"
SERVICES = ("current", "legacy")
# Exchange role groups the app's service principal belongs to under --service current (added with
# New-ServicePrincipal + Add-RoleGroupMember; least privilege, no Entra directory role needed):
# which cmdlets each one opens is in emulator/exchange.py (docs/emulator-fidelity.md).
ORG_VIEW_GROUP = "View-Only Organization Management"
AUDIT_LOG_GROUP = "View-Only Audit Logs"
RECIPIENT_GROUP = "Recipient Management"   # Mail Recipients role: Get-InboxRule, Get-RecipientPermission
EXCHANGE_ROLE_GROUPS = (ORG_VIEW_GROUP, AUDIT_LOG_GROUP, RECIPIENT_GROUP)
WITHHOLDABLE = GRAPH_ROLES + MANAGE_ROLES + EXCHANGE_ROLES + (DIRECTORY_ROLE,) + EXCHANGE_ROLE_GROUPS


@dataclass
class Options:
    """Everything tunable about one emulator run (documented in emulator/README.md)."""

    scenario: str = "bec-basic"
    service: str = "current"            # current: Microsoft 365 as of 2026 | legacy: the older behaviour
                                        # (docs/emulator-fidelity.md)
    seed: int = 1
    scenario_params: dict[str, Any] | None = None  # passed to build_scenario(params=...)
    port: int = 0                       # 0: pick a free port
    host: str = "127.0.0.1"
    faults: str | None = None
    latency_ms: int = 0                 # every API answer takes at least this long (its own work included)
    token_lifetime: int = 3599          # expires_in of issued tokens, seconds
    max_concurrency: int = 0            # per service in-flight cap (0: none); over it -> 429
    now: dt.datetime | None = None      # virtual now; default the scenario's end
    withhold: tuple[str, ...] = ()      # permissions the app lacks (see WITHHOLDABLE)
    deny_cmdlets: tuple[str, ...] = ()  # cmdlets answered with adminapi's NUL-byte 403
    graph_v1: bool = False              # legacy only: serve v1.0 audit queries (current always does)
    graph_query_polls: int = 2          # GETs a query spends in notStarted/running
    graph_page_size: int = 150          # records per page without $top
    graph_max_open_queries: int = 50    # queued/running audit queries before 429 (docs/microsoft-365.md §2.4)
    mgmt_subscriptions: str = ""        # enabled: already on (start -> AF20024) | none; "": per service
                                        # (current: none, as in a tenant nobody subscribed; legacy: enabled)
    mgmt_page_size: int = 20            # content listing entries per page before NextPageUri
    mgmt_blob_records: int = 1000       # max records per content blob
    mgmt_latency_minutes: int = 30      # contentCreated = end of the blob's hour + this
    device_interval: int = 5            # seconds MSAL waits between device-code polls
    device_approve_after: int = 2       # pending polls before the emulator "approves"
    device_expires_in: int = 900
    exchange_page_size: int = 1000      # Get-Mailbox page before @odata.nextLink (Prefer overrides)
    purged_items: tuple[str, ...] = ()  # InternetMessageIds no longer in any mailbox (hard-deleted or
                                        # purged after the scenario): Graph finds no message for them
    entra_p1: bool = True               # the tenant has Entra ID P1 (else the sign-in log API refuses)
    signin_page_size: int = 1000        # sign-ins per page without $top (Microsoft's default)

    def validate(self) -> None:
        parse_faults(self.faults)  # strict: raises FaultSpecError naming the bad item
        for name in self.withhold:
            if name not in WITHHOLDABLE:
                raise UsageError(f"--withhold {name!r}: unknown permission (known: {', '.join(WITHHOLDABLE)})")
        if self.service not in SERVICES:
            raise UsageError(f"--service {self.service!r}: expected one of {', '.join(SERVICES)}")
        if self.mgmt_subscriptions not in ("", "enabled", "none"):
            raise UsageError("mgmt_subscriptions must be 'enabled' or 'none'")
        for name in ("token_lifetime", "graph_page_size", "mgmt_page_size", "mgmt_blob_records",
                     "exchange_page_size", "signin_page_size"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name.replace('_', '-')} must be positive")
        for name in ("latency_ms", "max_concurrency", "device_interval", "device_approve_after",
                     "graph_query_polls", "mgmt_latency_minutes", "graph_max_open_queries"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name.replace('_', '-')} must not be negative")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port {self.port} out of range")

    @property
    def current(self) -> bool:
        return self.service == "current"

    @property
    def subscriptions_on(self) -> bool:
        """Whether the Management API subscriptions exist before anyone starts them."""
        if self.mgmt_subscriptions:
            return self.mgmt_subscriptions == "enabled"
        return not self.current

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> "Options":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise UsageError(f"unknown emulator option(s): {', '.join(unknown)}")
        opts = cls(**kwargs)  # type: ignore[arg-type]
        opts.withhold = tuple(opts.withhold)
        opts.deny_cmdlets = tuple(opts.deny_cmdlets)
        opts.purged_items = tuple(opts.purged_items)
        opts.validate()
        return opts
