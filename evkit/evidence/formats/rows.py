"""What a reader yields per row, and the checks every parsed record must pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from evkit.evidence.formats.depth import TOO_DEEP, loads, too_deep
from evkit.evidence.formats.mangled import find_mangled
from evkit.times import parse_creation_time


# Fields that hold lists or objects, which SIEM pipelines and some exports store as JSON text
# (`"Folders": "[{...}]"`); the report's engine decodes them wherever the record came from.
NESTED_FIELDS = ("Folders", "OperationProperties", "ExtendedProperties", "DeviceProperties", "Parameters",
                 "ModifiedProperties", "Target", "AppAccessContext", "Item", "AffectedItems", "Folder",
                 "DestFolder")


MAX_ID = 256


def unreadable_json_text(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, reason) for each of NESTED_FIELDS holding JSON text that cannot be read: cut
    short, malformed, or nested deeper than a record may be."""
    for field in NESTED_FIELDS:
        value = record.get(field)
        if not isinstance(value, str) or value.strip()[:1] not in ("[", "{"):
            continue
        try:
            decoded = loads(value)
        except json.JSONDecodeError as exc:
            yield field, f"JSON text that cannot be read ({exc.msg})"
            continue
        if too_deep(decoded):
            yield field, f"JSON text {TOO_DEEP}"


class LossyCell(str):
    """A lossy-cell note: a `str` ("Column: reason") that also carries `.column` and `.reason`."""

    column: str
    reason: str

    def __new__(cls, column: str, reason: str) -> "LossyCell":
        self = super().__new__(cls, f"{column}: {reason}")
        self.column = column
        self.reason = reason
        return self


class ParsedRow(NamedTuple):
    """One data row (CSV) or element (JSON): a classic record, or the reason there is none."""

    row: int
    record: dict[str, Any] | None
    error: str | None
    lossy: list[LossyCell]


def check_record(row: int, record: object, lossy: list[LossyCell], *,
                 scan_values: bool = True, id_label: str = "Id",
                 time_label: str = "CreationTime") -> ParsedRow:
    """Accept `record` only if it is an object with an `Id` and a readable `CreationTime`.

    With `scan_values`, string values anywhere in the record are checked for PowerShell
    mangling (ConvertTo-Json's depth limit turns nested objects into `@{Name=...}` text).
    Nested fields holding JSON text that cannot be read are always named as lossy.
    """
    if not isinstance(record, dict):
        return ParsedRow(row, None, f"record is a JSON {type(record).__name__}, not an object", lossy)
    rid = record.get("Id")
    if not isinstance(rid, str) or not rid.strip():
        return ParsedRow(row, None, f"record has no {id_label}", lossy)
    if len(rid) > MAX_ID:       # record ids are GUIDs or 32 hex digits; named shortened
        return ParsedRow(row, None, f"record {id_label} {rid[:40]!r}... is longer than {MAX_ID} "
                         "characters", lossy)
    created = record.get("CreationTime")
    if created is None:
        return ParsedRow(row, None, f"record {rid} has no {time_label}", lossy)
    try:
        parse_creation_time(created)
    except ValueError as exc:
        return ParsedRow(row, None, f"record {rid} has a bad {time_label}: {exc}", lossy)
    if too_deep(record):
        return ParsedRow(row, None, f"record {rid} is {TOO_DEEP}", lossy)
    if scan_values:
        for path, reason in find_mangled(record):
            lossy.append(LossyCell(path, reason))
    for field, reason in unreadable_json_text(record):
        lossy.append(LossyCell(field, reason))
    return ParsedRow(row, record, None, lossy)
