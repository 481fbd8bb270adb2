"""Graph `auditLogRecord` objects back to classic records.

The live API puts the classic record in `auditData` (field names unchanged) decorated with
OData annotations (`@odata.type`, `RecordType@odata.type: "#Int64"`); those annotations are
transport metadata, so they are removed. The crossed top-level user fields are not used.
"""

from __future__ import annotations


def strip_annotations(value: object) -> object:
    """A copy of `value` without `@odata.type` and `<name>@odata.*` keys at any depth."""
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items()
                if not (k.startswith("@odata.") or "@odata." in k)}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


def graph_to_classic(element: object) -> object:
    """The classic record inside one auditLogRecord, or a str saying why there is none."""
    if not isinstance(element, dict):
        return f"element is a JSON {type(element).__name__}, not an auditLogRecord object"
    data = element.get("auditData")
    if not isinstance(data, dict):
        return "auditLogRecord has no auditData object"
    return strip_annotations(data)
