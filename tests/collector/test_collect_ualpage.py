"""The fast Search-UnifiedAuditLog page tally agrees with json.loads and refuses cut bodies."""

from __future__ import annotations

import json

import pytest

from evkit.collector.sources.ualpage import UnreadablePage, _slow, scan_page


def page(rows: list[dict], separators=(",", ":")) -> bytes:
    return json.dumps({"@odata.context": "x", "@adminapi.warnings": [], "value": rows}, separators=separators).encode()


def row(i: int, total: int, rid: str, audit: dict | None = None) -> dict:
    audit = audit or {"Id": rid, "Operation": "Send", "Note": 'tricky "ResultIndex":99,"Identity":"x"'}
    return {"RecordType": "ExchangeItem", "AuditData": json.dumps(audit), "ResultIndex@data.type": "System.Int32",
            "ResultIndex": i, "ResultCount": total, "Identity": rid}


def test_fast_path_matches_json_and_ignores_lookalikes_inside_auditdata() -> None:
    body = page([row(i, 3, f"id-{i}") for i in (1, 2, 3)])
    assert scan_page(body) == _slow(body) == [(1, 3, "id-1"), (2, 3, "id-2"), (3, 3, "id-3")]
    assert scan_page(page([])) == []


def test_other_layouts_fall_back_to_json() -> None:
    spaced = page([row(1, 1, "a")], separators=(", ", ": "))
    assert scan_page(spaced) == [(1, 1, "a")]
    no_identity = page([{"ResultIndex": 1, "ResultCount": 1, "AuditData": json.dumps({"Id": "from-audit"})}])
    assert scan_page(no_identity) == [(1, 1, "from-audit")]


@pytest.mark.parametrize("body", [
    b"<html>proxy error</html>",
    b'{"value":[{"ResultIndex":1,"ResultCount":2,"Identity":"a"},{"ResultIndex":2,"Resu',
    b"",
])
def test_cut_or_foreign_bodies_are_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadablePage):
        scan_page(body)


def test_cut_exactly_between_rows_still_refused() -> None:
    body = page([row(i, 3, f"id-{i}") for i in (1, 2, 3)])
    cut = body[: body.index(b',{"RecordType"', 10)]  # ends after row 1's closing brace
    with pytest.raises(UnreadablePage):
        scan_page(cut)
