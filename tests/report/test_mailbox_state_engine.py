"""The engine's mailbox_state tables from hostile pages: a body that is not JSON, a sidecar that
is not JSON, an error answer and odd elements give a named problem or nothing, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

from evkit.evidence.inventory import scan_bundle
from evkit.report.engine.loader import Engine
from evkit.report.engine.mailbox_state import load_mailbox_state


def _page(root: Path, unit: str, name: str, body: bytes, *, status: int = 200, cmdlet: str = "Get-InboxRule",
          context: dict | None = None) -> None:
    folder = root / "data" / "raw" / "mailbox" / unit
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_bytes(body)
    side = {"kind": f"mailbox.{cmdlet}", "source": "mailbox", "status": status, "body_file": f"{name}.json",
            "stored_encoding": "identity", "received_utc": "2026-12-01T10:00:00Z",
            "context": context or {"cmdlet": cmdlet, "mailbox": "Alice@contoso.com"}}
    (folder / f"{name}.meta.json").write_text(json.dumps(side), encoding="utf-8")


def test_hostile_pages_become_problems_or_nothing(tmp_path: Path) -> None:
    root = tmp_path / "b"
    (root / "data").mkdir(parents=True)
    (root / "data" / "collection.json").write_text("{}", encoding="utf-8")
    good = {"value": [{"Name": "fw", "ForwardTo": ['"x" [SMTP:x@evil.example]']}, "not an object", None]}
    _page(root, "Get-InboxRule/alice", "p000001", json.dumps(good).encode())
    _page(root, "Get-InboxRule/alice", "visible-p000001", b'{"value": []}',
          context={"cmdlet": "Get-InboxRule", "mailbox": "alice@contoso.com", "part": "visible"})
    _page(root, "Get-InboxRule/bob", "p000001", b"\x00\xffnot json")
    _page(root, "Get-InboxRule/carol", "p000001", b"\x00" * 16, status=403)
    (root / "data" / "raw" / "mailbox" / "Get-InboxRule" / "erin").mkdir(parents=True)
    (root / "data" / "raw" / "mailbox" / "Get-InboxRule" / "erin" / "p000001.meta.json").write_text("{", "utf-8")
    with Engine() as engine:
        inv = scan_bundle(root)
        engine.load([inv])
        unread = load_mailbox_state(engine, [inv])
        rows = engine.dicts("SELECT mailbox, part, object FROM mailbox_state")
        pages = engine.dicts("SELECT mailbox, part, objects FROM mailbox_state_pages ORDER BY part NULLS FIRST")
        problems = [p for (p,) in engine.rows("SELECT problem FROM problems WHERE problem LIKE 'mailbox-state%'")]
    assert [(r["mailbox"], json.loads(r["object"])["Name"]) for r in rows] == [("alice@contoso.com", "fw")]
    assert [(p["part"], p["objects"]) for p in pages] == [(None, 1), ("visible", 0)]
    assert len(unread) == 2 and {u.split("/")[-2] for u in unread} == {"bob", "erin"}
    assert len(problems) == 2 and all("that part of the mailbox state is unknown" in p for p in problems)


def test_a_mailbox_named_by_its_alias_gets_all_its_names_and_domains_fall_back_to_addresses() -> None:
    from evkit.report.mailbox_state import _Tenant
    rows = [{"cmdlet": "Get-Mailbox", "obj": {"PrimarySmtpAddress": "Alice@contoso.com", "Alias": "alice",
                                              "ExternalDirectoryObjectId": "0e5c"}}]
    tenant = _Tenant(rows)
    assert {"alice", "0e5c", "alice@contoso.com"} <= tenant.ids("ALICE") == tenant.ids("alice@contoso.com")
    assert tenant.accepted == {"contoso.com"} and not tenant.domains_known
    assert tenant.ids("nobody") == {"nobody"} and tenant.ids(None) == set()
