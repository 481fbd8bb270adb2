"""Merging bundles (same record Id in several copies): the copy used follows a precedence that
never depends on folder names or argument order, conflicts are named with both sources, and
adding a bundle never removes a confirmed item."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path


import scenario_mini as mini
from bundlekit import mgmt_blob, mia, permissive_report_options, write_bundle, write_import_bundle
from evkit.report import pipeline
from evkit.report.outputs import write

OTHER_IP = "192.0.2.99"


def _without_session(rec: dict) -> dict:
    """A SIEM copy: the same record without SessionId / AppAccessContext (fewer fields)."""
    return {k: v for k, v in rec.items() if k not in ("SessionId", "AppAccessContext")}


def _ip_replaced(rec: dict) -> dict:
    """A client copy whose addresses were rewritten: same fields, different content."""
    out = dict(rec)
    for key in ("ClientIPAddress", "ActorIpAddress"):
        if key in out:
            out[key] = OTHER_IP
    return out


def _pool(root: Path) -> dict[str, callable]:
    """Bundle writers by role; each writes one bundle under the folder name it is given."""
    recs = mini.records()
    return {
        "api": lambda path: write_bundle(path, recs, window=mini.EVIDENCE_WINDOW),
        "siem": lambda path: write_import_bundle(path, {"siem.json": mgmt_blob([_without_session(r) for r in recs])}),
        "rewritten": lambda path: write_import_bundle(path, {"client.json": mgmt_blob([_ip_replaced(r) for r in recs])}),
        "both": lambda path: write_import_bundle(path, {"both.json": mgmt_blob(
            [_ip_replaced(_without_session(r)) for r in recs])}),
        "extra": lambda path: write_import_bundle(path, {"extra.json": mgmt_blob([
            mia("m-extra", "2023-06-02T09:00:00", mini.A, folders={"\\Inbox": ["<x1>"]}, ip=mini.ATTACKER_IP)])}),
    }


def _report(tmp: Path, bundles: list[tuple[str, str]], monkeypatch) -> tuple[bytes, dict]:
    """Report over (role, folder name) bundles in the given order: (items.csv, findings)."""
    monkeypatch.setattr(write, "pdf_renderer", lambda: None)
    pool = _pool(tmp)
    paths = []
    for role, name in bundles:
        path = tmp / "bundles" / name
        if not path.exists():
            pool[role](path)
        paths.append(path)
    case = tmp / "case.toml"
    case.write_text(mini.CASE_TOML, encoding="utf-8")
    out = tmp / ("out-" + "-".join(name for _, name in bundles))
    result = pipeline.run_report(paths, case, out, **permissive_report_options())
    return (out / "items.csv").read_bytes(), result.findings


def _confirmed(items: bytes) -> set[tuple[str, str]]:
    rows = csv.DictReader(items.decode().splitlines())
    return {(r["mailbox"], r["internet_message_id"]) for r in rows if r["classification"] == "confirmed"}


def _named_neutral(findings: dict, names: dict[str, str]) -> str:
    """findings.json with each bundle's folder name replaced by its role (names: folder -> role)
    and the lists that name bundles sorted after that replacement."""
    text = json.dumps(findings, sort_keys=True, default=str)
    for name, role in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(name, f"<{role}>")
    doc = json.loads(text)
    for key in ("bundles", "problems", "completeness"):
        doc[key] = sorted(doc[key], key=lambda x: json.dumps(x, sort_keys=True))
    return json.dumps(doc, sort_keys=True)


def test_the_api_copy_outranks_a_siem_copy_whatever_the_folder_names(tmp_path, monkeypatch):
    """A SIEM export without SessionId in a folder that sorts first used to replace the
    collected copy and lose the session expansion (confirmed items dropped)."""
    alone, _ = _report(tmp_path / "a", [("api", "M-collected")], monkeypatch)
    first, findings = _report(tmp_path / "b", [("siem", "A-sentinel"), ("api", "M-collected")], monkeypatch)
    assert _confirmed(first) == _confirmed(alone) and (mini.A, "<o2>") in _confirmed(first)
    # The SIEM copies only lack fields: no record is named as a contradiction; one line per file says
    # how many records lack which fields and that the collected copies are used.
    assert not [p for p in findings["problems"] if "copies with this Id differ" in p], findings["problems"]
    [lacking] = [p for p in findings["problems"] if "differ only in fields one copy lacks" in p]
    assert lacking.startswith("A-sentinel/data/imports/siem.json: ") and "collected from the API" in lacking
    assert "session_id" in lacking and "M-collected/" in lacking, lacking
    fewer = sum(1 for r in mini.records() if {"SessionId", "AppAccessContext"} & set(r))
    assert f"{fewer} record(s) here have copies in M-collected/data/raw/ual/" in lacking, lacking


def test_a_conflicting_copy_is_named_with_both_sources_and_its_items_still_count(tmp_path, monkeypatch):
    alone, _ = _report(tmp_path / "a", [("api", "Z-collected")], monkeypatch)
    both, findings = _report(tmp_path / "b", [("rewritten", "A-client"), ("api", "Z-collected")], monkeypatch)
    assert _confirmed(both) == _confirmed(alone)
    [send] = [p for p in findings["problems"] if p.startswith("Z-collected/") and "record send-1:" in p]
    assert "client_ip_address" in send and "A-client/data/imports/client.json" in send


def test_permuting_and_renaming_bundles_changes_no_output_and_adding_one_removes_no_confirmed_item(
        tmp_path, monkeypatch):
    """Property over random bundle sets (fixed seed, bounded cases)."""
    rng = random.Random(14)
    roles = ["api", "siem", "rewritten", "extra"]
    for case in range(3):
        chosen = rng.sample(roles, rng.randint(1, 3))
        names = {role: f"{rng.choice('ABYZ')}{case}-{role}" for role in chosen}
        renamed = {role: f"{rng.choice('ABYZ')}{case}r-{rng.randint(0, 99)}" for role in chosen}
        order = list(chosen)
        rng.shuffle(order)
        tmp = tmp_path / f"case{case}"
        items_a, find_a = _report(tmp / "a", [(r, names[r]) for r in chosen], monkeypatch)
        items_b, find_b = _report(tmp / "b", [(r, renamed[r]) for r in order], monkeypatch)
        assert items_a == items_b, (chosen, order)
        assert _named_neutral(find_a, {v: k for k, v in names.items()}) == \
            _named_neutral(find_b, {v: k for k, v in renamed.items()})
        added = rng.choice([r for r in roles if r not in chosen])
        items_c, _ = _report(tmp / "c", [(r, names[r]) for r in chosen] + [(added, f"{case}-{added}")],
                             monkeypatch)
        assert _confirmed(items_a) <= _confirmed(items_c), (chosen, added)


def test_a_copy_that_lacks_fields_and_contradicts_is_named_by_what_it_contradicts(tmp_path, monkeypatch):
    _, findings = _report(tmp_path, [("both", "A-both"), ("api", "Z-collected")], monkeypatch)
    [send] = [p for p in findings["problems"] if p.startswith("Z-collected/") and "record send-1:" in p]
    assert "differ in client_ip_address" in send and "session_id" not in send, send
    assert not [p for p in findings["problems"] if "differ only in fields one copy lacks" in p]
