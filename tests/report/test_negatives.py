"""Honest negatives: missing, unreadable or conflicting evidence never reads as "no activity".

Each test builds the smallest bundle that showed the fault and runs the whole report (PDF
left out where it adds nothing: its rendering is tested in test_pdf.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bundlekit import mia, record, write_bundle
from evkit.report import pipeline

A, B = "alice@contoso.com", "bob@contoso.com"
ATTACKER = "203.0.113.7"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")


def case_toml(window=WINDOW, accounts=(A,), case_id="IR-TEST") -> str:
    quoted = ", ".join(f'"{a}"' for a in accounts)
    return (f'[case]\nid = "{case_id}"\nwindow = ["{window[0]}", "{window[1]}"]\n\n'
            f'[indicators]\naccounts = [{quoted}]\nips = ["{ATTACKER}"]\n')


def report(tmp: Path, bundles: list[Path], monkeypatch, *, toml: str | None = None, pdf: bool = False,
           **options) -> tuple[dict, dict]:
    """Run the report; (findings, items by (mailbox, imid))."""
    if not pdf:
        monkeypatch.setattr(pipeline, "_pdf_renderer", lambda: None)
    case = tmp / "case.toml"
    case.write_text(toml or case_toml(), encoding="utf-8")
    out = tmp / "out"
    result = pipeline.run_report(bundles, case, out, allow_invalid=True, **options)
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"], r["internet_message_id"]): r for r in csv.DictReader(fh)}
    return result.findings, items


def owner_read(rid: str = "m-own", time: str = "2023-05-25T09:00:00", mailbox: str = A) -> dict:
    return mia(rid, time, mailbox, folders={"\\Inbox": ["<o1>"]}, ip="192.0.2.10", session="owner-s")


def mailbox(findings: dict, name: str) -> dict:
    return next(m for m in findings["mailboxes"] if m["mailbox"] == name)


# ---- item 4: an unreadable item list is access with items unknown ------------------------

def test_a_mangled_item_list_makes_the_mailbox_accessed_with_items_unknown(tmp_path, monkeypatch):
    mangled = mia("m-att", "2023-06-02T08:05:00", A, ip=ATTACKER, session="exo-9")
    mangled["Folders"] = "System.Object[]"
    mangled["OperationCount"] = 7
    bundle = write_bundle(tmp_path / "B", [owner_read(), mangled], window=("2023-05-20T00:00:00Z", WINDOW[1]))
    findings, items = report(tmp_path, [bundle], monkeypatch)
    row = mailbox(findings, A)
    assert row["verdict"] == "accessed" and row["accessed_items_unknown"] == 7
    assert "m-att" in row["record_ids"]
    assert findings["summary"]["mailboxes_affected"] == 1
    assert findings["summary"]["accessed_items_unknown"] == 7
    assert items[(A, "<o1>")]["classification"] == "unknown"
    assert any("OperationCount" in p for p in findings["summary"]["points"])
