"""SQL text for the engine: the normalised record shape and the derived tables.

Kept apart from engine.py so the table definitions can be read (and documented) in one place.
Every table is described in docs/internals.md under "report tables" for `evkit sql` users.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from evkit.evidence.formats.rows import NESTED_FIELDS  # decoded wherever the record came from

# What json_transform extracts from each classic-schema record, in one parse. Non-strict: a
# field of the wrong type (a PowerShell-mangled "System.Object[]" where a list belongs) becomes
# NULL rather than failing the whole load.
_PAIR = [{"Name": "VARCHAR", "Value": "VARCHAR"}]
_ITEM = {"InternetMessageId": "VARCHAR", "Subject": "VARCHAR", "ParentFolder": {"Path": "VARCHAR"}}
_SHAPE: dict[str, Any] = {
    "Id": "VARCHAR", "CreationTime": "VARCHAR", "Operation": "VARCHAR", "RecordType": "VARCHAR",
    "Workload": "VARCHAR", "UserId": "VARCHAR", "MailboxOwnerUPN": "VARCHAR", "ObjectId": "VARCHAR",
    "ResultStatus": "VARCHAR", "ClientIP": "VARCHAR", "ClientIPAddress": "VARCHAR",
    "ActorIpAddress": "VARCHAR", "AppId": "VARCHAR", "ClientAppId": "VARCHAR", "ApplicationId": "VARCHAR",
    "AppAccessContext": {"ClientAppId": "VARCHAR", "AADSessionId": "VARCHAR"},
    "SessionId": "VARCHAR", "ClientInfoString": "VARCHAR", "LogonType": "VARCHAR",
    "OperationProperties": _PAIR, "ExtendedProperties": _PAIR, "DeviceProperties": _PAIR,
    "Parameters": _PAIR,
    "ModifiedProperties": [{"Name": "VARCHAR", "NewValue": "VARCHAR", "OldValue": "VARCHAR"}],
    "Target": [{"ID": "VARCHAR", "Type": "VARCHAR"}],
    "Folders": [{"Path": "VARCHAR", "FolderItems": [{"InternetMessageId": "VARCHAR", "Subject": "VARCHAR"}]}],
    "Folder": {"Path": "VARCHAR"}, "DestFolder": {"Path": "VARCHAR"},
    "Item": _ITEM, "AffectedItems": [_ITEM],
    "QueryText": "VARCHAR", "SearchQueryText": "VARCHAR", "Query": "VARCHAR",
    "OperationCount": "VARCHAR", "OrganizationId": "VARCHAR",
}
RECORD_SHAPE = json.dumps(_SHAPE, sort_keys=True)



def json_text_gate(text: str) -> str:
    """SQL: whether the record text `text` may hold a nested field as JSON text, and so must be
    read through decoded_record. A JSON text holding a key or string shows an escaped quote
    (`\\"`); one holding none (`"[]"`, `"{}"`, `"[1]"`) ends in `]` or `}` right before its closing
    quote. Records as the API writes them hold neither, so they are not examined field by field.
    Each test starts at a character API records rarely hold (a backslash, a closing bracket), where
    a test for a quote followed by `[` or `{` walked every record from its first quote (1M records:
    about 2 s of the report)."""
    return f"(contains({text}, '\\\"') OR contains({text}, ']\"') OR contains({text}, '}}\"'))"


def decoded_record(text: str) -> str:
    """SQL: the record text `text` with each of NESTED_FIELDS that holds JSON text replaced by
    the value that text encodes; a string that is not JSON (`System.Object[]`, text cut short) is
    left as recorded. Costly (a lambda over every field): the engine applies it only to the
    records json_text_gate selects, in a statement of their own (engine/loader.py,
    _decode_json_text)."""
    keys = ", ".join(f"'{k}'" for k in NESTED_FIELDS)
    value = "json_extract_string(acc, '$.' || k)"
    step = (f"CASE WHEN json_type(acc, '$.' || k) = 'VARCHAR' AND json_valid({value}) "
            f"AND left(ltrim({value}), 1) IN ('[', '{{') "
            f"THEN json_merge_patch(acc, json_object(k, json({value}))) ELSE acc END")
    # JSON text with a space after its closing bracket and no quoted value ("[] ") is not
    # gated and is left as recorded.
    return f"list_reduce([{text}, {keys}], lambda acc, k: {step})"


def unreadable_nested(decoded: str) -> str:
    """SQL: the NESTED_FIELDS of the decoded record text `decoded` that still hold a string:
    text that is not the list or object the field holds (mangled by an export, JSON text cut
    short or malformed). json_transform would make them NULL without a word. Only the fields
    the record has are examined (one parse for its keys)."""
    keys = ", ".join(f"'{k}'" for k in NESTED_FIELDS)
    return (f"list_filter(list_intersect(json_keys({decoded}), [{keys}]), "
            f"lambda k: json_type({decoded}, '$.' || k) = 'VARCHAR')")



def _no_member(value: str, members: Iterable[str]) -> str:
    return " AND ".join(f'{value}."{m}" IS NULL' for m in members)


def misshapen_nested(r: str, decoded: str) -> str:
    """SQL: the NESTED_FIELDS whose decoded JSON is not the shape the field holds: an object
    field holding a list or a scalar, or a list holding an element that is not an object (a
    JSON text nested thousands of levels deep is one). json_transform reads such a value as an
    object with no member set, which this finds in the typed record `r`; the decoded text
    `decoded` then tells it apart from an empty object `{}`."""
    checks = []
    for field in NESTED_FIELDS:
        shape = _SHAPE[field]
        value = f'{r}."{field}"'
        if isinstance(shape, list):
            bad = (f"list_bool_or(list_transform({value}, lambda e, i: e IS NOT NULL AND "
                   f"{_no_member('e', shape[0])} AND json_type({decoded}, '$.{field}[' || (i - 1) || ']') "
                   "<> 'OBJECT'))")
        else:
            bad = (f"({value} IS NOT NULL AND {_no_member(value, shape)} "
                   f"AND json_type({decoded}, '$.{field}') <> 'OBJECT')")
        checks.append(f"CASE WHEN {bad} THEN '{field}' END")
    return f"list_filter([{', '.join(checks)}], lambda f: f IS NOT NULL)"


# Record types whose UserId is the mailbox touched when MailboxOwnerUPN is absent.
MAILBOX_RECORD_TYPES = (2, 3, 50, 101)


def _prop(list_expr: str, name: str) -> str:
    """The Value of the first {Name, Value} pair called `name`. One lambda filter costs about
    half the instructions of a CASE over the first positions (each WHEN extracts a struct)."""
    return f"list_filter({list_expr}, lambda p: p.Name = '{name}')[1].Value"


def _trim(expr: str) -> str:
    """trim(expr), which DuckDB does codepoint by codepoint over the whole string (about 6% of
    the load's instructions for the ids and accounts of every record). Only a string that
    starts or ends with a space, or holds a non-ASCII character, can change (trim removes
    Unicode space separators), so only those are trimmed; the rest are returned as they are."""
    return (f"CASE WHEN {expr} ^@ ' ' OR ends_with({expr}, ' ') OR strlen({expr}) <> length({expr}) "
            f"THEN trim({expr}) ELSE {expr} END")


# The fast path for event times: the ISO forms raw pages carry (`2023-06-01T12:00:00`, a `Z`,
# a space for `T`, up to 6 fractional digits), converted in SQL. The pattern admits only strings
# on which DuckDB's cast and `evkit.times.iso_utc` agree (calendar checks are left to the
# cast, which gives NULL where the parser raises). Every other non-empty value (the Log Analytics
# portal's `6/1/2023, 12:00:00.000 PM`, `/Date(ms)/`, offsets, 7-digit ticks) is left NULL here
# and parsed afterwards by that one parser (Engine._parse_other_times).
FAST_TIME_PATTERN = (r"[12]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
                     r"(\.\d{1,6})?Z?")


def fast_time(expr: str) -> str:
    """SQL for the TIMESTAMP (UTC) of `expr` when it is in a fast-path form, else NULL."""
    return (f"CASE WHEN regexp_full_match({expr}, '{FAST_TIME_PATTERN}') "
            f"THEN try_cast({expr} AS TIMESTAMP) END")


# Columns of events_all / events. `r` is the json_transform result; bundle/src/pos come from
# the source relation. Text is kept as recorded except ids, accounts and mailboxes (lower-cased).
EVENT_COLUMNS = f"""
    coalesce(nullif({_trim('r.Id')}, ''), 'no-id:' || src || '#' || pos::VARCHAR) AS id,
    (r.Id IS NULL OR {_trim('r.Id')} = '') AS id_missing,
    {fast_time('r.CreationTime')} AS ts,
    r.CreationTime AS creation_time,
    r.Operation AS operation,
    try_cast(r.RecordType AS INTEGER) AS record_type,
    r.Workload AS workload,
    lower({_trim('r.UserId')}) AS account,
    lower(CASE WHEN r.MailboxOwnerUPN <> '' THEN {_trim('r.MailboxOwnerUPN')}
               WHEN try_cast(r.RecordType AS INTEGER) IN {MAILBOX_RECORD_TYPES}
                    OR r.Operation = 'MailItemsAccessed' THEN {_trim('r.UserId')} END) AS mailbox,
    r.ObjectId AS object_id,
    r.ResultStatus AS result_status,
    r.ClientIP AS client_ip,
    r.ClientIPAddress AS client_ip_address,
    r.ActorIpAddress AS actor_ip,
    lower({_trim('r.AppId')}) AS app_id,
    lower({_trim('r.ClientAppId')}) AS client_app_id,
    lower({_trim('r.AppAccessContext.ClientAppId')}) AS aac_client_app_id,
    lower({_trim('r.SessionId')}) AS session_id,
    lower({_trim('r.AppAccessContext.AADSessionId')}) AS aad_session_id,
    lower({_trim(_prop('r.DeviceProperties', 'SessionId'))}) AS device_session_id,
    lower({_trim('r.ApplicationId')}) AS application_id,
    {_prop('r.DeviceProperties', 'OS')} AS device_os,
    {_prop('r.DeviceProperties', 'BrowserType')} AS device_browser,
    r.ClientInfoString AS client_info,
    {_prop('r.ExtendedProperties', 'UserAgent')} AS user_agent,
    {_prop('r.OperationProperties', 'MailAccessType')} AS access_type,
    coalesce(lower({_prop('r.OperationProperties', 'IsThrottled')}) = 'true', false) AS is_throttled,
    try_cast(r.LogonType AS INTEGER) AS logon_type,
    try_cast(r.OperationCount AS BIGINT) AS operation_count,
    r.Folders AS folders,
    r.Folder.Path AS folder_path,
    r.DestFolder.Path AS dest_folder_path,
    r.Item AS item,
    r.AffectedItems AS affected_items,
    coalesce(r.QueryText, r.SearchQueryText, r.Query) AS query_text,
    r.Parameters AS parameters,
    r.OperationProperties AS operation_properties,
    r.ModifiedProperties AS modified_properties,
    r.Target AS target,
    lower(r.OrganizationId) AS organization_id,
    bundle, src, pos
"""

# The correlation values of a record, by kind: the columns that hold them. One definition for
# the event_keys view, the distinct values matched against indicators, and the suggestions.
NULL_GUID = "00000000-0000-0000-0000-000000000000"
KEY_COLUMNS = {
    "ip": ("client_ip", "client_ip_address", "actor_ip"),
    "app": ("app_id", "client_app_id", "aac_client_app_id"),
    "session": ("session_id", "aad_session_id", "device_session_id"),
    "ua": ("client_info", "user_agent"),
}


# A session id that can expand attribution: a GUID (values are lower-cased), never the all-zero
# GUID. Anonymised exports put placeholders ("-", "n/a", "<redacted>", counters) where session ids
# were; treating those as one session would attribute every record carrying them
# (docs/methodology.md 1.2).
SESSION_GUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def key_filter(kind: str, value: str = "v") -> str:
    """SQL: `value` counts as a correlation value of this kind (not empty; a session id only
    when it is a GUID other than the all-zero one)."""
    usable = f"{value} IS NOT NULL AND {value} <> ''"
    if kind == "session":
        return f"{usable} AND {value} <> '{NULL_GUID}' AND regexp_matches({value}, '{SESSION_GUID}')"
    return usable


def key_values(kind: str, source: str = "events") -> str:
    """SQL relation: every column of `events` plus `v`, one row per record and usable value of
    this kind (a value held in two of its columns counts once). One SELECT per column, a later
    column only where it differs from the earlier ones: half the time of unnesting a
    list_distinct built for every record (1M records: 0.38 s -> 0.19 s for the suggestions);
    DuckDB reads only the columns a query uses."""
    columns = KEY_COLUMNS[kind]
    return "\n        UNION ALL\n".join(
        f"SELECT *, {column} AS v FROM {source} WHERE {key_filter(kind, column)}"
        + "".join(f" AND {column} IS DISTINCT FROM {earlier}" for earlier in columns[:n])
        for n, column in enumerate(columns))


# Keys of every copy of a record (record_copies: the copy used plus copies whose content
# conflicts with it), so a record is attributed when any copy of it matches an indicator.
EVENT_KEYS = "\n        UNION ALL\n".join(
    f"SELECT id, '{kind}' AS kind, v AS value, ts FROM ({key_values(kind, 'record_copies')})"
    for kind in KEY_COLUMNS)


def distinct_keys(kinds: Iterable[str], source: str = "events") -> str:
    """SQL: every distinct (kind, value) of the given kinds (only kinds some indicator seeks are
    worth reading). One DISTINCT per column is about 3x faster than DISTINCT over event_keys,
    which first builds a row per record and value."""
    selects = [f"SELECT '{kind}' AS kind, v AS value FROM (SELECT DISTINCT {column} AS v FROM {source}) "
               f"WHERE {key_filter(kind)}" for kind in sorted(set(kinds)) for column in KEY_COLUMNS[kind]]
    return " UNION ".join(selects) or "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS value WHERE false"


def accessed_items(source: str, carry: str = "") -> str:
    """SQL: the items MailItemsAccessed records of `source` (a relation with the columns of
    events) name, one row per record, folder and item; `carry` (`, a, b`) adds columns of the
    record last. Items are unnested in two projections,
    not as two lateral joins (`e, unnest(e.folders) AS u(f), unnest(f.FolderItems) AS v(i)`),
    which DuckDB plans as a join per level: 1M records, 4.9 s against 0.04 s."""
    return f"""
        SELECT record_id, ts, mailbox, access_type, f.Path AS folder,
               i.InternetMessageId AS internet_message_id, i.Subject AS subject{carry}
        FROM (SELECT *, unnest(f.FolderItems) AS i
              FROM (SELECT id AS record_id, ts, mailbox, access_type{carry}, unnest(folders) AS f
                    FROM {source} WHERE operation = 'MailItemsAccessed'))
        WHERE i.InternetMessageId IS NOT NULL AND i.InternetMessageId <> ''"""


def item_mentions(source: str) -> str:
    """SQL: every item a record of `source` names (accessed, acted on, or among affected items).
    A filter on `mailbox` is not pushed below the unnests: filter `source` itself. Unnests are
    projections here too: a lateral join on a filtered `source` took 0.38 s for 15,000 records."""
    return f"""
        SELECT record_id, ts, mailbox, 'MailItemsAccessed' AS operation, folder,
               internet_message_id, subject FROM ({accessed_items(source)})
        UNION ALL
        SELECT id, ts, mailbox, operation, item.ParentFolder.Path, item.InternetMessageId,
               item.Subject
        FROM {source} WHERE item.InternetMessageId IS NOT NULL AND item.InternetMessageId <> ''
        UNION ALL
        SELECT id, ts, mailbox, operation, coalesce(a.ParentFolder.Path, folder_path),
               a.InternetMessageId, a.Subject
        FROM (SELECT id, ts, mailbox, operation, folder_path, unnest(affected_items) AS a FROM {source})
        WHERE a.InternetMessageId IS NOT NULL AND a.InternetMessageId <> ''"""


# Derived relations, created after events is de-duplicated, in this order. Views cost nothing
# until queried, and each query gets its filters pushed into them. event_keys is a view too:
# the report joins it five times, but each join reads only the kinds it filters on, and
# writing its four rows per record out as a table cost more than all the joins (10M records,
# on-disk tables: 19.5 s to create it; the report went from 127 s to 109 s without it).
DERIVED = {
    "accessed_items": accessed_items("events"),
    "synced_folders": """
        SELECT e.id AS record_id, e.ts, e.mailbox, f.Path AS folder
        FROM events e, unnest(e.folders) AS u(f)
        WHERE e.operation = 'MailItemsAccessed' AND e.access_type = 'Sync'
    """,
    "item_mentions": item_mentions("events"),
    "searches": """
        SELECT id AS record_id, ts, coalesce(mailbox, account) AS mailbox, operation, query_text
        FROM events WHERE operation LIKE 'SearchQueryInitiated%'
    """,
    "sends": """
        SELECT id AS record_id, ts, mailbox, operation, item.InternetMessageId AS internet_message_id,
               item.Subject AS subject
        FROM events WHERE operation IN ('Send', 'SendAs', 'SendOnBehalf')
    """,
    "event_keys": EVENT_KEYS,
    "sessions": """
        SELECT k.value AS session_id, min(e.ts) AS first_utc, max(e.ts) AS last_utc,
               count(DISTINCT e.id) AS records,
               count(DISTINCT coalesce(e.client_ip_address, e.client_ip, e.actor_ip)) AS ips,
               count(DISTINCT coalesce(e.client_info, e.user_agent)) AS client_strings,
               count(DISTINCT e.mailbox) AS mailboxes
        FROM event_keys k JOIN events e ON e.id = k.id
        WHERE k.kind = 'session'
        GROUP BY k.value
    """,
}
