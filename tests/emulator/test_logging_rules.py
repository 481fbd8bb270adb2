"""Microsoft's MailItemsAccessed logging rules (docs/microsoft-365.md §4.3, §5.2, §6.1-§6.4), one by one.

Each test feeds a few hand-made events through the audit pipeline and checks exactly which
records come out: aggregation, de-duplication, throttling, Sync per folder, and licence,
audit-set, bypass, org-switch and ingestion gating.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.activity import Context, Event
from evkit.emulator.scenarios.model import MailboxSpec, make_mailbox
from evkit.emulator.scenarios.pipeline import OrgState, Pipeline
from evkit.emulator.scenarios.records import RecordFactory

T0 = int(datetime(2023, 6, 8, 9, 0, tzinfo=timezone.utc).timestamp())
DOMAIN = "contoso.com"


class Harness:
    """A tiny tenant and a pipeline whose records and outcomes are kept for inspection."""

    def __init__(self, *specs: MailboxSpec, org: OrgState | None = None) -> None:
        rng = random.Random(1)
        specs = specs or (MailboxSpec("alice", "Alice"),)
        self.mbx = {f"{s.alias}@{DOMAIN}": make_mailbox("t", DOMAIN, s, rng) for s in specs}
        self.lines: list[tuple[int, str, str]] = []
        self.outcomes: list[tuple[Event, str]] = []
        self.pipe = Pipeline("t", RecordFactory("tid", "contoso.onmicrosoft.com", self.mbx),
                             self.mbx, org or OrgState(), self, self)

    # sink + observer protocol
    def add(self, t: int, op: str, line: str) -> None:
        self.lines.append((t, op, line))

    def on_record(self, *args, **kwargs) -> None:
        pass

    def on_event(self, ev: Event, outcome: str) -> None:
        self.outcomes.append((ev, outcome))

    def feed(self, *events: Event) -> "Harness":
        for ev in sorted(events, key=lambda e: e.t):
            self.pipe.feed(ev)
        return self

    def finish(self) -> list[dict]:
        self.pipe.finish(max([e.t for e, _ in self.outcomes] + [T0]) + 10)
        return [json.loads(line) for _, _, line in sorted(self.lines, key=lambda x: x[0])]


def ctx(user: str = "alice", ip: str = "203.0.113.7", session: str = "s1", logon: int = 0,
        client: str = "Client=OWA;Action=ViaProxy") -> Context:
    return Context(f"{user}@{DOMAIN}", logon, ip, client, session, C.EXCHANGE_APP, C.OWA_APP,
                   "One Outlook Web", "aad-" + session, "ua")


def bind(t: int, k: int, c: Context | None = None, mailbox: str = "alice",
         folder: str = "\\Inbox") -> Event:
    return Event(t, "bind", f"{mailbox}@{DOMAIN}", c or ctx(), folder=folder, k=k)


def sync(t: int, folder: str, c: Context | None = None, mailbox: str = "alice") -> Event:
    return Event(t, "sync", f"{mailbox}@{DOMAIN}", c or ctx(client="Client=MSExchangeRPC"),
                 folder=folder)


def imids(rec: dict) -> list[str]:
    return [i["InternetMessageId"] for f in rec.get("Folders", []) for i in f.get("FolderItems", [])]


def access(rec: dict) -> str:
    return rec["OperationProperties"][0]["Value"]


def throttled(rec: dict) -> bool:
    return rec["OperationProperties"][1]["Value"] == "True"


# ---- aggregation -------------------------------------------------------------------------
def test_binds_within_two_minutes_of_one_context_make_one_record():
    recs = Harness().feed(bind(T0, 1), bind(T0 + 30, 2), bind(T0 + 119, 3)).finish()
    assert len(recs) == 1
    assert recs[0]["OperationCount"] == 3 and len(imids(recs[0])) == 3
    assert recs[0]["CreationTime"] == "2023-06-08T09:00:00"


def test_bind_after_two_minutes_starts_a_new_record():
    recs = Harness().feed(bind(T0, 1), bind(T0 + 60, 2), bind(T0 + 120, 3)).finish()
    assert [r["OperationCount"] for r in recs] == [2, 1]
    assert recs[1]["CreationTime"] == "2023-06-08T09:02:00"


def test_binds_of_different_contexts_in_the_same_window_are_separate_records():
    h = Harness().feed(bind(T0, 1), bind(T0 + 10, 2, ctx(ip="198.51.100.23")),
                       bind(T0 + 20, 3, ctx(session="s2")))
    recs = h.finish()
    assert len(recs) == 3
    assert sorted((r["ClientIPAddress"], r["SessionId"]) for r in recs) == [
        ("198.51.100.23", "s1"), ("203.0.113.7", "s1"), ("203.0.113.7", "s2")]


def test_items_from_several_folders_share_one_aggregated_record():
    recs = Harness().feed(bind(T0, 1), bind(T0 + 5, 7, folder="\\Archive"), bind(T0 + 9, 2)).finish()
    assert len(recs) == 1
    assert [f["Path"] for f in recs[0]["Folders"]] == ["\\Inbox", "\\Archive"]
    assert [len(f["FolderItems"]) for f in recs[0]["Folders"]] == [2, 1]


# ---- de-duplication ----------------------------------------------------------------------
def test_same_item_same_context_within_an_hour_is_logged_once():
    h = Harness().feed(bind(T0, 1), bind(T0 + 600, 1), bind(T0 + 3599, 1))
    recs = h.finish()
    assert [len(imids(r)) for r in recs] == [1]
    assert [o for _, o in h.outcomes] == ["logged", "dedup", "dedup"]


def test_same_item_logged_again_after_an_hour():
    recs = Harness().feed(bind(T0, 1), bind(T0 + 3600, 1)).finish()
    assert len(recs) == 2 and imids(recs[0]) == imids(recs[1])


@pytest.mark.parametrize("other", [ctx(ip="198.51.100.23"), ctx(session="s9"),
                                   ctx(client="Client=REST;Client=RESTSystem;;"),
                                   ctx(logon=2)])
def test_a_differing_context_field_gives_a_new_record_for_the_same_item(other):
    recs = Harness().feed(bind(T0, 1), bind(T0 + 300, 1, other)).finish()
    assert len(recs) == 2 and imids(recs[0]) == imids(recs[1])


def test_duplicate_within_aggregation_window_counts_once():
    recs = Harness().feed(bind(T0, 1), bind(T0 + 10, 1), bind(T0 + 20, 2)).finish()
    assert len(recs) == 1 and recs[0]["OperationCount"] == 2 and len(imids(recs[0])) == 2


# ---- Sync --------------------------------------------------------------------------------
def test_sync_is_one_record_per_folder_without_items():
    recs = Harness().feed(sync(T0, "\\Inbox"), sync(T0 + 1, "\\Archive"),
                          sync(T0 + 2, "\\Sent Items")).finish()
    assert [access(r) for r in recs] == ["Sync"] * 3
    assert [[f["Path"] for f in r["Folders"]] for r in recs] == [["\\Inbox"], ["\\Archive"],
                                                                 ["\\Sent Items"]]
    assert all("FolderItems" not in f for r in recs for f in r["Folders"])
    assert all(r["OperationCount"] == 1 for r in recs)


def test_sync_of_same_folder_same_context_is_filtered_for_an_hour_but_not_across_contexts():
    desk = ctx(client="Client=MSExchangeRPC")
    other = ctx(client="Client=MSExchangeRPC", ip="198.51.100.23", session="s2")
    recs = Harness().feed(sync(T0, "\\Inbox", desk), sync(T0 + 1800, "\\Inbox", desk),
                          sync(T0 + 1900, "\\Inbox", other), sync(T0 + 3600, "\\Inbox", desk)).finish()
    assert [(r["CreationTime"][11:], r["ClientIPAddress"]) for r in recs] == [
        ("09:00:00", "203.0.113.7"), ("09:31:40", "198.51.100.23"), ("10:00:00", "203.0.113.7")]


# ---- throttling --------------------------------------------------------------------------
def _flood(h: Harness, records: int, start: int) -> int:
    """Two contexts alternate binds 61 s apart: each bind opens a record. Returns next time."""
    a, b = ctx(session="fa"), ctx(session="fb")
    t = start
    for i in range(records):
        h.feed(bind(t, 10000 + i, a if i % 2 == 0 else b))
        t += 61
    return t


def test_more_than_1000_records_in_24h_throttles_binds_for_24h():
    h = Harness()
    t = _flood(h, C.THROTTLE_LIMIT, T0)
    assert t - T0 < 86400
    h.feed(bind(t, 1, ctx(session="late")))                  # the 1001st record: throttled
    h.feed(bind(t + 5, 2, ctx(session="late")))              # inside the window: not logged
    h.feed(bind(t + 3600, 3, ctx(session="other")))
    h.feed(sync(t + 7200, "\\Inbox"))                        # Sync is never throttled
    h.feed(bind(t + 86399, 4, ctx(session="late")))          # last second of the window
    h.feed(bind(t + 86400, 5, ctx(session="late")))          # window over: logged again
    recs = h.finish()
    flagged = [r for r in recs if throttled(r)]
    assert len(flagged) == 1
    assert imids(flagged[0]) and flagged[0]["OperationCount"] == 1
    start = flagged[0]["CreationTime"]
    after = [r for r in recs if r["CreationTime"] > start]
    assert [access(r) for r in after] == ["Sync", "Bind"]
    assert not throttled(after[1])
    outcomes = [o for e, o in h.outcomes if e.k in (2, 3, 4)]
    assert outcomes == ["throttled", "throttled", "throttled"]


def test_1000_records_in_24h_do_not_throttle():
    h = Harness()
    t = _flood(h, C.THROTTLE_LIMIT - 1, T0)
    h.feed(bind(t, 1, ctx(session="late")))                  # the 1000th: fine
    recs = h.finish()
    assert len(recs) == C.THROTTLE_LIMIT and not any(throttled(r) for r in recs)


def test_records_older_than_24h_do_not_count_towards_throttling():
    h = Harness()
    t = _flood(h, 600, T0)
    t = _flood(h, 600, t + 86400)
    recs = h.finish()
    assert len(recs) == 1200 and not any(throttled(r) for r in recs)


# ---- gating ------------------------------------------------------------------------------
def test_e3_mailbox_logs_mail_items_accessed_from_the_expansion_date():
    h = Harness(MailboxSpec("carol", "Carol", licence="E3"))
    c = ctx("carol")
    after = int(C.EXPANSION_DATE.timestamp())
    h.feed(bind(after - 1, 1, c, "carol"), bind(after, 2, c, "carol"))
    recs = h.finish()
    assert [(r["Operation"], r["CreationTime"]) for r in recs] == [
        ("MailItemsAccessed", C.EXPANSION_DATE.strftime("%Y-%m-%dT%H:%M:%S"))]
    assert [o for _, o in h.outcomes] == ["licence-lacks-advanced-auditing", "logged"]


def test_e3_mailbox_logs_no_mail_items_accessed_before_the_expansion():
    h = Harness(MailboxSpec("carol", "Carol", licence="E3"))
    c = ctx("carol")
    h.feed(bind(T0, 1, c, "carol"), Event(T0 + 60, "send", f"carol@{DOMAIN}", c))
    assert h.finish() == []
    assert [o for _, o in h.outcomes] == ["licence-lacks-advanced-auditing"] * 2


def test_unlicensed_shared_mailbox_logs_reads_never_but_send_as_yes():
    h = Harness(MailboxSpec("alice", "Alice"),
                MailboxSpec("finance", "Finance", kind="shared", licence=None))
    d = ctx(logon=C.LOGON_DELEGATE)
    after = int(C.EXPANSION_DATE.timestamp()) + 10
    h.feed(bind(T0, 1, d, "finance"), Event(T0 + 60, "send", f"finance@{DOMAIN}", d),
           bind(after, 2, d, "finance"))
    recs = h.finish()
    assert [r["Operation"] for r in recs] == ["SendAs"]
    assert recs[0]["SendAsUserSmtp"] == f"finance@{DOMAIN}" and recs[0]["LogonType"] == 2


def test_removing_the_advanced_auditing_plan_stops_mail_items_accessed_at_once():
    h = Harness(MailboxSpec("alice", "Alice", is_admin=True), MailboxSpec("erin", "Erin"))
    c = ctx(logon=C.LOGON_DELEGATE)
    h.feed(bind(T0, 1, c, "erin"),
           Event(T0 + 300, "licence", f"erin@{DOMAIN}", ctx(), data={"tampering": True}),
           bind(T0 + 301, 2, c, "erin"))
    recs = h.finish()
    assert [r["Operation"] for r in recs] == ["MailItemsAccessed", "Change user license."]
    assert C.ADVANCED_AUDITING_PLAN in recs[1]["ModifiedProperties"][0]["NewValue"]
    assert h.mbx[f"erin@{DOMAIN}"].advanced_auditing is False


def test_action_missing_from_the_logon_types_audit_set_is_not_logged():
    custom = tuple(a for a in C.OWNER_DEFAULT if a != "MailItemsAccessed")
    h = Harness(MailboxSpec("alice", "Alice"), MailboxSpec("dave", "Dave", owner_set=custom))
    owner, delegate = ctx("dave"), ctx("alice", logon=C.LOGON_DELEGATE)
    h.feed(bind(T0, 1, owner, "dave"), bind(T0 + 10, 2, delegate, "dave"),
           Event(T0 + 200, "send", f"dave@{DOMAIN}", owner))
    recs = h.finish()
    assert [(r["Operation"], r["LogonType"]) for r in recs] == [("MailItemsAccessed", 2),
                                                               ("Send", 0)]
    assert h.outcomes[0][1] == "audit-set-lacks-MailItemsAccessed"
    assert h.mbx[f"dave@{DOMAIN}"].default_audit_set == ["Admin", "Delegate"]


def test_search_is_logged_only_where_search_query_initiated_is_audited():
    h = Harness(MailboxSpec("alice", "Alice", search_audited=True), MailboxSpec("bob", "Bob"))
    h.feed(Event(T0, "search", f"alice@{DOMAIN}", ctx(), data={"query": "invoice"}),
           Event(T0 + 5, "search", f"bob@{DOMAIN}", ctx("bob"), data={"query": "wire"}))
    recs = h.finish()
    assert [(r["Operation"], r["QueryText"], r["RecordType"]) for r in recs] == [
        ("SearchQueryInitiatedExchange", "invoice", 101)]
    assert h.outcomes[1][1] == "audit-set-lacks-SearchQueryInitiated"


def test_bypassed_account_logs_no_mailbox_action_anywhere_but_still_signs_in():
    h = Harness(MailboxSpec("svc", "Svc", bypass=True), MailboxSpec("bob", "Bob"))
    svc = ctx("svc")
    h.feed(Event(T0, "signin", f"svc@{DOMAIN}", svc), bind(T0 + 10, 1, svc, "svc"),
           bind(T0 + 20, 2, ctx("svc", logon=C.LOGON_DELEGATE), "bob"),
           Event(T0 + 30, "send", f"svc@{DOMAIN}", svc), bind(T0 + 40, 3, ctx("bob"), "bob"))
    recs = h.finish()
    assert [(r["Operation"], r["UserId"]) for r in recs] == [
        ("UserLoggedIn", f"svc@{DOMAIN}"), ("MailItemsAccessed", f"bob@{DOMAIN}")]
    assert [o for _, o in h.outcomes[1:4]] == ["bypass"] * 3


def test_enabling_bypass_is_itself_logged_and_hides_what_follows():
    h = Harness(MailboxSpec("alice", "Alice", is_admin=True))
    effect = ("bypass", f"alice@{DOMAIN}", True)
    h.feed(bind(T0, 1), Event(T0 + 300, "admin", f"alice@{DOMAIN}", ctx(), data={
        "cmdlet": "Set-MailboxAuditBypassAssociation", "object": "alice",
        "params": [("Identity", "alice"), ("AuditBypassEnabled", "True")], "effect": effect}),
        bind(T0 + 400, 2))
    recs = h.finish()
    assert [r["Operation"] for r in recs] == ["MailItemsAccessed", "Set-MailboxAuditBypassAssociation"]
    assert recs[1]["RecordType"] == 1 and recs[1]["ClientIP"].startswith("203.0.113.7:")
    assert h.pipe.changed_at[("bypass", f"alice@{DOMAIN}")] == T0 + 300


def test_org_audit_disabled_stops_mailbox_actions_not_sign_ins():
    h = Harness(org=OrgState(audit_disabled=True))
    h.feed(Event(T0, "signin", f"alice@{DOMAIN}", ctx()), bind(T0 + 1, 1),
           Event(T0 + 2, "send", f"alice@{DOMAIN}", ctx()), sync(T0 + 3, "\\Inbox"))
    recs = h.finish()
    assert [r["Operation"] for r in recs] == ["UserLoggedIn"]
    assert {o for _, o in h.outcomes[1:]} == {"org-audit-disabled"}


def test_ingestion_off_records_nothing_at_all():
    h = Harness(org=OrgState(ingestion=False))
    h.feed(Event(T0, "signin", f"alice@{DOMAIN}", ctx()), bind(T0 + 1, 1))
    assert h.finish() == []
    assert {o for _, o in h.outcomes} == {"ingestion-off"}
