"""The collection config (`collect.toml`, docs/internals.md): parsed once, validated, frozen.

Every bad or missing value raises ConfigError naming the field, so an examiner fixes the file
in one go instead of reading a traceback. Secrets never sit in the file: it names the
environment variables that hold them, and only cli_collect reads the environment.

Besides the tables in docs/internals.md, an optional `[tuning]` table sets `concurrency` (4),
`ual_window_hours` (24), `ual_min_split_seconds` (60), `retry_budget` (8 tries),
`timeout_seconds` (120), `retry_base_seconds` (0.5), `poll_seconds` (5) and `mgmt_settle_hours` (12);
see `Tuning`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evkit.collector.errors import ConfigError
from evkit.times import parse_iso
from evkit.tomlfile import read_toml


@dataclass(frozen=True, slots=True)
class Cloud:
    """Where a cloud's services live and which token audiences they expect."""

    name: str
    authority_host: str
    graph: str
    manage: str
    exchange: str
    graph_scope: str
    manage_scope: str
    exchange_scope: str


def _cloud(name: str, login: str, graph: str, manage: str, exchange: str) -> Cloud:
    return Cloud(name, login, graph, manage, exchange,
                 graph + "/.default", manage + "/.default", exchange + "/.default")


# Service hosts per cloud (docs/internals.md). Exchange in DoD is outlook-dod.office365.us (its
# front door and token audience). Graph audit queries exist in the commercial cloud only.
CLOUDS: dict[str, Cloud] = {
    "commercial": _cloud("commercial", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                         "https://manage.office.com", "https://outlook.office365.com"),
    "gcc": _cloud("gcc", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                  "https://manage-gcc.office.com", "https://outlook.office365.com"),
    "gcc-high": _cloud("gcc-high", "https://login.microsoftonline.us", "https://graph.microsoft.us",
                       "https://manage.office365.us", "https://outlook.office365.us"),
    "dod": _cloud("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
                  "https://manage.protection.apps.mil", "https://outlook-dod.office365.us"),
}

SOURCES = ("ual", "graph", "mgmt", "config", "licences", "mailbox", "signins", "apps")
# `mailbox` source scope: the mailboxes in `users` (every mailbox when it is empty), or every mailbox.
MAILBOX_SCOPES = ("users", "all")
AUTH_METHODS = ("certificate", "secret", "device-code")

# docs/collection.md §1: what a mailbox-breach examination needs by default.
DEFAULT_OPERATIONS: tuple[str, ...] = (
    "MailItemsAccessed", "Send", "SendAs", "SendOnBehalf",
    "SearchQueryInitiatedExchange", "SearchQueryInitiatedSharePoint", "MailboxLogin",
    "New-InboxRule", "Set-InboxRule", "Remove-InboxRule", "Enable-InboxRule", "Disable-InboxRule",
    "UpdateInboxRules", "Add-MailboxPermission", "Remove-MailboxPermission",
    "Add-RecipientPermission", "Remove-RecipientPermission", "AddFolderPermissions",
    "ModifyFolderPermissions", "RemoveFolderPermissions",
    "Create", "Update", "Move", "MoveToDeletedItems", "SoftDelete", "HardDelete",
    "UserLoggedIn", "UserLoginFailed",
    "Set-Mailbox", "Set-MailboxAuditBypassAssociation", "Set-AdminAuditLogConfig",
    "Set-OrganizationConfig", "Change user license.", "Update user.", "Consent to application.",
)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Resolved base URLs (preset or override) plus the cloud's token scopes."""

    authority_host: str
    graph: str
    manage: str
    exchange: str
    graph_scope: str
    manage_scope: str
    exchange_scope: str
    ca_bundle: Path | None


@dataclass(frozen=True, slots=True)
class AuthConfig:
    method: str
    client_id: str
    certificate: Path | None = None
    private_key: Path | None = None
    pfx: Path | None = None
    thumbprint: str | None = None
    private_key_passphrase_env: str | None = None
    client_secret_env: str | None = None
    public_client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tuning:
    """Optional [tuning] knobs; the defaults suit a real tenant."""

    concurrency: int = 4              # parallel requests (blob downloads, independent windows)
    ual_window_hours: float = 24.0    # first split of the collection window for `ual`
    ual_min_split_seconds: int = 60   # below this a still-overflowing window is `capped`
    retry_budget: int = 8             # attempts per request before giving up
    timeout_seconds: float = 120.0    # connect+read timeout of every request
    retry_base_seconds: float = 0.5   # first backoff step (doubles per try, jittered, capped at 60 s)
    poll_seconds: float = 5.0         # between polls of a Graph audit log query
    mgmt_settle_hours: float = 12.0   # Management API content may appear this long after its events
    ual_settle_hours: float = 24.0    # audit records may become searchable this long after their events


TUNING_LIMITS = {"concurrency": (1, 64), "ual_window_hours": (0.01, 24 * 180),
                 "ual_min_split_seconds": (1, 86400), "retry_budget": (1, 50),
                 "timeout_seconds": (1, 3600), "retry_base_seconds": (0.001, 60), "poll_seconds": (0.01, 600),
                 "mgmt_settle_hours": (0, 48), "ual_settle_hours": (0, 48)}


