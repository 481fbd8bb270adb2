"""Search-UnifiedAuditLog (docs/microsoft-365.md §3.1) over InvokeCommand: ResultSize default 100 / max 5,000,
SessionId + ReturnLargeSet paging of an unsorted set of at most 50,000 with ResultIndex /
ResultCount, ReturnNextPreviewPage (sorted, at most 5,000), the ResultIndex -1 restart fault and
cap windows. Sessions hold only a permutation of at most 50,000 integers and per-hour match
counts, so memory stays bounded whatever the scenario size.

Two paths give the same rows: filters on Operations / UserIds / RecordType (all the collector
sends) run over emulator.ualindex, which counts and locates matches without parsing and serves
each stored line as the AuditData string; IPAddresses, ObjectIds or FreeText, and scenarios
without a record store (test doubles), parse each record (the json path)."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import random
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from evkit.emulator import records as rec
from evkit.emulator import ualindex
from evkit.emulator.state import State
from evkit.emulator.wire import Request, Response, adminapi_error, dumps

PARAMETERS = ("StartDate", "EndDate", "Operations", "UserIds", "RecordType", "ResultSize", "SessionId",
              "SessionCommand", "FreeText", "IPAddresses", "ObjectIds", "SiteIds", "Formatted",
              "HighCompleteness", "LegacyFlow", "LongerRetentionEnabled")
DEFAULT_RESULT_SIZE = 100
MAX_RESULT_SIZE = 5000
LARGE_SET_CAP = 50_000
PREVIEW_CAP = 5000
MIXED_CAP = 10_000
MAX_SESSIONS = 64
BLOCK = 1000
VALIDATION = "System.Management.Automation.ParameterBindingValidationException"
TRANSFORM = "System.Management.Automation.ParameterBindingArgumentTransformationException"
MISSING = "System.Management.Automation.ParameterBindingException"
# Current service (docs/emulator-fidelity.md UAL-3, UAL-4, UAL-5): the warning a truncated
# answer carries, the warning an empty first answer carries, and how long a HighCompleteness
# search takes before it answers.
MORE_RESULTS = ("There are more results available than are currently displayed. To view them, narrow the "
                "search or use the SessionId and SessionCommand parameters.")
EMPTY_FIRST_WARNING = "Failed to process request: The task was canceled."
EMPTY_FIRST_ONE_IN = 3
HIGH_COMPLETENESS_SECONDS = 1.5
SEEN_LIMIT = 200_000
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$")


@dataclass
class Answer:
    """The rows of one call (each already encoded) and the `@adminapi.warnings` it carries."""

    rows: list[bytes]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Session:
    """A ReturnLargeSet / ReturnNextPreviewPage session: blocks of BLOCK matches (in time order)
    are served in a shuffled order and shuffled inside, so the set is unsorted yet each page
    needs only a scan of its own blocks, resumed from cursors taken during the counting scan."""

    signature: str
    total: int                          # what ResultCount reports
    servable: int                       # rows the session will hand out (<= cap)
    marks: list[Any]                    # resume cursor before each block
    block_order: list[int]
    seed: str
    query: ualindex.Query | None = None  # the index path's matches (marks unused then)
    command: str = "ReturnLargeSet"
    limit: int = LARGE_SET_CAP          # rows handed out before empty pages
    served: int = 0
    runspace: str = field(default_factory=lambda: str(uuid.uuid4()))

    def positions(self, first: int, count: int) -> list[tuple[int, int]]:
        """(block, offset in block) for serving positions first .. first+count-1."""
        starts = []  # serving position where each block of block_order begins
        at = 0
        for block in self.block_order:
            starts.append(at)
            at += min(BLOCK, self.servable - block * BLOCK)
        out = []
        shuffled: dict[int, list[int]] = {}
        for k in range(first, min(first + count, self.servable, self.limit)):
            slot = bisect.bisect_right(starts, k) - 1
            block = self.block_order[slot]
            if block not in shuffled:
                inner = list(range(min(BLOCK, self.servable - block * BLOCK)))
                if self.seed:
                    random.Random(f"{self.seed}:{block}").shuffle(inner)
                shuffled[block] = inner
            out.append((block, shuffled[block][k - starts[slot]]))
        return out


def parse_date(text: Any) -> dt.datetime | None:
    """ISO 8601 or US M/d/yyyy [h:mm[:ss] [AM|PM]]; no time means 00:00, no zone means UTC."""
    value = str(text).strip()
    m = _US_DATE.match(value)
    if m:
        month, day, year, hour, minute, second, ampm = m.groups()
        h = int(hour or 0)
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        try:
            return dt.datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0),
                               tzinfo=dt.timezone.utc)
        except ValueError:
            return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _matcher(bound: dict[str, Any], record_type: int | None) -> Callable[[dict[str, Any]], bool]:
    ops = {o.lower() for o in _as_list(bound.get("Operations"))}
    users = {u.lower() for u in _as_list(bound.get("UserIds"))}
    ips = set(_as_list(bound.get("IPAddresses")))
    objs = {o.lower() for o in _as_list(bound.get("ObjectIds"))}
    free = str(bound.get("FreeText") or "").lower()

    def keep(r: dict[str, Any]) -> bool:
        if ops and str(r.get("Operation", "")).lower() not in ops:
            return False
        if users and str(r.get("UserId", "")).lower() not in users:
            return False
        if record_type is not None and r.get("RecordType") != record_type:
            return False
        if ips and not ({str(r.get("ClientIP")), str(r.get("ClientIPAddress")), str(r.get("ActorIpAddress"))}
                        & ips):
            return False
        if objs and str(r.get("ObjectId", "")).lower() not in objs:
            return False
        if free and free not in json.dumps(r).lower():
            return False
        return True

    return keep


def _record_type(value: Any) -> int | None | Response:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit() and int(text) in rec.RECORD_TYPE_NAMES:
        return int(text)
    num = rec.RECORD_TYPE_BY_NAME.get(text.lower())
    if num is None:
        return adminapi_error(TRANSFORM, f"Cannot process argument transformation on parameter 'RecordType'. "
                              f"Cannot convert value \"{text}\" to type \"Microsoft.Exchange.Management."
                              f"SystemConfigurationTasks.AuditRecordType\".")
    return num


def _result_size(value: Any) -> int | Response:
    if value is None:
        return DEFAULT_RESULT_SIZE
    try:
        size = int(str(value).strip())
    except ValueError:
        return adminapi_error(TRANSFORM, f"Cannot process argument transformation on parameter 'ResultSize'. "
                              f"Cannot convert value \"{value}\" to type \"System.Int32\".")
    if size < 1 or size > MAX_RESULT_SIZE:
        return adminapi_error(VALIDATION, f"Cannot validate argument on parameter 'ResultSize'. The {size} argument "
                              f"is {'greater than the maximum' if size > 1 else 'less than the minimum'} allowed "
                              f"range of {MAX_RESULT_SIZE if size > 1 else 1}. Supply an argument that is "
                              f"{'less' if size > 1 else 'greater'} than or equal to "
                              f"{MAX_RESULT_SIZE if size > 1 else 1} and then try the command again.")
    return size


def _capped_total(state: State, start: dt.datetime, end: dt.datetime, actual: int) -> int:
    """cap-window fault: any query overlapping the span reports more than 50,000 results."""
    if not state.plan.in_cap_window(start, end):
        return actual
    extra = int.from_bytes(hashlib.sha256(f"{start}{end}".encode()).digest()[:2], "big") % 5000
    return max(actual, LARGE_SET_CAP + 1 + extra)


def row(record: dict[str, Any], index: int, count: int, runspace: str,
        more: bool | None = None) -> dict[str, Any]:
    """One Search-UnifiedAuditLog output object as adminapi serialises it; AuditData is a
    compact JSON string (3.1). `more` (current service) adds AuditSearchRequestMetadata."""
    rt = record.get("RecordType")
    created = str(record.get("CreationTime", "")).replace("Z", "")
    out = {
        "RunspaceId@data.type": "System.Guid", "RunspaceId": runspace,
        "RecordType": rec.RECORD_TYPE_NAMES.get(rt, str(rt)) if isinstance(rt, int) else rt,
        "CreationDate@data.type": "System.DateTime", "CreationDate": f"{created}.0000000Z",
        "UserIds": record.get("UserId"), "Operations": record.get("Operation"),
        "AuditData": json.dumps(record, separators=(",", ":"), ensure_ascii=False),
        "ResultIndex@data.type": "System.Int32", "ResultIndex": index,
        "ResultCount@data.type": "System.Int32", "ResultCount": count,
        "Identity": record.get("Id"),
    }
    if more is not None:
        out["AuditSearchRequestMetadata"] = {"moreRecordsAvailable": more}
    out.update({"IsValid": True, "ObjectState": "Unchanged"})
    return out


_ROW_HEAD = b'{"RunspaceId@data.type":"System.Guid","RunspaceId":'
_ROW_RT = b',"RecordType":'
_ROW_CREATED = b',"CreationDate@data.type":"System.DateTime","CreationDate":"'
_ROW_USER = b'.0000000Z","UserIds":'
_ROW_OP = b',"Operations":'
_ROW_AUDIT = b',"AuditData":"'
_ROW_INDEX = b'","ResultIndex@data.type":"System.Int32","ResultIndex":'
_ROW_COUNT = b',"ResultCount@data.type":"System.Int32","ResultCount":'
_ROW_ID = b',"Identity":"'
_ROW_TAIL = b'","IsValid":true,"ObjectState":"Unchanged"}'
_ROW_TAILS = {None: _ROW_TAIL,
              True: b'","AuditSearchRequestMetadata":{"moreRecordsAvailable":true}' + _ROW_TAIL[1:],
              False: b'","AuditSearchRequestMetadata":{"moreRecordsAvailable":false}' + _ROW_TAIL[1:]}


class LineRows:
    """Encodes stored lines as row() objects serialised by wire.dumps, without parsing them:
    a stored line is already the compact AuditData text, so it only needs its quotes and
    backslashes escaped (lines are ASCII; one with a \\u escape is parsed instead, because
    AuditData carries those characters raw). Per-key fields are encoded once."""

    def __init__(self, index: ualindex.LineIndex, runspace: str) -> None:
        self.index, self.runspace = index, runspace
        self.head = _ROW_HEAD + dumps(runspace) + _ROW_RT
        self._keys: dict[int, tuple[bytes, bytes]] = {}

    def _key(self, kid: int) -> tuple[bytes, bytes]:
        parts = self._keys.get(kid)
        if parts is None:
            op, user, rt = self.index.key_values[kid][:3]
            parts = self._keys[kid] = (
                dumps(rec.RECORD_TYPE_NAMES.get(rt, str(rt)) if isinstance(rt, int) else rt) + _ROW_CREATED,
                _ROW_USER + dumps(user) + _ROW_OP + dumps(op) + _ROW_AUDIT)
        return parts

    def encode(self, line: bytes, kid: int, index: int, count: int, more: bool | None = None) -> bytes:
        head = ualindex.audit_head(line)
        if head is None or b"\\u" in line:
            return dumps(row(json.loads(line), index, count, self.runspace, more))
        created, rid = head
        rt_part, middle = self._key(kid)
        return b"".join((self.head, rt_part, created, middle,
                         line.replace(b"\\", b"\\\\").replace(b'"', b'\\"'),
                         _ROW_INDEX, str(index).encode(), _ROW_COUNT, str(count).encode(), _ROW_ID, rid, _ROW_TAILS[more]))


def _query(state: State, bound: dict[str, Any], record_type: int | None, start: dt.datetime,
           end: dt.datetime) -> ualindex.Query | None:
    """The index path's query, or None when the json path must answer."""
    if _as_list(bound.get("IPAddresses")) or _as_list(bound.get("ObjectIds")) or str(bound.get("FreeText") or ""):
        return None
    index = ualindex.line_index(state)
    if index is None:
        return None
    return ualindex.Query(index, ualindex.epoch(start), ualindex.epoch(end),
                          {o.lower() for o in _as_list(bound.get("Operations"))},
                          {u.lower() for u in _as_list(bound.get("UserIds"))}, record_type)


