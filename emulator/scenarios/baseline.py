"""Owner baselines: what ordinary users do in their own mailboxes, hour by hour.

Desktop Outlook users sync folders (one Sync record per folder, hourly for the Inbox); OWA and
mobile users bind individual messages; everyone sends, some search, each client signs in
once a day. Delegates of shared mailboxes read and send-as there. All randomness comes from the
seeded stream, drawn in a fixed order, so the same seed gives the same activity.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.activity import Context, Event
from evkit.emulator.scenarios.ids import guid_from
from evkit.emulator.scenarios.model import Mailbox

UA_EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/113.0.0.0 Safari/537.36 Edg/113.0.1774.57")
UA_OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.16327; Pro)"
UA_IOS = "Outlook-iOS/2.0"
CI_DESKTOP = "Client=MSExchangeRPC"
CI_OWA = "Client=OWA;Action=ViaProxy"
CI_MOBILE = "Client=OutlookService;Outlook-iOS/2.0;"


@dataclass(slots=True)
class Profile:
    """One owner's habits, fixed at tenant creation."""

    desktop: bool            # primary client Outlook desktop (Sync) rather than OWA (Bind)
    mobile: bool
    office_ip: str
    home_ip: str
    mobile_ip: str
    reads_per_hour: float
    sends_per_day: float
    searches_per_day: float


def make_profile(rng: random.Random, index: int) -> Profile:
    return Profile(
        desktop=rng.random() < 0.6, mobile=rng.random() < 0.7,
        office_ip=f"192.0.2.{10 + index % 4}",
        home_ip=f"100.{64 + index % 60}.{(index * 7) % 250 + 1}.{(index * 13) % 250 + 2}",
        mobile_ip=f"100.{80 + index % 40}.{(index * 11) % 250 + 1}.{(index * 17) % 250 + 2}",
        reads_per_hour=rng.uniform(3.0, 9.0), sends_per_day=rng.uniform(3.0, 10.0),
        searches_per_day=rng.uniform(0.0, 3.0))


