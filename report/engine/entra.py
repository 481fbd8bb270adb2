"""Entra evidence in DuckDB tables: the sign-in log and the applications that can read mail.

`signins` holds one row per sign-in id (the first copy by bundle and file wins; copies are the
same sign-in asked twice), normalised from Graph's `signIn` objects (docs/microsoft-365.md §8).
`app_principals`, `app_permissions` (every resource's permission catalogue: delegated scopes and
application roles), `app_grants` (delegated grants) and `app_assignments` (application
permissions granted, with their creation time) come from the `apps` source (§9). A page that
cannot be read is a problem row naming it; it hides no audit record, so it is not `blind`.
Sign-in times go through `evkit.times`, the one parser of evidence times.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from evkit.evidence.inventory import Inventory, Page, source_name
from evkit.evidence.kinds import APPS_PREFIX, SIGNINS_PAGE
from evkit.evidence.raw import read_page_body
from evkit.evidence.sidecars import read_page_sidecar
from evkit.times import iso_utc

Problem = Callable[..., None]

SIGNIN_COLUMNS = {
    "id": "VARCHAR", "ts": "TIMESTAMP", "created": "VARCHAR", "account": "VARCHAR", "user_id": "VARCHAR",
    "app_id": "VARCHAR", "app_name": "VARCHAR", "ip": "VARCHAR", "session_id": "VARCHAR",
    "user_agent": "VARCHAR", "client_app": "VARCHAR", "os": "VARCHAR", "browser": "VARCHAR",
    "resource_id": "VARCHAR", "event_type": "VARCHAR", "status_code": "BIGINT", "failure": "VARCHAR",
    "bundle": "VARCHAR", "src": "VARCHAR",
}
_TABLES = {
    "app_principals": {"id": "VARCHAR", "app_id": "VARCHAR", "name": "VARCHAR", "owner_tenant": "VARCHAR",
                       "created": "VARCHAR", "src": "VARCHAR"},
    "app_permissions": {"resource_id": "VARCHAR", "permission_id": "VARCHAR", "value": "VARCHAR",
                        "kind": "VARCHAR"},
    "app_grants": {"id": "VARCHAR", "client_id": "VARCHAR", "consent_type": "VARCHAR", "principal_id": "VARCHAR",
                   "resource_id": "VARCHAR", "scope": "VARCHAR", "src": "VARCHAR"},
    "app_assignments": {"id": "VARCHAR", "principal_id": "VARCHAR", "principal_name": "VARCHAR",
                        "resource_id": "VARCHAR", "app_role_id": "VARCHAR", "created": "VARCHAR", "src": "VARCHAR"},
}
TABLES = ("signins", *_TABLES)


def load(con: duckdb.DuckDBPyConnection, inventories: Sequence[Inventory], problem: Problem) -> None:
    """Create the Entra tables (empty when no bundle holds such pages)."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
    with tempfile.TemporaryDirectory(prefix="evkit-signins-") as tmp:
        jsonl = Path(tmp) / "signins.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for inv in inventories:
                for page in inv.entra_pages:
                    src = source_name(inv, page.body)
                    items = _items(page, src, inv.name, problem)
                    if page.kind == SIGNINS_PAGE:
                        for item in items:
                            fh.write(json.dumps(_signin(item, inv.name, src), ensure_ascii=False) + "\n")
                    else:
                        _app_rows(page.kind[len(APPS_PREFIX):], items, src, rows)
        cols = ", ".join(f"{c}: '{t}'" for c, t in SIGNIN_COLUMNS.items())
        con.execute(f"""CREATE TABLE signins AS
            SELECT * EXCLUDE (n) FROM (
                SELECT *, row_number() OVER (PARTITION BY id ORDER BY bundle, src) AS n
                FROM read_json(?, format = 'newline_delimited', columns = {{{cols}}}))
            WHERE n = 1 AND id IS NOT NULL""", [jsonl.as_posix()])
    for name, columns in _TABLES.items():
        con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        unique = sorted(set(rows[name]))
        if unique:
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", unique)


def _items(page: Page, src: str, bundle: str, problem: Problem) -> Iterator[dict[str, Any]]:
    try:
        sidecar, body_path = read_page_sidecar(page.sidecar)
        data = json.loads(read_page_body(sidecar, body_path).decode("utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problem(bundle, src, f"could not be read ({exc}); its Entra records are not in this report", blind=False)
        return
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, list):
        problem(bundle, src, "holds no `value` list; its Entra records are not in this report", blind=False)
        return
    skipped = 0
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            yield item
        else:
            skipped += 1
    if skipped:
        problem(bundle, src, f"{skipped} element(s) without an id were not read", blind=False)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _lower(value: Any) -> str | None:
    text = _text(value)
    return text.strip().lower() if text else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _signin(item: dict[str, Any], bundle: str, src: str) -> dict[str, Any]:
    device = _object(item.get("deviceDetail"))
    status = _object(item.get("status"))
    types = item.get("signInEventTypes")
    if isinstance(types, list) and types and isinstance(types[0], str):
        event_type = types[0]
    elif isinstance(item.get("isInteractive"), bool):
        event_type = "interactiveUser" if item["isInteractive"] else "nonInteractiveUser"
    else:
        event_type = None
    code = status.get("errorCode")
    created = _text(item.get("createdDateTime"))
    iso = iso_utc(created) if created else None
    return {
        "id": item["id"], "ts": iso.rstrip("Z") if iso else None, "created": created,
        "account": _lower(item.get("userPrincipalName")), "user_id": _lower(item.get("userId")),
        "app_id": _lower(item.get("appId")), "app_name": _text(item.get("appDisplayName")),
        "ip": _text(item.get("ipAddress")), "session_id": _lower(item.get("sessionId")),
        "user_agent": _text(item.get("userAgent")), "client_app": _text(item.get("clientAppUsed")),
        "os": _text(device.get("operatingSystem")), "browser": _text(device.get("browser")),
        "resource_id": _lower(item.get("resourceId")), "event_type": event_type,
        "status_code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "failure": _text(status.get("failureReason")), "bundle": bundle, "src": src,
    }


def _app_rows(what: str, items: Iterator[dict[str, Any]], src: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    for item in items:
        if what == "servicePrincipals":
            sp = _lower(item.get("id"))
            rows["app_principals"].append((sp, _lower(item.get("appId")), _text(item.get("displayName")),
                                           _lower(item.get("appOwnerOrganizationId")),
                                           _text(item.get("createdDateTime")), src))
            for field, kind in (("appRoles", "application"), ("oauth2PermissionScopes", "delegated")):
                perms = item.get(field)
                for p in perms if isinstance(perms, list) else []:
                    if isinstance(p, dict) and _text(p.get("id")) and _text(p.get("value")):
                        rows["app_permissions"].append((sp, _lower(p["id"]), p["value"], kind))
        elif what == "oauth2PermissionGrants":
            rows["app_grants"].append((_lower(item.get("id")), _lower(item.get("clientId")),
                                       _text(item.get("consentType")), _lower(item.get("principalId")),
                                       _lower(item.get("resourceId")), _text(item.get("scope")), src))
        elif what == "appRoleAssignedTo":
            rows["app_assignments"].append((_lower(item.get("id")), _lower(item.get("principalId")),
                                            _text(item.get("principalDisplayName")),
                                            _lower(item.get("resourceId")), _lower(item.get("appRoleId")),
                                            _text(item.get("createdDateTime")), src))
