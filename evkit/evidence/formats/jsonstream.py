"""Streaming JSON: one element at a time from arrays, `{"value": [...]}` envelopes or JSON lines.

Exports can be gigabytes; `json.load` would hold all of it. This reader keeps only the
current element in memory, using `json.JSONDecoder.raw_decode` over a growing text buffer.
A syntax error ends the stream with the element number where it happened (what follows
cannot be located reliably).
"""

from __future__ import annotations

import json
import re
from typing import Iterator, TextIO

from evkit.evidence.formats.depth import TOO_DEEP, loads, value_end

CHUNK = 1 << 18                 # characters read at a time
MAX_ELEMENT = 16 << 20          # one element (or JSON line) larger than this is treated as unreadable
_WS = re.compile(r"[ \t\n\r]*")


class JsonStreamError(ValueError):
    """The JSON text is malformed (or an element is too large) at the element being read."""


class _Buffer:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()
        self.span: tuple[int, int] | None = None    # text of the last decoded value

    def span_has(self, marks: tuple[str, ...]) -> bool:
        """Whether the last value's text contains any of `marks` (True when unknown)."""
        if self.span is None:
            return True
        start, end = self.span
        return any(self.buf.find(m, start, end) != -1 for m in marks)

    def more(self) -> None:
        pending = len(self.buf) - self.pos
        if pending > MAX_ELEMENT:
            raise JsonStreamError(f"an element is larger than {MAX_ELEMENT >> 20} MiB or never ends")
        chunk = self.stream.read(max(CHUNK, pending))
        if not chunk:
            self.eof = True
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def peek(self) -> str:
        """The next non-whitespace character ('' at end of input)."""
        while True:
            space = _WS.match(self.buf, self.pos)
            if space is not None:           # always: the pattern matches the empty text too
                self.pos = space.end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos:self.pos + 1]
            self.more()

    def take(self, char: str) -> None:
        got = self.peek()
        if got != char:
            raise JsonStreamError(f"expected {char!r} but found {got or 'end of file'!r}")
        self.pos += 1

    def value(self) -> object:
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except RecursionError:
                return self._skip_deep()
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise JsonStreamError(exc.msg + f" (character {exc.pos - self.pos} of the element)") from None
                self.more()
                continue
            if end == len(self.buf) and not self.eof and not isinstance(obj, (dict, list, str)):
                self.more()            # a number or literal may continue in the next chunk
                continue
            self.span = (self.pos, end)
            self.pos = end
            return obj

    def _skip_deep(self) -> "JsonStreamError":
        """Step over a value nested too deeply for Python's reader; it becomes that element's
        error (an instance, not raised: the elements after it are still read)."""
        while (end := value_end(self.buf, self.pos)) == -1:
            if self.eof:
                raise JsonStreamError(f"an element {TOO_DEEP} never ends")
            self.more()
        self.span = None
        self.pos = end
        return JsonStreamError(f"element is {TOO_DEEP}")


def _array(b: _Buffer) -> Iterator[object]:
    b.take("[")
    if b.peek() == "]":
        b.pos += 1
        return
    while True:
        yield b.value()
        sep = b.peek()
        if sep == "]":
            b.pos += 1
            return
        b.take(",")


def _object(b: _Buffer, container_key: str) -> Iterator[object]:
    """Elements of the object's `container_key` array, or the whole object when it has none."""
    b.take("{")
    other: dict[str, object] = {}
    found = False
    damaged: JsonStreamError | None = None      # a member too deep to read makes the whole element so
    if b.peek() == "}":
        b.pos += 1
    else:
        while True:
            key = b.value()
            if not isinstance(key, str):
                raise JsonStreamError("object key is not a string")
            b.take(":")
            if key == container_key and b.peek() == "[":
                found = True
                yield from _array(b)
            else:
                other[key] = member = b.value()
                if isinstance(member, JsonStreamError):
                    damaged = member
            sep = b.peek()
            if sep == "}":
                b.pos += 1
                break
            b.take(",")
    if not found:
        b.span = None
        yield damaged if damaged is not None else other


def _top(b: _Buffer, container_key: str) -> Iterator[object]:
    while True:
        first = b.peek()
        if first == "":
            return
        if first == "[":
            yield from _array(b)
        elif first == "{":
            yield from _object(b, container_key)
        else:
            raise JsonStreamError(f"expected an array or object but found {first!r}")


def iter_elements(stream: TextIO, *, container_key: str = "value") -> Iterator[object]:
    """Yield elements: of top-level arrays, of an envelope's `container_key`, or top-level objects.

    Several top-level values in a row (concatenated JSON) are read one after another.
    Raises JsonStreamError at the first syntax error.
    """
    return _top(_Buffer(stream), container_key)