class OwnerBaseline:
    """Generates the owners' (and shared-mailbox delegates') events for one hour at a time."""

    def __init__(self, seed: object, mailboxes: list[Mailbox], profiles: dict[str, Profile],
                 delegates: dict[str, str], rng: random.Random, scale: float = 1.0) -> None:
        self.seed = seed
        self.users = [m for m in mailboxes if m.kind == "user"]
        self.shared = [m for m in mailboxes if m.kind == "shared"]
        self.profiles = profiles
        self.delegates = delegates          # shared mailbox upn -> delegate upn
        self.rng = rng
        self.scale = scale
        self._day = -1
        self._ctx: dict[tuple[str, str], Context] = {}
        self._signed: set[tuple[str, str]] = set()

    def _context(self, day: int, mbx: Mailbox, client: str, user: str | None = None) -> Context:
        key = (mbx.upn, client if user is None else f"{client}:{user}")
        ctx = self._ctx.get(key)
        if ctx is not None:
            return ctx
        actor = user or mbx.upn
        prof = self.profiles[actor]
        sid = guid_from(self.seed, "session", actor, day, client)
        aad = guid_from(self.seed, "aad", actor, day, client)
        logon = C.LOGON_OWNER if user is None else C.LOGON_DELEGATE
        if client == "desktop":
            ctx = Context(actor, logon, prof.office_ip, CI_DESKTOP, sid, C.EXCHANGE_APP,
                          C.OFFICE_APP, "Microsoft Office", aad, UA_OUTLOOK)
        elif client == "owa":
            ctx = Context(actor, logon, prof.office_ip if day % 7 < 5 else prof.home_ip, CI_OWA,
                          sid, C.EXCHANGE_APP, C.OWA_APP, "One Outlook Web", aad, UA_EDGE)
        else:
            ctx = Context(actor, logon, prof.mobile_ip, CI_MOBILE, sid, C.EXCHANGE_APP,
                          C.OUTLOOK_MOBILE_APP, "Outlook Mobile", aad, UA_IOS)
        self._ctx[key] = ctx
        return ctx

    def events(self, hour: int) -> list[Event]:
        """Every baseline event in [hour, hour + 3600), unsorted."""
        day = hour // 86400
        if day != self._day:
            self._day, self._ctx, self._signed = day, {}, set()
        weekday = (day + 3) % 7 < 5          # 1970-01-01 was a Thursday
        hod = (hour % 86400) // 3600
        work = weekday and 8 <= hod < 18
        evening = 18 <= hod < 23
        rng = self.rng
        out: list[Event] = []
        for mbx in self.users:
            prof = self.profiles[mbx.upn]
            # mail keeps arriving, most of it in working hours
            arrivals = _poisson(rng, (4.0 if work else 0.6) * self.scale)
            if arrivals:
                out.append(Event(hour + rng.randrange(3600), "arrive", mbx.upn,
                                 folder="\\Inbox", data={"n": arrivals}))
            if work:
                self._work_hour(hour, day, hod, mbx, prof, out)
            elif evening and prof.mobile and rng.random() < 0.5 * self.scale:
                ctx = self._context(day, mbx, "mobile")
                self._signin(hour + rng.randrange(60), mbx, ctx, "mobile", out)
                for _ in range(rng.randint(1, 4)):
                    out.append(self._read(hour + rng.randrange(60, 3600), mbx, ctx, "\\Inbox"))
        if work:
            for shared in self.shared:
                delegate = self.delegates.get(shared.upn)
                if delegate is None:
                    continue
                ctx = self._context(day, shared, "owa", user=delegate)
                for _ in range(_poisson(rng, 1.5 * self.scale)):
                    out.append(self._read(hour + rng.randrange(3600), shared, ctx, "\\Inbox"))
                if rng.random() < 0.2 * self.scale:
                    out.append(Event(hour + rng.randrange(3600), "send", shared.upn, ctx))
        return out

    def _work_hour(self, hour: int, day: int, hod: int, mbx: Mailbox, prof: Profile,
                   out: list[Event]) -> None:
        rng = self.rng
        client = "desktop" if prof.desktop else "owa"
        ctx = self._context(day, mbx, client)
        start = hour + rng.randrange(0, 600)
        self._signin(start, mbx, ctx, client, out)
        if prof.desktop:
            folders = ("\\Inbox", "\\Sent Items", "\\Drafts", "\\Archive") if hod == 8 else ("\\Inbox",)
            for i, folder in enumerate(folders):
                out.append(Event(start + 30 + i * 3, "sync", mbx.upn, ctx, folder=folder))
            binds = _poisson(rng, 1.0 * self.scale)          # online-mode opens, search hits
        else:
            binds = _poisson(rng, prof.reads_per_hour * self.scale)
        for _ in range(binds):
            folder = "\\Inbox" if rng.random() < 0.85 else "\\Archive"
            out.append(self._read(hour + rng.randrange(3600), mbx, ctx, folder))
        if rng.random() < prof.sends_per_day / 10 * self.scale:
            out.append(Event(hour + rng.randrange(3600), "send", mbx.upn, ctx))
        if rng.random() < prof.searches_per_day / 10:
            out.append(Event(hour + rng.randrange(3600), "search", mbx.upn, ctx,
                             data={"query": rng.choice(("budget", "meeting", "contract", "travel"))}))

    def _read(self, t: int, mbx: Mailbox, ctx: Context, folder: str) -> Event:
        """A bind of a recent item (most reads are of new mail)."""
        count = mbx.folders[folder].count
        back = int(self.rng.expovariate(1 / 25.0))
        return Event(t, "bind", mbx.upn, ctx, folder=folder, k=max(0, count - 1 - back))

    def _signin(self, t: int, mbx: Mailbox, ctx: Context, client: str, out: list[Event]) -> None:
        if (mbx.upn, client) in self._signed:
            return
        self._signed.add((mbx.upn, client))
        out.append(Event(t, "signin", mbx.upn, ctx, data={"resource": C.EXCHANGE_APP}))


def _poisson(rng: random.Random, lam: float) -> int:
    """Small-lambda Poisson draw (Knuth), deterministic from the stream."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
