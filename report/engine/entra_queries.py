"""What the report asks of the Entra tables: the sign-ins behind the attacker's sessions (from
the sign-in log, or the audit log's UserLoggedIn records when the log was not collected or
failed), the attributed mail access each session or address led to, every account's sign-in
history around the window, and the grants that let applications read mail.

Queries only; the decisions are in report.rules.signins and report.rules.apps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from evkit.report.engine.loader import Engine
from evkit.report.rules.signins import Logon

# One relation per source of sign-ins, with the same columns (docs/internals.md "report tables").
SIGNIN_LOG = """
    SELECT id, ts, account, ip, app_id, app_name, session_id, user_agent, client_app, os, browser,
           event_type, coalesce(status_code, 0) = 0 AS succeeded FROM signins"""
AUDIT_LOG = """
    SELECT id, ts, account, coalesce(actor_ip, client_ip) AS ip, application_id AS app_id, NULL AS app_name,
           device_session_id AS session_id, user_agent, NULL AS client_app, device_os AS os,
           device_browser AS browser, NULL AS event_type, operation = 'UserLoggedIn' AS succeeded
    FROM events WHERE operation IN ('UserLoggedIn', 'UserLoginFailed')"""
# An address as a sign-in records it: Exchange writes `ip:port` and `[ipv6]:port`
_BARE_IP = ("CASE WHEN v LIKE '[%]%' THEN regexp_extract(v, '^\\[([^\\]]+)\\]', 1) "
            "WHEN length(v) - length(replace(v, ':', '')) = 1 THEN split_part(v, ':', 1) ELSE v END")
MAX_IDS = 50


def ledger(engine: Engine, source: str) -> list[dict[str, Any]]:
    """The collection ledger entries of one source across the bundles."""
    return engine.dicts("SELECT bundle, unit, status, reason, window_start, window_end FROM gaps "
                        "WHERE source = ? ORDER BY bundle, unit", [source])


def _logons(engine: Engine, relation: str, where: str, params: Sequence[Any]) -> list[Logon]:
    rows = engine.rows(f"SELECT * FROM ({relation}) WHERE {where} ORDER BY ts, id", params)
    return [Logon(row[0], _aware(row[1]), *row[2:]) for row in rows]


def _aware(ts: datetime | None) -> datetime | None:
    return ts.replace(tzinfo=timezone.utc) if ts is not None and ts.tzinfo is None else ts


def attacker_logons(engine: Engine, relation: str, ws: datetime, we: datetime) -> list[Logon]:
    """Sign-ins in the window in a session attributed to the attacker, or from an address an
    indicator matched."""
    return _logons(engine, relation, """ts >= ? AND ts < ? AND (
        session_id IN (SELECT session_id FROM attributed_sessions)
        OR ip IN (SELECT value FROM indicator_hits WHERE kind = 'ip'))""", [ws, we])


def account_logons(engine: Engine, relation: str, accounts: Sequence[str], we: datetime) -> list[Logon]:
    """Every sign-in of these accounts before the window's end (their history and the window)."""
    if not accounts:
        return []
    return _logons(engine, relation, "ts < ? AND list_contains(?, account)", [we, list(accounts)])