def _tuning(data: Any) -> Tuning:
    table = _Table(data, "tuning", set(TUNING_LIMITS))
    values = {}
    for key, (low, high) in TUNING_LIMITS.items():
        if key not in table.data:
            continue
        value = table.data[key]
        kind = type(getattr(Tuning(), key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
            raise ConfigError(f"tuning.{key}: expected a{'n integer' if kind is int else ' number'}, got {value!r}")
        if not low <= value <= high:
            raise ConfigError(f"tuning.{key}: {value!r} is outside {low}..{high}")
        values[key] = kind(value)
    return Tuning(**values)


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """Everything `evkit collect` needs from collect.toml; built by `load_config`."""

    path: Path
    case_id: str
    examiner: str
    tenant_id: str
    tenant_domain: str
    cloud: str
    endpoints: Endpoints
    auth: AuthConfig
    window_start: datetime
    window_end: datetime
    sources: tuple[str, ...]
    operations: tuple[str, ...]
    users: tuple[str, ...]
    signing_key: Path | None
    tuning: Tuning = field(default_factory=lambda: Tuning())
    # Starting a Management API subscription writes to the client's tenant: only when asked.
    mgmt_start_subscriptions: bool = False
    publisher_id: str = ""            # PublisherIdentifier on Management API calls ("" = tenant id)
    mailbox_scope: str = "users"      # MAILBOX_SCOPES

    @property
    def authority(self) -> str:
        return self.endpoints.authority_host.rstrip("/") + "/" + self.tenant_id


def parse_utc(value: object, field_name: str) -> datetime:
    """An ISO 8601 time with an explicit zone, converted to aware UTC."""
    if not isinstance(value, str):
        raise ConfigError(f"{field_name}: expected an ISO 8601 UTC time string like "
                          f"\"2023-05-15T00:00:00Z\", got {value!r}")
    try:
        parsed = parse_iso(value)
    except ValueError:
        raise ConfigError(f"{field_name}: {value!r} is not an ISO 8601 time "
                          f"(use e.g. \"2023-05-15T00:00:00Z\")") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"{field_name}: {value!r} has no time zone; add \"Z\" for UTC")
    return parsed.astimezone(timezone.utc)


class _Table:
    """A TOML table that reports missing, mistyped and unknown keys by their dotted name."""

    def __init__(self, data: Any, name: str, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}]: missing or not a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{name}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")
        self.data, self.name = data, name

    def str(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise ConfigError(f"{self.name}.{key}: missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.name}.{key}: expected a non-empty string, got {value!r}")
        return value.strip()

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{self.name}.{key}: expected a list of non-empty strings, got {value!r}")
        return tuple(v.strip() for v in value)


def _url(value: str, field_name: str) -> str:
    if not value.startswith("https://"):
        raise ConfigError(f"{field_name}: {value!r} must be an https:// URL")
    return value.rstrip("/")


def _path(base: Path, value: str | None, field_name: str, *, must_exist: bool = True) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if must_exist and not path.is_file():
        raise ConfigError(f"{field_name}: file {str(path)!r} not found")
    return path


def _env_name(value: str | None, field_name: str) -> str | None:
    if value is not None and not _ENV.match(value):
        raise ConfigError(f"{field_name}: {value!r} is not an environment variable name "
                          f"(the file names the variable; the secret itself never goes in the file)")
    return value


def _endpoints(tenant: _Table, base: Path) -> tuple[str, Endpoints]:
    cloud_name = tenant.str("cloud", required=False) or "commercial"
    if cloud_name not in CLOUDS:
        raise ConfigError(f"tenant.cloud: {cloud_name!r} is not one of {', '.join(CLOUDS)}")
    cloud = CLOUDS[cloud_name]
    over = _Table(tenant.data.get("endpoints", {}), "tenant.endpoints",
                  {"authority_host", "graph", "manage", "exchange", "ca_bundle"})
    urls = {}
    for key in ("authority_host", "graph", "manage", "exchange"):
        value = over.str(key, required=False)
        urls[key] = _url(value, f"tenant.endpoints.{key}") if value else getattr(cloud, key)
    ca = _path(base, over.str("ca_bundle", required=False), "tenant.endpoints.ca_bundle")
    return cloud_name, Endpoints(graph_scope=cloud.graph_scope, manage_scope=cloud.manage_scope,
                                 exchange_scope=cloud.exchange_scope, ca_bundle=ca, **urls)


def _auth(table: _Table, base: Path) -> AuthConfig:
    method = table.str("method")
    if method not in AUTH_METHODS:
        raise ConfigError(f"auth.method: {method!r} is not one of {', '.join(AUTH_METHODS)}")
    client_id = table.str("client_id")
    if not _GUID.match(client_id):
        raise ConfigError(f"auth.client_id: {client_id!r} is not a GUID")
    passphrase_env = _env_name(table.str("private_key_passphrase_env", required=False),
                               "auth.private_key_passphrase_env")
    secret_env = _env_name(table.str("client_secret_env", required=False), "auth.client_secret_env")
    if "client_secret" in table.data or "passphrase" in table.data:
        raise ConfigError("auth: a secret or passphrase must not be written in the file; "
                          "name its environment variable with client_secret_env / private_key_passphrase_env")
    auth = AuthConfig(method=method, client_id=client_id, private_key_passphrase_env=passphrase_env,
                      client_secret_env=secret_env,
                      public_client_id=table.str("public_client_id", required=False))
    if method == "certificate":
        pfx = _path(base, table.str("pfx", required=False), "auth.pfx")
        if pfx is not None:
            return replace(auth, pfx=pfx)
        cert = _path(base, table.str("certificate", required=False), "auth.certificate")
        if cert is None:
            raise ConfigError("auth.certificate: missing (method = \"certificate\" needs "
                              "certificate + private_key + thumbprint, or pfx)")
        key = _path(base, table.str("private_key", required=False), "auth.private_key") or cert
        thumb = table.str("thumbprint")
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", thumb.replace(":", "")):
            raise ConfigError(f"auth.thumbprint: {thumb!r} is not a SHA-1 hex thumbprint (40 hex digits)")
        return replace(auth, certificate=cert, private_key=key, thumbprint=thumb.replace(":", "").upper())
    if method == "secret":
        if secret_env is None:
            raise ConfigError("auth.client_secret_env: missing (method = \"secret\" needs the name "
                              "of the environment variable holding the client secret)")
        return auth
    if auth.public_client_id is not None and not _GUID.match(auth.public_client_id):
        raise ConfigError(f"auth.public_client_id: {auth.public_client_id!r} is not a GUID")
    return auth


def parse_config(data: dict[str, Any], path: Path) -> CollectConfig:
    """Validate the parsed TOML document; relative paths resolve against the file's folder."""
    base = path.resolve().parent
    top = _Table(data, path.name, {"case", "tenant", "auth", "collection", "signing", "tuning"})
    case = _Table(data.get("case"), "case", {"id", "examiner"})
    tenant = _Table(data.get("tenant"), "tenant", {"id", "domain", "cloud", "endpoints", "publisher_id"})
    auth = _Table(data.get("auth"), "auth", {
        "method", "client_id", "certificate", "private_key", "pfx", "thumbprint",
        "private_key_passphrase_env", "client_secret_env", "public_client_id", "client_secret", "passphrase"})
    coll = _Table(data.get("collection"), "collection", {"window", "sources", "operations", "users",
                                                         "mgmt_start_subscriptions", "mailbox_scope"})
    signing = _Table(data.get("signing", {}), "signing", {"key"})
    del top  # built for its unknown-key check
    tenant_id = tenant.str("id")
    if not _GUID.match(tenant_id):
        raise ConfigError(f"tenant.id: {tenant_id!r} is not a GUID")
    cloud, endpoints = _endpoints(tenant, base)
    publisher = tenant.str("publisher_id", required=False) or tenant_id
    if not _GUID.match(publisher):
        raise ConfigError(f"tenant.publisher_id: {publisher!r} is not a GUID (the tenant id of the app's publisher)")
    start_subs = coll.data.get("mgmt_start_subscriptions", False)
    if not isinstance(start_subs, bool):
        raise ConfigError(f"collection.mgmt_start_subscriptions: expected true or false, got {start_subs!r}")
    mailbox_scope = coll.data.get("mailbox_scope", "users")
    if mailbox_scope not in MAILBOX_SCOPES:
        raise ConfigError(f"collection.mailbox_scope: expected one of {', '.join(MAILBOX_SCOPES)}, "
                          f"got {mailbox_scope!r}")
    window = coll.data.get("window")
    if not isinstance(window, list) or len(window) != 2:
        raise ConfigError("collection.window: expected [\"start\", \"end\"] as two ISO 8601 UTC times")
    start = parse_utc(window[0], "collection.window[0]")
    end = parse_utc(window[1], "collection.window[1]")
    if end <= start:
        raise ConfigError("collection.window: the end must be after the start")
    sources = coll.str_list("sources") or SOURCES
    for name in sources:
        if name not in SOURCES:
            raise ConfigError(f"collection.sources: {name!r} is not one of {', '.join(SOURCES)}")
    if len(set(sources)) != len(sources):
        raise ConfigError("collection.sources: a source is listed twice")
    return CollectConfig(
        path=path.resolve(), case_id=case.str("id"), examiner=case.str("examiner"),
        tenant_id=tenant_id, tenant_domain=tenant.str("domain"), cloud=cloud, endpoints=endpoints,
        auth=_auth(auth, base), window_start=start, window_end=end, sources=tuple(sources),
        operations=coll.str_list("operations") or DEFAULT_OPERATIONS, users=coll.str_list("users"),
        signing_key=_path(base, signing.str("key", required=False), "signing.key", must_exist=False),
        tuning=_tuning(data.get("tuning", {})), mgmt_start_subscriptions=start_subs, publisher_id=publisher,
        mailbox_scope=mailbox_scope,
    )


def load_config(path: Path) -> CollectConfig:
    """Read and validate a collect.toml file."""
    return parse_config(read_toml(path, ConfigError, "config"), path)
