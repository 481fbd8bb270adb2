"""Classification rules (docs/methodology.md §3), each tested on literal records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from evkit.report.rules import classify as c
from evkit.report.rules.classify import Attributed, Classification, ItemRef, Sighting

A = "alice@contoso.com"
T0 = datetime(2023, 6, 1, 12, 0, tzinfo=timezone.utc)


def rec(op="MailItemsAccessed", access=None, items=(), folders=(), ts=T0, mailbox=A, query=None, rid="r1",
        account=None):
    return Attributed(rid, ts, op, mailbox, account or mailbox, "ip 203.0.113.7", access, tuple(items),
                      tuple(folders), query)


def seen(imid, folder="\\Inbox", ts=T0 - timedelta(days=1), subject=None, mailbox=A, rid="s1"):
    return Sighting(mailbox, imid, folder, ts, subject, rid)


@pytest.mark.parametrize("record, expected", [
    (rec(access="Bind", items=[ItemRef("<a>", "\\Inbox")]), ["<a>"]),
    (rec(access="bind", items=[ItemRef("<a>"), ItemRef("<b>")]), ["<a>", "<b>"]),
    (rec(access="Sync", folders=["\\Inbox"]), []),
    (rec(op="Send", items=[ItemRef("<a>")]), []),  # not a bind
    (rec(access="Bind", items=[ItemRef("<a>")], mailbox=None), []),
])
def test_confirmed_by_bind(record, expected):
    assert [e.imid for e in c.confirmed_by_bind(record)] == expected


@pytest.mark.parametrize("op, confirmed", [
    ("Send", True), ("SendAs", True), ("MoveToDeletedItems", True), ("SoftDelete", True),
    ("HardDelete", True), ("Update", True), ("Create", True), ("Move", True),
    ("MailboxLogin", False), ("UserLoggedIn", False), ("New-InboxRule", False),
])
def test_confirmed_by_action(op, confirmed):
    out = c.confirmed_by_action(rec(op=op, items=[ItemRef("<a>")]))
    assert bool(out) is confirmed
    if confirmed:
        assert out[0].classification is Classification.CONFIRMED and out[0].reason == op.lower()


def test_sync_infers_items_in_folder_seen_before_the_sync():
    sync = rec(access="Sync", folders=["\\Inbox"], rid="sync1")
    sightings = [seen("<old>"), seen("<later>", ts=T0 + timedelta(hours=1)), seen("<other>", folder="\\Archive"),
                 seen("<case>", folder="/INBOX/"), seen("<elsewhere>", mailbox="bob@contoso.com")]
    out = c.inferred_by_sync(sync, sightings)
    assert sorted(e.imid for e in out) == ["<case>", "<old>"]
    assert all(e.classification is Classification.INFERRED and "sync1" in e.record_ids for e in out)


def test_bind_record_does_not_infer_by_sync():
    assert c.inferred_by_sync(rec(access="Bind", folders=["\\Inbox"]), [seen("<a>")]) == []


@pytest.mark.parametrize("stat, named, expected", [(None, 3, None), (10, 3, 7), (2, 3, 0), (0, 0, 0)])
def test_unnamed_sync_count(stat, named, expected):
    assert c.unnamed_sync_count(stat, named) == expected


def test_throttle_windows_merge_and_last_24h():
    markers = [(A, T0, "t1"), (A, T0 + timedelta(hours=5), "t2"), (A, T0 + timedelta(days=3), "t3"),
               ("bob@contoso.com", T0, "t4")]
    windows = c.throttle_windows(markers)
    assert [(w.mailbox, w.start, w.end, w.record_ids) for w in windows] == [
        (A, T0, T0 + timedelta(hours=29), ("t1", "t2")),
        (A, T0 + timedelta(days=3), T0 + timedelta(days=4), ("t3",)),
        ("bob@contoso.com", T0, T0 + timedelta(hours=24), ("t4",))]


def test_throttle_infers_only_with_attacker_activity_inside():
    window = c.throttle_windows([(A, T0, "t1")])[0]
    inside = rec(op="UserLoggedIn", ts=T0 + timedelta(hours=2), mailbox=None, account=A, rid="signin")
    outside = rec(op="Send", ts=T0 + timedelta(hours=25), rid="late")
    quiet = c.attacker_activity_in(window, [outside])
    assert c.inferred_by_throttle(quiet, [seen("<a>")]) == []
    busy = c.attacker_activity_in(window, [inside, outside])
    assert busy.activity_ids == ("signin",)
    out = c.inferred_by_throttle(busy, [seen("<a>"), seen("<new>", ts=T0 + timedelta(days=2)),
                                        seen("<after-last-act>", ts=T0 + timedelta(hours=3))])
    # Binds in the window were not logged: mail known by its end counts, not only by the last act
    assert [e.imid for e in out] == ["<a>", "<after-last-act>"]
    assert busy.last_activity == T0 + timedelta(hours=2)
    assert out[0].record_ids == ("t1", "signin")


@pytest.mark.parametrize("query, subject, match", [
    ("invoice", "Invoice 42 overdue", True),
    ('"wire transfer"', "Re: Wire Transfer details", True),
    ("invoice AND payment", "invoice only", False),
    ("subject:invoice", "nothing", False),
    ("invoice", None, False),
    ("", "anything", False),
])
def test_subject_matches(query, subject, match):
    assert c.subject_matches(query, subject) is match


def test_search_flags_matching_items_of_that_mailbox_only():
    search = rec(op="SearchQueryInitiatedExchange", query="invoice", rid="q1")
    out = c.inferred_by_search(search, [seen("<a>", subject="Invoice 1"), seen("<b>", subject="Lunch"),
                                        seen("<c>", subject="invoice", mailbox="bob@contoso.com")])
    assert [e.imid for e in out] == ["<a>"]


def test_combine_prefers_confirmed_and_keeps_other_reasons():
    ev = c.confirmed_by_bind(rec(access="Bind", items=[ItemRef("<a>", "\\Inbox")], rid="b1"))
    ev += c.inferred_by_sync(rec(access="Sync", folders=["\\Inbox"], rid="s9"), [seen("<a>")])
    verdict = c.combine(ev)
    assert verdict.classification is Classification.CONFIRMED
    assert verdict.reason == "bind (also inferred: sync of \\Inbox)"
    assert verdict.record_ids == ("b1", "s1", "s9")


@pytest.mark.parametrize("reasons, expected", [((), Classification.NO_EVIDENCE),
                                               (("auditing off",), Classification.UNKNOWN)])
def test_unknown_or_no_evidence(reasons, expected):
    assert c.unknown_or_no_evidence(seen("<a>"), reasons).classification is expected


def test_rank_is_exhaustive():
    assert sorted(Classification, key=c.rank) == [Classification.NO_EVIDENCE, Classification.UNKNOWN,
                                                  Classification.INFERRED, Classification.CONFIRMED]


@pytest.mark.parametrize("path, key", [("\\Inbox", "\\inbox"), ("/Inbox/", "\\inbox"), ("Inbox", "\\inbox"),
                                       (None, ""), ("\\Inbox\\Sub", "\\inbox\\sub")])
def test_folder_key(path, key):
    assert c.folder_key(path) == key