def search(state: State, req: Request, bound: dict[str, Any]) -> Answer | Response:
    """The rows of one Search-UnifiedAuditLog call, each already encoded as wire.dumps would
    encode its row() object (so pages are streamed out without a second encoding pass), and
    the warnings the answer carries."""
    missing = [p for p in ("StartDate", "EndDate") if not bound.get(p)]
    if missing:
        return adminapi_error(MISSING, "Cannot process command because of one or more missing mandatory "
                              f"parameters: {' '.join(missing)}.")
    start, end = parse_date(bound["StartDate"]), parse_date(bound["EndDate"])
    for name, value in (("StartDate", start), ("EndDate", end)):
        if value is None:
            return adminapi_error(TRANSFORM, f"Cannot process argument transformation on parameter '{name}'. "
                                  f"Cannot convert value \"{bound[name]}\" to type "
                                  f"\"Microsoft.Exchange.ExchangeSystem.ExDateTime\".")
    assert start is not None and end is not None
    record_type = _record_type(bound.get("RecordType"))
    if isinstance(record_type, Response):
        return record_type
    size = _result_size(bound.get("ResultSize"))
    if isinstance(size, Response):
        return size
    command = bound.get("SessionCommand")
    if command is not None and str(command) not in ("ReturnLargeSet", "ReturnNextPreviewPage"):
        return adminapi_error(TRANSFORM, f"Cannot process argument transformation on parameter 'SessionCommand'. "
                              f"Cannot convert value \"{command}\" to type \"Microsoft.Exchange.Management."
                              f"SystemConfigurationTasks.SessionCommand\". Error: \"Unable to match the identifier "
                              f"name {command} to a valid enumerator name. Specify one of the following enumerator "
                              f"names and try again: ReturnLargeSet, ReturnNextPreviewPage\"")
    keep = _matcher(bound, record_type)
    current = state.options.service == "current"
    if current and str(bound.get("HighCompleteness", "")).lower() in ("true", "1"):
        time.sleep(HIGH_COMPLETENESS_SECONDS)  # completeness over speed: a slow answer
    if current and _empty_first_answer(state, bound):
        return Answer([], [EMPTY_FIRST_WARNING])
    if end <= start:
        return Answer([])
    session_id = bound.get("SessionId")
    if command is None or not session_id:
        start = _foreign_start(state, req, start, end)
        query = _query(state, bound, record_type, start, end)
        if query is not None:
            return _one_shot_lines(state, start, end, query, size, current)
        return _one_shot(state, start, end, keep, size, current)
    return _session_page(state, req, bound, str(session_id), str(command), start, end, keep, size, record_type)