def iter_marked(stream: TextIO, marks: tuple[str, ...], *, tables: bool = False
                ) -> Iterator[tuple[object, bool]]:
    """(element, whether its JSON text contains any of `marks`), for iter_elements or, with
    `tables`, iter_tables; lets callers skip work on elements that cannot need it."""
    b = _Buffer(stream)
    for element in (_tables(b) if tables else _top(b, "value")):
        yield element, b.span_has(marks)


def _members(b: _Buffer) -> Iterator[str]:
    """Keys of the object at the cursor, leaving the cursor on each value in turn."""
    b.take("{")
    if b.peek() == "}":
        b.pos += 1
        return
    while True:
        key = b.value()
        if not isinstance(key, str):
            raise JsonStreamError("object key is not a string")
        b.take(":")
        yield key
        sep = b.peek()
        if sep == "}":
            b.pos += 1
            return
        b.take(",")


def _table_rows(b: _Buffer) -> Iterator[object]:
    columns: list[object] | None = None
    early_rows: list[object] | None = None
    for key in _members(b):
        if key == "columns":
            spec = b.value()
            columns = [c.get("name") if isinstance(c, dict) else c for c in spec] \
                if isinstance(spec, list) else []
            if early_rows is not None:
                yield from (_zip(columns, row) for row in early_rows)
        elif key == "rows" and b.peek() == "[" and columns is not None:
            for row in _array(b):
                yield _zip(columns, row)
        elif key == "rows":
            early = b.value()                    # rows before columns: rare, held in memory
            if isinstance(early, JsonStreamError):
                yield early
            early_rows = early if isinstance(early, list) else []
            b.span = None
        else:
            b.value()


def _zip(columns: list[object], row: object) -> object:
    return dict(zip(columns, row)) if isinstance(row, list) else row


def iter_tables(stream: TextIO) -> Iterator[object]:
    """Rows of a Log Analytics query answer `{"tables": [{"columns": [...], "rows": [[...]]}]}`
    as {column: value} dicts, streamed table by table."""
    return _tables(_Buffer(stream))


def _tables(b: _Buffer) -> Iterator[object]:
    for key in _members(b):
        if key == "tables" and b.peek() == "[":
            b.take("[")
            if b.peek() == "]":
                b.pos += 1
                continue
            while True:
                if b.peek() == "{":
                    yield from _table_rows(b)
                else:
                    b.value()
                if b.peek() == "]":
                    b.pos += 1
                    break
                b.take(",")
        else:
            b.value()


def looks_like_tables(head: str) -> bool:
    """True for a Log Analytics query answer (`{"tables": [...`)."""
    return re.match(r'\s*\{\s*"tables"\s*:\s*\[', head) is not None


def iter_lines(stream: TextIO, marks: tuple[str, ...] = ()
               ) -> Iterator[tuple[int, object | JsonStreamError, bool]]:
    """JSON lines: (line number, value or the error for that line, whether the line contains
    any of `marks`); blank lines are skipped."""
    for number, line in enumerate(_bounded_lines(stream), start=1):
        if line is None:
            yield number, JsonStreamError(f"line is longer than {MAX_ELEMENT >> 20} Mi characters; not read"), False
            continue
        if not line.strip():
            continue
        marked = any(m in line for m in marks)
        try:
            yield number, loads(line), marked
        except json.JSONDecodeError as exc:
            reason = f"line is {TOO_DEEP}" if exc.msg == TOO_DEEP else \
                f"line is not valid JSON: {exc.msg} at column {exc.colno}"
            yield number, JsonStreamError(reason), marked


def _bounded_lines(stream: TextIO) -> Iterator[str | None]:
    """The stream's lines, None for one longer than MAX_ELEMENT: its rest is read past in
    chunks, never held, so one hostile line cannot take the memory."""
    while line := stream.readline(MAX_ELEMENT + 1):
        if len(line) <= MAX_ELEMENT:
            yield line
            continue
        while not line.endswith(("\n", "\r")):
            line = stream.readline(1 << 20)
            if not line:
                break
        yield None


def looks_like_json_lines(head: str) -> bool:
    """True when the text starts with one complete JSON object on its own line followed by another."""
    lines = [line for line in head.split("\n") if line.strip()]   # not splitlines: U+2028 is data
    if len(lines) < 2 or not lines[0].lstrip().startswith("{") or not lines[1].lstrip().startswith("{"):
        return False
    try:
        return isinstance(loads(lines[0]), dict)
    except json.JSONDecodeError:
        return False
