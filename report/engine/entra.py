"""Entra evidence in DuckDB tables: the sign-in log and the applications that can read mail.

`signins` holds one row per sign-in id (the first copy by bundle and file wins; copies are the
same sign-in asked twice), normalised from Graph's `signIn` objects (docs/microsoft-365.md §10).
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
from evkit.evidence.raw import gzip_stated_size, read_page_body
from evkit.evidence.sidecars import read_page_sidecar
from evkit.report.engine.sql import fast_time
from evkit.times import iso_utc

Problem = Callable[..., None]

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
TABLES = ("signins", *_TABLES, "collecting_apps")


# The fields of a signIn read from each page, in one parse (DuckDB's read_json, or the Python
# reader for a page it cannot take); fields of another type make the bulk read fail and the page
# goes to the Python reader, which keeps what it can and names the rest.
_SIGNIN_FIELDS = {
    "id": "VARCHAR", "createdDateTime": "VARCHAR", "userPrincipalName": "VARCHAR", "userId": "VARCHAR",
    "appId": "VARCHAR", "appDisplayName": "VARCHAR", "ipAddress": "VARCHAR", "sessionId": "VARCHAR",
    "userAgent": "VARCHAR", "clientAppUsed": "VARCHAR", "resourceId": "VARCHAR", "isInteractive": "BOOLEAN",
    "signInEventTypes": "VARCHAR[]", "deviceDetail": "STRUCT(operatingSystem VARCHAR, browser VARCHAR)",
    "status": "STRUCT(errorCode BIGINT, failureReason VARCHAR)",
}
_SIGNIN_STRUCT = "STRUCT(" + ", ".join(f'"{k}" {t}' for k, t in _SIGNIN_FIELDS.items()) + ")"
_MAX_OBJECT = 64 << 20
_CHUNK = 256
# Graph writes 7 fractional digits; evkit.times keeps 6 (it truncates), so the SQL fast path
# (report.engine.sql.fast_time) gets the same 6 and agrees with it.
_CREATED = "regexp_replace(s.createdDateTime, '^([^.]{19}\\.[0-9]{6})[0-9]+', '\\1')"


def load(con: duckdb.DuckDBPyConnection, inventories: Sequence[Inventory], problem: Problem) -> None:
    """Create the Entra tables (empty when no bundle holds such pages)."""
    con.execute(f"CREATE TEMP TABLE signins_raw (bundle VARCHAR, src VARCHAR, s {_SIGNIN_STRUCT})")
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
    with tempfile.TemporaryDirectory(prefix="evkit-signins-") as tmp:
        jsonl = Path(tmp) / "signins.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for inv in inventories:
                pages = [p for p in inv.entra_pages if p.kind == SIGNINS_PAGE]
                for start in range(0, len(pages), _CHUNK):
                    _bulk(con, inv, pages[start:start + _CHUNK])
                # pages the bulk read failed on or took no row from (no `value` list, or an empty
                # one): the Python reader keeps what it can and names what it cannot
                loaded = {src for (src,) in con.execute("SELECT DISTINCT src FROM signins_raw").fetchall()}
                for page in pages:
                    src = source_name(inv, page.body)
                    if src in loaded:
                        continue
                    for item in _items(page, src, inv.name, problem):
                        fh.write(json.dumps({"bundle": inv.name, "src": src, "s": _shape(item)},
                                            ensure_ascii=False) + "\n")
                for page in inv.entra_pages:
                    if page.kind != SIGNINS_PAGE:
                        src = source_name(inv, page.body)
                        _app_rows(page.kind[len(APPS_PREFIX):], _items(page, src, inv.name, problem), src, rows)
        con.execute(f"""INSERT INTO signins_raw SELECT bundle, src, s FROM read_json(?, format = 'newline_delimited',
            columns = {{bundle: 'VARCHAR', src: 'VARCHAR', s: '{_SIGNIN_STRUCT}'}}, maximum_object_size = {_MAX_OBJECT})""",
                    [jsonl.as_posix()])
    _finish_signins(con, problem)
    con.execute("CREATE TABLE collecting_apps (bundle VARCHAR, app_id VARCHAR)")
    for inv in inventories:  # the app each collection ran as (data/collection.json `client_id`)
        if _lower(inv.collection.get("client_id")):
            con.execute("INSERT INTO collecting_apps VALUES (?, ?)", [inv.name, _lower(inv.collection["client_id"])])
    for name, columns in _TABLES.items():
        con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        unique = sorted(set(rows[name]))
        if unique:
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", unique)


def _bulk(con: duckdb.DuckDBPyConnection, inv: Inventory, pages: list[Page]) -> list[Page]:
    """Read `pages` with DuckDB; return those it could not read (a chunk that fails is split)."""
    if not pages:
        return []
    if len(pages) == 1 and pages[0].body.name.endswith(".gz") and (gzip_stated_size(pages[0].body) or 0) > _MAX_OBJECT:
        return pages  # the Python reader refuses it by its trailer without inflating it
    prefix = inv.root.as_posix().rstrip("/") + "/"
    try:
        con.execute(f"""INSERT INTO signins_raw
            SELECT ?, ? || substr(filename, ?), unnest(value)
            FROM read_json(?, format = 'newline_delimited', records = true,
                           columns = {{value: '{_SIGNIN_STRUCT}[]'}}, maximum_object_size = {_MAX_OBJECT},
                           filename = true)""",
                    [inv.name, inv.name + "/", len(prefix) + 1, [p.body.as_posix() for p in pages]])
        return []
    except duckdb.Error:
        if len(pages) == 1:
            return pages
    half = len(pages) // 2
    return _bulk(con, inv, pages[:half]) + _bulk(con, inv, pages[half:])


def _finish_signins(con: duckdb.DuckDBPyConnection, problem: Problem) -> None:
    """signins from signins_raw: one row per id, text normalised, times through the fast path
    and, for any other form, through evkit.times (each distinct string parsed once)."""
    for bundle, src, n in con.execute("""SELECT bundle, src, count(*) FROM signins_raw
            WHERE s IS NULL OR s.id IS NULL OR s.id = '' GROUP BY ALL ORDER BY ALL""").fetchall():
        problem(bundle, src, f"{n} element(s) without an id were not read", blind=False)
    columns = f"""s.id AS id, {fast_time(_CREATED)} AS ts, s.createdDateTime AS created,
               lower(trim(s.userPrincipalName)) AS account, lower(trim(s.userId)) AS user_id,
               lower(trim(s.appId)) AS app_id, nullif(s.appDisplayName, '') AS app_name,
               nullif(s.ipAddress, '') AS ip, lower(trim(nullif(s.sessionId, ''))) AS session_id,
               nullif(s.userAgent, '') AS user_agent, nullif(s.clientAppUsed, '') AS client_app,
               nullif(s.deviceDetail.operatingSystem, '') AS os, nullif(s.deviceDetail.browser, '') AS browser,
               lower(trim(s.resourceId)) AS resource_id,
               coalesce(s.signInEventTypes[1], CASE WHEN s.isInteractive THEN 'interactiveUser'
                                                    WHEN NOT s.isInteractive THEN 'nonInteractiveUser' END) AS event_type,
               s.status.errorCode AS status_code, nullif(s.status.failureReason, '') AS failure, bundle, src"""
    # only ids seen more than once are ranked (the same sign-in asked twice): no window over all
    con.execute("""CREATE TEMP TABLE signin_dups AS SELECT s.id AS id FROM signins_raw
                   WHERE s.id IS NOT NULL AND s.id <> '' GROUP BY 1 HAVING count(*) > 1""")
    con.execute(f"""CREATE TABLE signins AS
        SELECT {columns} FROM signins_raw
        WHERE s.id IS NOT NULL AND s.id <> '' AND s.id NOT IN (SELECT id FROM signin_dups)
        UNION ALL
        SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY s.id ORDER BY bundle, src) AS n
                               FROM signins_raw WHERE s.id IN (SELECT id FROM signin_dups))
        WHERE n = 1""")
    con.execute("DROP TABLE signin_dups")
    con.execute("DROP TABLE signins_raw")
    for (text,) in con.execute("SELECT DISTINCT created FROM signins WHERE ts IS NULL AND created IS NOT NULL").fetchall():
        iso = iso_utc(text)
        if iso is not None:
            con.execute("UPDATE signins SET ts = ?::TIMESTAMP WHERE ts IS NULL AND created = ?", [iso.rstrip("Z"), text])


_STRUCTS = {"deviceDetail": ("operatingSystem", "browser"), "status": ("errorCode", "failureReason")}


def _shape(item: dict[str, Any]) -> dict[str, Any]:
    """A signIn from the Python reader cut to the bulk read's field types: a value of another
    type is left out (None), so one odd field never costs the whole sign-in."""
    out: dict[str, Any] = {}
    for key, kind in _SIGNIN_FIELDS.items():
        value = item.get(key)
        if key in _STRUCTS:
            sub = value if isinstance(value, dict) else {}
            out[key] = {k: (sub.get(k) if isinstance(sub.get(k), int if k == "errorCode" else str)
                            and not isinstance(sub.get(k), bool) else None) for k in _STRUCTS[key]}
        elif kind == "BOOLEAN":
            out[key] = value if isinstance(value, bool) else None
        elif kind == "VARCHAR[]":
            out[key] = [v for v in value if isinstance(v, str)] if isinstance(value, list) else None
        else:
            out[key] = value if isinstance(value, str) else None
    return out


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
