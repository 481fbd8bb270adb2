"""The attacker's script: contexts, sign-ins, reads, syncs, searches, sends, rules, tampering.

A script is a small, time-sorted list of events planned up front from the seeded stream; the
pipeline decides what of it is logged. Every context says how an analyst holding only the
day-one case file (one account, one IP) can reach it (`reach`): "day1" when the record
matches the day-one IP or shares a session with a record that does, "suggested:ip:<addr>"
when only a suggested indicator finds it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.activity import Context, Event
from evkit.emulator.scenarios.apps import Consent, sp_id
from evkit.emulator.scenarios.baseline import CI_DESKTOP, CI_OWA, UA_OUTLOOK
from evkit.emulator.scenarios.ids import guid_from
from evkit.emulator.scenarios.model import Mailbox, item_identity

CI_REST = "Client=REST;Client=RESTSystem;;"
UA_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/114.0.0.0 Safari/537.36")
UA_APP = "python-requests/2.31.0"
BAD_APP_NAME = "Mail Sync Tool"


@dataclass
class Attack:
    """The planned attack plus the facts the ground truth and case file need."""

    events: list[Event] = field(default_factory=list)
    day_one_account: str = ""
    day_one_ip: str = ""
    ips: list[str] = field(default_factory=list)
    app_ids: list[str] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hidden_rules: list[tuple[str, str]] = field(default_factory=list)  # (mailbox, rule name): -IncludeHidden only
    consents: list[Consent] = field(default_factory=list)


class Script:
    """Helpers that append attacker events; times are epoch seconds."""

    def __init__(self, seed: object, mailboxes: dict[str, Mailbox], rng: random.Random) -> None:
        self.seed = seed
        self.mbx = mailboxes
        self.rng = rng
        self.attack = Attack()
        self._n = 0

    # -- contexts ----------------------------------------------------------------------
    def context(self, name: str, user: str, ip: str, kind: str, *, logon: int = C.LOGON_OWNER,
                reach: str = "day1", aad: str | None = None, session: str | None = None,
                app_id: str | None = None) -> Context:
        """An attacker access context; kind is owa, desktop or app (Graph + malicious app)."""
        aad = aad or guid_from(self.seed, "attacker-aad", name)
        session = session if session is not None else guid_from(self.seed, "attacker-session", name)
        if kind == "owa":
            ctx = Context(user, logon, ip, CI_OWA, session, C.EXCHANGE_APP, C.OWA_APP,
                          "One Outlook Web", aad, UA_CHROME, "attacker", reach)
        elif kind == "desktop":
            ctx = Context(user, logon, ip, CI_DESKTOP, session, C.EXCHANGE_APP, C.OFFICE_APP,
                          "Microsoft Office", aad, UA_OUTLOOK, "attacker", reach)
        else:
            ctx = Context(user, logon, ip, CI_REST, session, C.GRAPH_APP, app_id or "",
                          BAD_APP_NAME, aad, UA_APP, "attacker", reach)
        a = self.attack
        for value, bag in ((ip, a.ips), (aad, a.session_ids), (session, a.session_ids),
                           (user, a.accounts)):
            if value and value not in bag:
                bag.append(value)
        if kind == "app" and app_id and app_id not in a.app_ids:
            a.app_ids.append(app_id)
        if kind == "app" and UA_APP not in a.user_agents:
            a.user_agents.append(UA_APP)
        return ctx

    def with_ip(self, ctx: Context, ip: str) -> Context:
        """The same session seen from another address (a session whose IP changes)."""
        if ip not in self.attack.ips:
            self.attack.ips.append(ip)
        return Context(ctx.user, ctx.logon_type, ip, ctx.client_info, ctx.session_id, ctx.app_id,
                       ctx.client_app_id, ctx.client_app_name, ctx.aad_session_id, ctx.user_agent,
                       ctx.actor, ctx.reach)

    def _add(self, ev: Event) -> Event:
        if ev.mailbox and ev.mailbox not in self.attack.targets and ev.kind in (
                "bind", "sync", "send", "delete", "search"):
            self.attack.targets.append(ev.mailbox)
        self.attack.events.append(ev)
        return ev

    # -- actions -----------------------------------------------------------------------
    def signin(self, t: int, ctx: Context, resource: str = C.EXCHANGE_APP,
               failed: bool = False) -> None:
        self._add(Event(t, "signin", ctx.user, ctx, data={"resource": resource,
                                                          "failed": failed}))

    def pick(self, mailbox: str, folder: str, n: int, keywords: tuple[str, ...] = ()) -> list[int]:
        """n distinct pre-existing items of a folder, preferring subjects with a keyword."""
        mbx = self.mbx[mailbox]
        ks = list(range(mbx.folders[folder].count))
        self.rng.shuffle(ks)
        if not keywords:
            return ks[:n]
        hits: list[int] = []
        for k in ks:
            subject = item_identity(self.seed, mbx, folder, k)[1].lower()
            if any(w in subject for w in keywords):
                hits.append(k)
                if len(hits) == n:
                    return hits
        chosen = set(hits)
        return hits + [k for k in ks if k not in chosen][:n - len(hits)]

    def bind(self, t: int, mailbox: str, ctx: Context, folder: str, k: int) -> None:
        """Bind one pre-existing item at time t."""
        self._add(Event(t, "bind", mailbox, ctx, folder=folder, k=k))

    def reads(self, t0: int, t1: int, mailbox: str, ctx: Context, folder: str,
              ks: list[int]) -> int:
        """Bind the given items at even, jittered times in [t0, t1); returns the last time."""
        step = max(1, (t1 - t0) // max(1, len(ks)))
        t = t0
        for i, k in enumerate(ks):
            t = t0 + i * step + self.rng.randrange(max(1, step // 2))
            self._add(Event(t, "bind", mailbox, ctx, folder=folder, k=k))
        return t

    def sync(self, t: int, mailbox: str, ctx: Context, folders: tuple[str, ...]) -> None:
        for i, folder in enumerate(folders):
            self._add(Event(t + 5 * i, "sync", mailbox, ctx, folder=folder))

    def search(self, t: int, mailbox: str, ctx: Context, query: str) -> None:
        self._add(Event(t, "search", mailbox, ctx, data={"query": query}))

    def send(self, t: int, mailbox: str, ctx: Context) -> Event:
        return self._add(Event(t, "send", mailbox, ctx))

    def delete(self, t: int, mailbox: str, ctx: Context, sent: Event) -> None:
        """Move a just-sent item to Deleted Items (hiding the send); k resolved at run time."""
        self._add(Event(t, "delete", mailbox, ctx, folder="\\Sent Items", data={"ref": sent}))

    def admin(self, t: int, ctx: Context, cmdlet: str, object_id: str,
              params: list[tuple[str, str]], effect: tuple | None = None,
              tampering: bool = False, mailbox: str = "") -> None:
        """An admin cmdlet run by the attacker; `mailbox` is the UPN it changes, if any."""
        self._add(Event(t, "admin", mailbox, ctx, data={
            "cmdlet": cmdlet, "object": object_id, "params": params, "effect": effect,
            "tampering": tampering}))

    def consent(self, t: int, ctx: Context, app_id: str, app_name: str, scopes: tuple[str, ...]) -> None:
        """The compromised user consents to an app (delegated permissions on Microsoft Graph)."""
        c = Consent(t, app_id, app_name, ctx.user, self.mbx[ctx.user].object_id, scopes)
        self.attack.consents.append(c)
        self._add(Event(t, "consent", ctx.user, ctx, data={
            "consent": c, "sp": sp_id(self.seed, app_id), "resource_sp": sp_id(self.seed, C.GRAPH_APP)}))

    def remove_audit_plan(self, t: int, ctx: Context, target: str) -> None:
        self._add(Event(t, "licence", target, ctx, data={"tampering": True}))

    def done(self) -> Attack:
        self.attack.events.sort(key=lambda e: e.t)
        for i, ev in enumerate(self.attack.events):
            ev.seq = i
        return self.attack