def mail_access_by_session(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per session id: the attributed records (other than sign-ins) that carry it."""
    return {r["key"]: r for r in engine.dicts(f"""
        SELECT k.value AS key, count(DISTINCT e.id) AS records, list(DISTINCT e.mailbox ORDER BY e.mailbox)
               FILTER (WHERE e.mailbox IS NOT NULL) AS mailboxes, min(e.ts) AS first, max(e.ts) AS last,
               min(e.id, {MAX_IDS}) AS record_ids
        FROM attributed a JOIN event_keys k ON k.id = a.id AND k.kind = 'session' JOIN events e ON e.id = a.id
        WHERE e.operation NOT IN ('UserLoggedIn', 'UserLoginFailed')
        GROUP BY k.value""")}


def mail_access_by_address(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per address (port removed): the attributed records (other than sign-ins) from it."""
    return {r["key"]: r for r in engine.dicts(f"""
        SELECT key, count(DISTINCT id) AS records, list(DISTINCT mailbox ORDER BY mailbox)
               FILTER (WHERE mailbox IS NOT NULL) AS mailboxes, min(ts) AS first, max(ts) AS last,
               min(id, {MAX_IDS}) AS record_ids
        FROM (SELECT {_BARE_IP} AS key, e.id, e.mailbox, e.ts
              FROM attributed a JOIN (SELECT id, value AS v FROM event_keys WHERE kind = 'ip') k ON k.id = a.id
              JOIN events e ON e.id = a.id
              WHERE e.operation NOT IN ('UserLoggedIn', 'UserLoginFailed'))
        GROUP BY key""")}


def known_values(engine: Engine) -> set[tuple[str, str]]:
    """(kind, value) pairs an indicator already matched."""
    return {(k, v) for k, v in engine.rows("SELECT kind, value FROM indicator_hits")}


# ---- applications ------------------------------------------------------------------------------

def grants(engine: Engine) -> list[dict[str, Any]]:
    """Delegated grants with the client app and the resource app they name."""
    return engine.dicts("""
        SELECT g.id, g.client_id, c.app_id, c.name, g.consent_type, g.principal_id, r.app_id AS resource_app_id,
               g.scope, g.src
        FROM app_grants g LEFT JOIN app_principals c ON c.id = g.client_id
        LEFT JOIN app_principals r ON r.id = g.resource_id ORDER BY g.id""")


def assignments(engine: Engine) -> list[dict[str, Any]]:
    """Application permissions granted, with the permission's name from its resource's catalogue."""
    return engine.dicts("""
        SELECT a.id, a.principal_id, c.app_id, coalesce(c.name, a.principal_name) AS name,
               r.app_id AS resource_app_id, p.value AS permission, a.app_role_id, a.created, a.src
        FROM app_assignments a LEFT JOIN app_principals c ON c.id = a.principal_id
        LEFT JOIN app_principals r ON r.id = a.resource_id
        LEFT JOIN app_permissions p ON p.resource_id = a.resource_id AND p.permission_id = a.app_role_id
             AND p.kind = 'application'
        ORDER BY a.id""")


def consent_records(engine: Engine) -> list[dict[str, Any]]:
    """The audit log's 'Consent to application.' records: who consented to which service principal."""
    return engine.dicts("""
        SELECT id, ts, account, lower(object_id) AS object_id,
               list_transform(coalesce(target, []), lambda t: lower(t.ID)) AS targets
        FROM events WHERE operation = 'Consent to application.' ORDER BY ts, id""")


def user_names(engine: Engine) -> dict[str, str]:
    """Entra user object id -> user principal name, as the sign-ins show them."""
    return {uid: upn for uid, upn in engine.rows(
        "SELECT user_id, min(account) FROM signins WHERE user_id IS NOT NULL AND account IS NOT NULL GROUP BY user_id")}


def mail_reads_by_app(engine: Engine, ws: datetime, we: datetime) -> dict[str, dict[str, Any]]:
    """Per calling app id: the MailItemsAccessed and Send records in the window, and the mailboxes."""
    return {r["app"]: r for r in engine.dicts(f"""
        SELECT v AS app, count(DISTINCT id) AS records, list(DISTINCT mailbox ORDER BY mailbox)
               FILTER (WHERE mailbox IS NOT NULL) AS mailboxes, min(id, {MAX_IDS}) AS record_ids
        FROM (SELECT DISTINCT id, mailbox, ts, v FROM (
                  SELECT id, mailbox, ts, unnest([client_app_id, aac_client_app_id]) AS v FROM events
                  WHERE operation IN ('MailItemsAccessed', 'Send', 'SendAs', 'SendOnBehalf')))
        WHERE v IS NOT NULL AND v <> '' AND ts >= ? AND ts < ?
        GROUP BY v""", [ws, we])}


def collecting_apps(engine: Engine) -> set[str]:
    """The app ids the bundles were collected with."""
    return {app for (app,) in engine.rows("SELECT DISTINCT app_id FROM collecting_apps")}


def signins_collected_from(engine: Engine) -> list[str]:
    """When each collection holding `signins` ledger entries began (data/collection.json)."""
    return [t for (t,) in engine.rows("""SELECT DISTINCT b.started_utc FROM bundles b
        WHERE b.started_utc IS NOT NULL AND b.bundle IN (SELECT bundle FROM gaps WHERE source = 'signins')
        ORDER BY 1""")]
