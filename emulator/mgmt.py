"""Office 365 Management Activity API (docs/microsoft-365.md §1): subscriptions, content listing with the
NextPageUri header and the 24-hour / 7-day rules against the virtual now, content blobs, and
the AF error codes.

Blobs: one per (content type, hour of CreationTime, part of at most mgmt_blob_records records),
made available (`contentCreated`) mgmt_latency_minutes after the hour ends (legacy), or 60-90
minutes after it (current). Listing filters on contentCreated, never on event time. Records inside a blob
are shuffled (not chronological) and about 1% reappear in the next hour's blob, because the
real service duplicates records across blobs and does not de-duplicate (1.5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import threading
from typing import Any
from urllib.parse import quote, unquote

from evkit.emulator import records as rec
from evkit.emulator import ualindex
from evkit.emulator.state import State
from evkit.emulator.tokens import permissions
from evkit.emulator.wire import Request, Response, af_error, dumps, json_response

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
BLOB_RETENTION = dt.timedelta(days=7)
DUPLICATE_RATE = 0.01
_ROUTE = re.compile(r"^/api/v1(?:\.0)?/(?P<tenant>[^/]+)/activity/feed/(?P<op>.+)$")
_TIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
_NEXT_PAGE = re.compile(r"^\d{10}R\d{6}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_WINDOW_RULE = ("The start time and end time must both be specified (or both omitted) and must be less than or "
                "equal to 24 hours apart, with the start time no more than 7 days in the past.")


def handle(state: State, req: Request) -> Response:
    m = _ROUTE.match(req.path)
    if not m:
        return af_error(404, "AF20001", f"Unknown operation '{req.path}'.")
    tenant, op = m.group("tenant"), m.group("op")
    if not _GUID.match(tenant):
        return af_error(400, "AF20013", f"The tenant ID {tenant} is not a valid GUID.")
    if tenant.lower() != str(req.claims.get("tid", "")).lower():
        return af_error(401, "AF20010", f"The tenant ID passed in the URL ({tenant}) does not match the tenant ID "
                        f"passed in the access token ({req.claims.get('tid')}).")
    if tenant.lower() != state.tenant_id.lower():
        return af_error(400, "AF20011", f"Tenant {tenant} does not exist.")
    roles = permissions(req.claims)
    if "ActivityFeed.Read" not in roles:
        return af_error(401, "AF10001", f"The permission set ({','.join(sorted(roles))}) sent in the request does "
                        f"not include the expected permission.")
    root = f"{req.service_url}/api/v1.0/{tenant}/activity/feed"
    if op == "subscriptions/start" and req.method == "POST":
        return _start(state, req)
    if op == "subscriptions/stop" and req.method == "POST":
        return _stop(state, req)
    if op == "subscriptions/list" and req.method == "GET":
        with state.lock:
            subs = [_sub_view(ct, s) for ct, s in state.subscriptions.items()]
        return json_response(200, subs)
    if op in ("subscriptions/content", "subscriptions/notifications") and req.method == "GET":
        return _content(state, req, root, notifications=op.endswith("notifications"))
    if op.startswith("audit/") and req.method == "GET":
        return _blob(state, req, unquote(op[len("audit/"):]))  # clients may send `$` as %24
    if op == "resources/dlpSensitiveTypes" and req.method == "GET":
        return _friendly_names(req)
    return af_error(404, "AF20001", f"Unknown operation '{op}'.")


_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*(;q=[01](\.\d{0,3})?)?$")


def _friendly_names(req: Request) -> Response:
    """Friendly names honour one Accept-Language only (1.1): two -> AF20053, bad syntax -> AF20054."""
    header = (req.header("accept-language") or "").strip()
    if header:
        languages = [part.strip() for part in header.split(",")]
        if len(languages) > 1:
            return af_error(400, "AF20053", "More than one language was specified in the Accept-Language header.")
        if not _LANGUAGE.match(languages[0]):
            return af_error(400, "AF20054", f"Invalid syntax for the Accept-Language header: {header}.")
    return json_response(200, [])


def _sub_view(content_type: str, sub: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": content_type, "status": sub["status"], "webhook": None}


def _content_type(req: Request) -> tuple[str | None, Response | None]:
    value = req.query_ci("contentType")
    if not value:
        return None, af_error(400, "AF20001", "Missing parameter: contentType.")
    for known in rec.CONTENT_TYPES:
        if value.lower() == known.lower():
            return known, None
    return None, af_error(400, "AF20020", f"The specified content type is not valid: {value}.")


def _start(state: State, req: Request) -> Response:
    content_type, error = _content_type(req)
    if error:
        return error
    assert content_type is not None
    with state.lock:
        sub = state.subscriptions.get(content_type)
        if sub and sub["status"] == "enabled":
            # undocumented but observed live; clients should treat it as success (1.4)
            return af_error(400, "AF20024", "The subscription is already enabled. No property change.")
        # a restart sees only content from now on; so does a first start under the current service
        # (content created after the start only, the first up to 12 hours later); legacy backfilled
        available_from = state.now if sub or state.options.current else None
        state.subscriptions[content_type] = {"status": "enabled", "available_from": available_from}
    return json_response(200, _sub_view(content_type, {"status": "enabled"}))


def _stop(state: State, req: Request) -> Response:
    content_type, error = _content_type(req)
    if error:
        return error
    assert content_type is not None
    with state.lock:
        sub = state.subscriptions.get(content_type)
        if not sub:
            return af_error(400, "AF20022", "No subscription found for the specified content type.")
        sub["status"] = "disabled"
    return Response(200, b"", {"Content-Type": "application/json; charset=utf-8"})


def parse_af_time(text: str) -> dt.datetime | None:
    """The three documented formats (1.5), tolerating a trailing Z and fractional seconds."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1]
    cleaned = cleaned.split(".", 1)[0]
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def _af_ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class _HourIndex:
    """Per-hour record counts by content type, computed once per hour on demand."""

    def __init__(self, lines: ualindex.LineIndex | None = None) -> None:
        self._counts: dict[dt.datetime, dict[str, int]] = {}
        self._lock = threading.Lock()
        self.lines = lines

    def index_lines(self, hour: dt.datetime) -> dict[str, list[int]] | None:
        """Line numbers of the hour's records by content type, from the line index (None when
        the scenario has no record store: the json path answers)."""
        if self.lines is None:
            return None
        h = int(hour.timestamp())
        if h % 3600 or hour.microsecond:
            return None  # not an hour file's span (a hand-made content id): the json path reads it
        out: dict[str, list[int]] = {}
        if h not in self.lines.store.hours:
            return out
        built = self.lines.hour(h)
        values = self.lines.key_values
        types: dict[int, str] = {}
        for i, kid in enumerate(built.keys):
            ct = types.get(kid)
            if ct is None:
                ct = types[kid] = rec.content_type_of({"RecordType": values[kid][2]})
            out.setdefault(ct, []).append(i)
        return out

    def blob_lines(self, hour: dt.datetime, content_type: str) -> list[bytes] | None:
        """The hour's stored lines of one content type, in time order (None: json path)."""
        typed = self.index_lines(hour)
        if typed is None or self.lines is None:
            return None
        numbers = typed.get(content_type, [])
        return self.lines.read(self.lines.hour(int(hour.timestamp())), numbers) if numbers else []

    def counts(self, scenario: Any, hour: dt.datetime) -> dict[str, int]:
        with self._lock:
            if hour in self._counts:
                return self._counts[hour]
        counts: dict[str, int] = {}
        typed = self.index_lines(hour)
        if typed is not None:
            for ct, n in typed.items():
                counts[ct] = len(n)
        elif scenario.count(hour, hour + HOUR):
            for r in scenario.records(hour, hour + HOUR):
                ct = rec.content_type_of(r)
                counts[ct] = counts.get(ct, 0) + 1
        with self._lock:
            self._counts[hour] = counts
        return counts


