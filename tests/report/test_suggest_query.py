"""Suggested indicators from real tables: the SQL aggregates feeding report.suggest's rules."""

from __future__ import annotations

from bundlekit import mia, write_bundle
from evkit.report.analysis import attribute
from evkit.report.casefile import load_case
from evkit.report.engine.loader import Engine
from evkit.evidence.inventory import scan_bundle
from evkit.report.rules.suggest import MAX_IDS
from evkit.report.engine.suggestion_queries import suggestions

A, B, C = "alice@contoso.com", "bob@contoso.com", "carol@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-03T00:00:00Z")
ATTACKER_IP = "203.0.113.7"
CASE = f"""
[case]
id = "IR-SUGGEST"
window = ["{WINDOW[0]}", "{WINDOW[1]}"]
[indicators]
accounts = ["{A}"]
ips = ["{ATTACKER_IP}"]
"""
NEW_APP = "4f2c9d8e-1111-4222-9333-444455556666"
OUTLOOK = "00000002-0000-0ff1-ce00-000000000000"
HIJACKED = "4a1c0000-0000-4000-8000-000000000001"       # session ids are GUIDs (placeholders never count)
OWN = {A: "0a000000-0000-4000-8000-000000000001", B: "0b000000-0000-4000-8000-000000000001",
       C: "0c000000-0000-4000-8000-000000000001"}


def _records() -> list[dict]:
    recs = []
    # before the window: every mailbox reads its own mail with Outlook (the baseline)
    for n, box in enumerate((A, B, C) * 5):
        recs.append(mia(f"base-{n:02d}", "2023-05-20T10:00:00", box, AppId=OUTLOOK, session=OWN[box]))
    # in the window: one session reads B and C from two addresses and two client strings
    for n in range(4):
        rec = mia(f"s-{n}", f"2023-06-01T1{n}:00:00", (B, C)[n % 2], ip=("198.51.100.1", "198.51.100.2")[n % 2],
                  session=HIJACKED, client=("Client=OWA", "Client=REST")[n % 2], AppId=OUTLOOK)
        rec["UserId"] = A            # someone other than the owner
        recs.append(rec)
    # an app never seen before reads mail, more often than the ids listed per suggestion
    for n in range(MAX_IDS + 5):
        recs.append(mia(f"app-{n:03d}", "2023-06-02T09:00:00", B, AppId=NEW_APP,
                        session="a0000000-0000-4000-8000-000000000001"))
    # the attacker's own address is an indicator: never suggested
    recs.append(mia("atk-1", "2023-06-02T10:00:00", A, ip=ATTACKER_IP, session="a7000000-0000-4000-8000-000000000001"))
    return recs


def test_suggestions_come_with_their_counts_and_smallest_record_ids(tmp_path):
    bundle = write_bundle(tmp_path / "B1", _records(), window=WINDOW)
    (tmp_path / "case.toml").write_text(CASE, encoding="utf-8")
    case = load_case(tmp_path / "case.toml")
    with Engine() as engine:
        engine.load([scan_bundle(bundle)])
        attribute(engine, case)
        found = {(s.kind, s.value): s for s in suggestions(engine, case)}
    session = found[("session", HIJACKED)]
    assert "touched 2 mailboxes" in session.why
    assert "2 addresses and 2 client strings" in session.why
    assert session.record_count == 4 and session.record_ids == ("s-0", "s-1", "s-2", "s-3")
    for ip in ("198.51.100.1", "198.51.100.2"):
        assert ("ip", ip) not in found          # each reached one mailbox only
    app = found[("app", NEW_APP)]
    assert "never before" in app.why and app.record_count == MAX_IDS + 5
    assert app.record_ids == tuple(f"app-{n:03d}" for n in range(MAX_IDS))   # the smallest, capped
    assert ("app", OUTLOOK) not in found        # in everyday use before the window
    assert ("ip", ATTACKER_IP) not in found     # already an indicator


def test_placeholder_session_ids_never_expand_attribution(tmp_path):
    """An anonymised export writes "n/a" (or zeros, or counters) where session ids were: the
    attacker's record and an owner's record sharing such a value are not one session."""
    recs = []
    for n, placeholder in enumerate(("n/a", "00000000-0000-0000-0000-000000000000", "1")):
        recs.append(mia(f"atk-{n}", "2023-06-02T10:00:00", A, ip=ATTACKER_IP, session=placeholder))
        recs.append(mia(f"own-{n}", "2023-06-02T11:00:00", B, ip="192.0.2.99", session=placeholder))
    bundle = write_bundle(tmp_path / "B1", recs, window=WINDOW)
    (tmp_path / "case.toml").write_text(CASE, encoding="utf-8")
    case = load_case(tmp_path / "case.toml")
    with Engine() as engine:
        engine.load([scan_bundle(bundle)])
        attribute(engine, case)
        attributed = {rid for (rid,) in engine.rows("SELECT id FROM attributed")}
        found = {(s.kind, s.value) for s in suggestions(engine, case)}
    assert {"atk-0", "atk-1", "atk-2"} <= attributed
    assert not {"own-0", "own-1", "own-2"} & attributed
    assert not {v for k, v in found if k == "session"}