def _foreign_start(state: State, req: Request, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """foreign fault: the answer's span reaches as far again before the asked one, so an answer
    under ResultSize holds rows from before the window (newest first, the window's own come first)."""
    assert state.dice is not None
    key, attempt = req.claims.get("_fault_key", ""), req.claims.get("_fault_attempt", 0)
    return start - (end - start) if state.dice.roll("foreign", key, attempt) else start


def _empty_first_answer(state: State, bound: dict[str, Any]) -> bool:
    """Current service: the first call of some queries answers no rows and a warning, and the
    same call succeeds when repeated. Which queries is fixed by the seed (one in
    EMPTY_FIRST_ONE_IN), so a run is reproducible."""
    key = json.dumps(bound, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{state.options.seed}:{key}".encode()).digest()
    if digest[0] % EMPTY_FIRST_ONE_IN:
        return False
    with state.lock:
        if key in state.ual_seen:
            return False
        if len(state.ual_seen) >= SEEN_LIMIT:
            state.ual_seen.clear()
        state.ual_seen.add(key)
    return True


def _count_and_more(state: State, start: dt.datetime, end: dt.datetime, total: int, size: int,
                    current: bool) -> tuple[int, bool | None, list[str]]:
    """ResultCount, moreRecordsAvailable and warnings of a call that did not use a session.
    Legacy: ResultCount is the number of matches. Current: it is the ResultSize given, whatever
    the matches, and truncation shows only in moreRecordsAvailable and a warning."""
    matches = _capped_total(state, start, end, total)
    if not current:
        return matches, None, []
    more = matches > size
    return size, more, [MORE_RESULTS] if more else []


def _one_shot_lines(state: State, start: dt.datetime, end: dt.datetime, query: ualindex.Query,
                    size: int, current: bool) -> Answer:
    """_one_shot over the index: the last `size` matches, newest first."""
    count, more, warnings = _count_and_more(state, start, end, query.total, size, current)
    rows = LineRows(query.index, str(uuid.uuid4()))
    newest = query.positions(max(0, query.total - size), size)
    newest.reverse()
    return Answer([rows.encode(line, kid, i + 1, count, more) for i, (line, kid) in enumerate(query.lines(newest))],
                  warnings)


def _one_shot(state: State, start: dt.datetime, end: dt.datetime, keep: Callable[[dict[str, Any]], bool],
              size: int, current: bool) -> Answer:
    """No session: the newest `size` matches, newest first (ResultCount: see _count_and_more)."""
    newest: deque[dict[str, Any]] = deque(maxlen=size)
    total = 0
    for r in rec.iter_matching(state.scenario, start, end, keep):
        newest.append(r)
        total += 1
    count, more, warnings = _count_and_more(state, start, end, total, size, current)
    runspace = str(uuid.uuid4())
    return Answer([dumps(row(r, i + 1, count, runspace, more)) for i, r in enumerate(reversed(newest))], warnings)


def _signature(bound: dict[str, Any]) -> str:
    fields = {k: v for k, v in bound.items() if k not in ("ResultSize", "SessionId", "SessionCommand")}
    return json.dumps(fields, sort_keys=True, default=str)


def _session_page(state: State, req: Request, bound: dict[str, Any], session_id: str, command: str,
                  start: dt.datetime, end: dt.datetime, keep: Callable[[dict[str, Any]], bool],
                  size: int, record_type: int | None) -> Answer:
    signature = _signature(bound)
    with state.lock:
        sessions = state.ual_sessions
        session = sessions.get(session_id)
        if session is not None and session.signature != signature:
            session = None
        if session is not None and session.command != command:
            # both commands on one SessionId: Microsoft caps the output at 10,000 (3.1)
            session.command = command
            session.limit = min(session.limit, MIXED_CAP)
    if session is None:
        cap = LARGE_SET_CAP if command == "ReturnLargeSet" else PREVIEW_CAP
        query = _query(state, bound, record_type, start, end)
        if query is not None:
            total, marks = query.total, []
        else:
            total, marks = rec.checkpoints(state.scenario, start, end, keep, BLOCK, cap)
        servable = min(total, cap)
        blocks = list(range(-(-servable // BLOCK)))
        seed = ""
        if command == "ReturnLargeSet":  # unsorted (3.1); ReturnNextPreviewPage stays sorted
            seed = f"{state.options.seed}:{session_id}:{signature}"
            random.Random(seed).shuffle(blocks)
        session = Session(signature=signature, total=_capped_total(state, start, end, total), servable=servable,
                          marks=marks, block_order=blocks, seed=seed, query=query, command=command)
        with state.lock:
            sessions[session_id] = session
            sessions.move_to_end(session_id)
            while len(sessions) > MAX_SESSIONS:
                sessions.popitem(last=False)
    with state.lock:
        first = session.served
        wanted = session.positions(first, size)
        session.served = first + len(wanted)
    if not wanted:
        return Answer([])
    current = state.options.service == "current"
    more = (first + len(wanted) < min(session.servable, session.limit)) if current else None
    count = size if current else session.total  # current: ResultCount is the ResultSize given
    make: Callable[[Any, int, int], bytes]
    if session.query is not None:
        query = session.query
        located = {b: query.positions(b * BLOCK, BLOCK) for b in dict.fromkeys(b for b, _ in wanted)}
        picked: list[Any] = query.lines([located[b][i] for b, i in wanted])
        encoder = LineRows(query.index, session.runspace)

        def make(item: Any, index: int, count: int) -> bytes:
            return encoder.encode(item[0], item[1], index, count, more)
    else:
        block_rows: dict[int, list[dict[str, Any]]] = {}
        for block in dict.fromkeys(b for b, _ in wanted):
            block_rows[block], _ = rec.page(state.scenario, start, end, keep, BLOCK, session.marks[block])
        picked = [block_rows[b][i] for b, i in wanted]

        def make(item: Any, index: int, count: int) -> bytes:
            return dumps(row(item, index, count, session.runspace, more))
    assert state.dice is not None
    key, attempt = req.claims.get("_fault_key", ""), req.claims.get("_fault_attempt", 0)
    if state.dice.roll("restart", key, attempt):
        with state.lock:
            session.served = 0  # internal timeout: the session starts over (3.1, ResultIndex -1)
        return Answer([make(r, -1, 0) for r in picked])
    return Answer([make(r, first + j + 1, count) for j, r in enumerate(picked)],
                  [MORE_RESULTS] if more else [])