def _index(state: State) -> _HourIndex:
    lines = ualindex.line_index(state)
    with state.lock:
        if state.mgmt_index is None:
            state.mgmt_index = _HourIndex(lines)
        return state.mgmt_index


def _blob_id(content_type: str, hour: dt.datetime, part: int) -> str:
    stamp = hour.strftime("%Y%m%d%H%M%S") + f"{part:09d}"
    return f"{stamp}${stamp}${content_type.lower().replace('.', '_')}${content_type.replace('.', '_')}"


def _parse_blob_id(content_id: str) -> tuple[str, dt.datetime, int] | None:
    parts = content_id.split("$")
    if len(parts) != 4 or parts[0] != parts[1] or len(parts[0]) != 23 or not parts[0].isdigit():
        return None
    content_type = parts[3].replace("_", ".")
    if content_type not in rec.CONTENT_TYPES or parts[2] != content_type.lower().replace(".", "_"):
        return None
    try:
        hour = dt.datetime.strptime(parts[0][:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return content_type, hour, int(parts[0][14:])


CURRENT_LAG_MINUTES = (60, 90)  # current: content becomes available 60-90 min after its hour ends


def _lag_minutes(state: State, hour: dt.datetime, part: int) -> int:
    """Minutes between the end of a blob's hour and its availability (contentCreated)."""
    if not state.options.current:
        return state.options.mgmt_latency_minutes
    low, high = CURRENT_LAG_MINUTES
    return low + (int(hour.timestamp()) // 3600 * 7 + part * 13) % (high - low + 1)


def _max_lag(state: State) -> dt.timedelta:
    return dt.timedelta(minutes=CURRENT_LAG_MINUTES[1] if state.options.current
                        else state.options.mgmt_latency_minutes)


def _created(state: State, hour: dt.datetime, part: int) -> dt.datetime:
    return hour + HOUR + dt.timedelta(minutes=_lag_minutes(state, hour, part), milliseconds=part * 7 + 113)


def _blobs(state: State, content_type: str, start: dt.datetime, end: dt.datetime,
           available_from: dt.datetime | None) -> list[tuple[dt.datetime, int, dt.datetime]]:
    """(hour, part, contentCreated) of blobs with start <= contentCreated < end, in availability order."""
    lat = _max_lag(state)
    hour = (start - HOUR - lat - HOUR).replace(minute=0, second=0, microsecond=0)
    out = []
    index = _index(state)
    floor = state.now - BLOB_RETENTION
    while hour + HOUR + lat < end + HOUR:
        if state.scenario.start - HOUR <= hour <= state.scenario.end:
            n = index.counts(state.scenario, hour).get(content_type, 0)
            parts = (n + state.options.mgmt_blob_records - 1) // state.options.mgmt_blob_records
            for part in range(parts):
                created = _created(state, hour, part)
                if (start <= created < end and created <= state.now and created >= floor
                        and (available_from is None or created >= available_from)):
                    out.append((hour, part, created))
        hour += HOUR
    return out


def _content(state: State, req: Request, root: str, notifications: bool) -> Response:
    content_type, error = _content_type(req)
    if error:
        return error
    assert content_type is not None
    with state.lock:
        sub = state.subscriptions.get(content_type)
        sub = dict(sub) if sub else None
    if sub is None:
        return af_error(400, "AF20022", "No subscription found for the specified content type.")
    if sub["status"] != "enabled":
        return af_error(400, "AF20023", "The subscription was disabled by a tenant admin.")
    start_text, end_text = req.query_ci("startTime"), req.query_ci("endTime")
    if (start_text is None) != (end_text is None):
        return af_error(400, "AF20055", _WINDOW_RULE)
    if start_text is None:
        end = state.now
        start = end - DAY  # "content available in the last 24 hours" (1.5, 10)
        start_text, end_text = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")
    else:
        assert end_text is not None
        start, end = parse_af_time(start_text), parse_af_time(end_text)
        if start is None or end is None:
            return af_error(400, "AF20002", f"Invalid parameter type: startTime/endTime "
                            f"'{start_text if start is None else end_text}'. Use YYYY-MM-DDTHH:MM:SS.")
        if end <= start or end - start > DAY or start < state.now - BLOB_RETENTION:
            return af_error(400, "AF20055", _WINDOW_RULE)
    offset = 0
    next_page = req.query_ci("nextPage")
    if next_page is not None:
        if not _NEXT_PAGE.match(next_page):
            return af_error(400, "AF20031", f"Invalid nextPage Input: {next_page}.")
        offset = int(next_page[-6:])
    if notifications:
        return json_response(200, [])  # no webhooks are ever configured here
    blobs = _blobs(state, content_type, start, end, sub.get("available_from"))
    size = state.options.mgmt_page_size
    page = blobs[offset:offset + size]
    body = []
    for hour, part, created in page:
        content_id = _blob_id(content_type, hour, part)
        body.append({"contentType": content_type, "contentId": content_id,
                     "contentUri": f"{root}/audit/{content_id}", "contentCreated": _af_ts(created),
                     "contentExpiration": _af_ts(created + BLOB_RETENTION)})
    headers = {}
    if offset + size < len(blobs):
        token = start.strftime("%Y%m%d") + "00R" + f"{offset + size:06d}"
        publisher = req.query_ci("PublisherIdentifier")
        extra = f"&PublisherIdentifier={quote(publisher)}" if publisher else ""
        headers["NextPageUri"] = (f"{root}/subscriptions/content?contentType={content_type}"
                                  f"&startTime={quote(start_text, safe=':-')}&endTime={quote(end_text, safe=':-')}"
                                  f"&nextPage={token}{extra}")
    return json_response(200, body, headers)


def _duplicated(seed: int, record_id: str) -> bool:
    digest = hashlib.sha256(f"{seed}:dup:{record_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < DUPLICATE_RATE


def _blob(state: State, req: Request, content_id: str) -> Response:
    parsed = _parse_blob_id(content_id)
    if parsed is None:
        return af_error(400, "AF20052", f"Content ID {content_id} in the URL is invalid.")
    content_type, hour, part = parsed
    created = _created(state, hour, part)
    n = _index(state).counts(state.scenario, hour).get(content_type, 0)
    size = state.options.mgmt_blob_records
    if part * size >= n or created > state.now:
        return af_error(404, "AF20050", f"The specified content ({content_id}) doesn't exist.")
    if created + BLOB_RETENTION <= state.now:
        return af_error(400, "AF20051", f"Content requested with the key {content_id} has already expired. "
                        f"Content older than 7 days cannot be retrieved.")
    index = _index(state)
    lines = index.blob_lines(hour, content_type)
    if lines is not None:
        return _blob_from_lines(state, index, content_id, hour, part, size, content_type, lines)
    out: list[dict[str, Any]] = []
    i = 0
    for r in state.scenario.records(hour, hour + HOUR):
        if rec.content_type_of(r) != content_type:
            continue
        if part * size <= i < (part + 1) * size:
            out.append(r)
        i += 1
    if part == 0:  # duplicates of the previous hour's records, as the service sends them
        out.extend(r for r in state.scenario.records(hour - HOUR, hour)
                   if rec.content_type_of(r) == content_type and _duplicated(state.options.seed, str(r.get("Id"))))
    random.Random(f"{state.options.seed}:{content_id}").shuffle(out)
    return Response(200, dumps(out), {"Content-Type": "application/json; charset=utf-8"})


def _wire_line(line: bytes) -> bytes:
    """A stored line as dumps() would encode its record: lines are compact ASCII JSON, so only
    one with a \\u escape (the wire carries those characters raw) is parsed and encoded again."""
    return dumps(json.loads(line)) if b"\\u" in line else line


def _line_id(line: bytes) -> str:
    head = ualindex.audit_head(line)
    return head[1].decode() if head is not None else str(json.loads(line).get("Id"))


def _blob_from_lines(state: State, index: _HourIndex, content_id: str, hour: dt.datetime, part: int, size: int,
                     content_type: str, lines: list[bytes]) -> Response:
    """_blob over stored lines: the same records in the same order, the same bytes, no parse."""
    out = lines[part * size:(part + 1) * size]
    if part == 0:
        earlier = index.blob_lines(hour - HOUR, content_type) or []
        out.extend(x for x in earlier if _duplicated(state.options.seed, _line_id(x)))
    random.Random(f"{state.options.seed}:{content_id}").shuffle(out)
    body = b"".join((b"[", b",".join(_wire_line(x) for x in out), b"]"))
    return Response(200, body, {"Content-Type": "application/json; charset=utf-8"})
