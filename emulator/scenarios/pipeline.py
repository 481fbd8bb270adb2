"""The audit pipeline: Microsoft's logging rules applied to raw activity, in time order.

Rules (docs/microsoft-365.md §4.3, §5.2-§5.3, §6.1-§6.4; constants in constants.py):
- gating, checked in this order, first failure wins (the reason goes to the ground truth):
  ingestion off (nothing is recorded) -> org AuditDisabled (no mailbox action) -> audit bypass
  of the acting account (no mailbox action by it) -> licence (premium actions need the
  mailbox's M365_ADVANCED_AUDITING plan before EXPANSION_DATE, any E3/E5 licence after) ->
  audit set (the action must be in AuditOwner/AuditDelegate/AuditAdmin for the logon type).
  Sign-ins are subject to ingestion only; admin cmdlets to ingestion only.
- Bind: all binds of one access context (mailbox, user, logon type, IP, client string,
  session, app) within 2 minutes of the first form one record (CreationTime = first bind);
  an item already logged in the same context and folder within the last hour is not logged
  again (the de-dup clock starts when it is logged).
- Sync: one record per folder per sync, never listing items; the same folder synced again in
  the same context within the hour is filtered; different contexts each get their record.
- Throttling: when a mailbox already has THROTTLE_LIMIT MailItemsAccessed records in the
  trailing 24 h, the next Bind record is written with IsThrottled=True (only that bind in it)
  and no Bind record is generated for the mailbox for the next 24 h. Sync records are counted
  but never throttled.
Handlers mutate tenant state (sent items, moves, audit settings) after logging, so a tampering
event is itself logged under the settings in force before it.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections import deque
from typing import Any, Callable, Protocol

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.activity import Context, Event
from evkit.emulator.scenarios.ids import GuidStream, digest
from evkit.emulator.scenarios.model import Mailbox, audit_set, item_identity
from evkit.emulator.scenarios.records import RecordFactory, creation_time

_EXPANSION = int(C.EXPANSION_DATE.timestamp())
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


class Observer(Protocol):
    """Receives what was logged and what was not (the ground truth listens here)."""

    def on_record(self, t: int, rid: str, op: str, mailbox: str, ctx: Context | None,
                  access: str, items: list[tuple[str, int]], extra: dict[str, Any]) -> None: ...

    def on_event(self, ev: Event, outcome: str) -> None: ...


class Sink(Protocol):
    def add(self, t: int, op: str, line: str) -> None: ...


class OrgState:
    """Tenant-wide switches (Get-OrganizationConfig / Get-AdminAuditLogConfig)."""

    def __init__(self, audit_disabled: bool = False, ingestion: bool = True) -> None:
        self.audit_disabled = audit_disabled
        self.ingestion = ingestion


class Pipeline:
    """Feeds events in time order; emits records to the sink and outcomes to the observer."""

    def __init__(self, seed: object, factory: RecordFactory, mailboxes: dict[str, Mailbox],
                 org: OrgState, sink: Sink, observer: Observer) -> None:
        self.seed = seed
        self.f = factory
        self.mbx = mailboxes
        self.org = org
        self.sink = sink
        self.obs = observer
        self.ids = GuidStream(seed)
        self._buckets: dict[tuple[str, Context], list[Any]] = {}
        self._closing: list[tuple[int, int, str, Context]] = []
        self._dedup: dict[tuple, int] = {}
        self._sync_dedup: dict[tuple, int] = {}
        self._recent: dict[str, deque[int]] = {}
        self.throttled_until: dict[str, int] = {}
        self._seq = 0
        self._last_prune = 0
        self.now = 0
        self.changed_at: dict[tuple[str, str], int] = {}
        self._handlers: dict[str, Callable[[Event], None]] = {
            "arrive": self._arrive, "bind": self._bind, "sync": self._sync, "send": self._send,
            "delete": self._delete, "search": self._search, "signin": self._signin,
            "admin": self._admin, "licence": self._licence, "consent": self._consent,
        }

    # ---- gating ------------------------------------------------------------------------
    def gate(self, action: str, mbx: Mailbox, ctx: Context, t: int) -> str | None:
        """Why a mailbox action would not be logged now, or None when it is logged."""
        if not self.org.ingestion:
            return "ingestion-off"
        if self.org.audit_disabled:
            return "org-audit-disabled"
        actor = self.mbx.get(ctx.user)
        if actor is not None and actor.bypass:
            return "bypass"
        if action in C.PREMIUM_ACTIONS:
            covered = mbx.advanced_auditing or (t >= _EXPANSION and mbx.licence in ("E5", "E3"))
            if not covered:
                return "licence-lacks-advanced-auditing"
        if action not in audit_set(mbx, ctx.logon_type, t >= _EXPANSION):
            return f"audit-set-lacks-{action}"
        return None

    # ---- driving -----------------------------------------------------------------------
    def feed(self, ev: Event) -> None:
        """Process one event; events must arrive in non-decreasing time."""
        self.advance(ev.t)
        self._handlers[ev.kind](ev)

    def advance(self, t: int) -> None:
        """Close every Bind aggregation that ends at or before t."""
        self.now = t
        closing = self._closing
        while closing and closing[0][0] <= t:
            _, _, upn, ctx = heapq.heappop(closing)
            bucket = self._buckets.pop((upn, ctx), None)
            if bucket is not None:
                self._emit_bind(upn, ctx, bucket, throttled=False)
        if t - self._last_prune >= 3600:
            self._prune(t)

    def finish(self, t: int) -> None:
        """Flush every open aggregation (end of the scenario)."""
        self.advance(t + C.AGGREGATION_SECONDS)
        for (upn, ctx), bucket in sorted(self._buckets.items(), key=lambda kv: kv[1][0]):
            self._emit_bind(upn, ctx, bucket, throttled=False)
        self._buckets.clear()

    def _prune(self, t: int) -> None:
        self._last_prune = t
        limit = t - C.DEDUP_SECONDS
        self._dedup = {k: v for k, v in self._dedup.items() if v > limit}
        self._sync_dedup = {k: v for k, v in self._sync_dedup.items() if v > limit}

    def _emit(self, t: int, op: str, rec: dict[str, Any]) -> None:
        self.sink.add(t, op, _DUMPS(rec))

    def _count_record(self, upn: str, t: int) -> int:
        q = self._recent.get(upn)
        if q is None:
            q = self._recent[upn] = deque()
        while q and q[0] <= t - C.THROTTLE_SECONDS:
            q.popleft()
        q.append(t)
        return len(q)

    # ---- handlers ----------------------------------------------------------------------
    def _arrive(self, ev: Event) -> None:
        self.mbx[ev.mailbox].folders[ev.folder].count += ev.data.get("n", 1)

    def _bind(self, ev: Event) -> None:
        mbx, ctx, t = self.mbx[ev.mailbox], ev.ctx, ev.t
        reason = self.gate("MailItemsAccessed", mbx, ctx, t)
        if reason:
            self.obs.on_event(ev, reason)
            return
        if self.throttled_until.get(mbx.upn, 0) > t:
            self.obs.on_event(ev, "throttled")
            return
        key = (mbx.upn, ctx, ev.folder, ev.k)
        last = self._dedup.get(key)
        if last is not None and t - last < C.DEDUP_SECONDS:
            self.obs.on_event(ev, "dedup")
            return
        bkey = (mbx.upn, ctx)
        bucket = self._buckets.get(bkey)
        if bucket is None:
            q = self._recent.get(mbx.upn)
            if q is not None:
                while q and q[0] <= t - C.THROTTLE_SECONDS:
                    q.popleft()
            if q is not None and len(q) >= C.THROTTLE_LIMIT:
                self._dedup[key] = t
                self.obs.on_event(ev, "logged")
                self._emit_bind(mbx.upn, ctx, [t, {ev.folder: [ev.k]}, 1], throttled=True)
                self.throttled_until[mbx.upn] = t + C.THROTTLE_SECONDS
                q.clear()
                return
            self._count_record(mbx.upn, t)
            bucket = self._buckets[bkey] = [t, {}, 0]
            self._seq += 1
            heapq.heappush(self._closing, (t + C.AGGREGATION_SECONDS, self._seq, mbx.upn, ctx))
        items = bucket[1].get(ev.folder)
        if items is None:
            items = bucket[1][ev.folder] = []
        items.append(ev.k)
        bucket[2] += 1
        self._dedup[key] = t
        self.obs.on_event(ev, "logged")

    def _emit_bind(self, upn: str, ctx: Context, bucket: list[Any], throttled: bool) -> None:
        t0, folders, count = bucket
        mbx = self.mbx[upn]
        rid = self.ids.next()
        shaped = []
        named: list[tuple[str, int]] = []
        for path, ks in folders.items():
            shaped.append((mbx.folders[path].record_path, mbx.folders[path].folder_id,
                           [item_identity(self.seed, mbx, path, k) for k in ks]))
            named.extend((path, k) for k in ks)
        self.sink.add(t0, "MailItemsAccessed", self.f.mail_items_accessed_line(
            t0, rid, mbx, ctx, "Bind", shaped, count, throttled))
        self.obs.on_record(t0, rid, "MailItemsAccessed", upn, ctx, "Bind", named,
                           {"throttled": throttled})

    def _sync(self, ev: Event) -> None:
        mbx, ctx, t = self.mbx[ev.mailbox], ev.ctx, ev.t
        reason = self.gate("MailItemsAccessed", mbx, ctx, t)
        if reason:
            self.obs.on_event(ev, reason)
            return
        key = (mbx.upn, ctx, ev.folder)
        last = self._sync_dedup.get(key)
        if last is not None and t - last < C.DEDUP_SECONDS:
            self.obs.on_event(ev, "dedup")
            return
        self._sync_dedup[key] = t
        if self.throttled_until.get(mbx.upn, 0) <= t:
            self._count_record(mbx.upn, t)
        folder = mbx.folders[ev.folder]
        rid = self.ids.next()
        self.sink.add(t, "MailItemsAccessed", self.f.mail_items_accessed_line(
            t, rid, mbx, ctx, "Sync", [(folder.record_path, folder.folder_id, [])], 1, False))
        self.obs.on_event(ev, "logged")
        self.obs.on_record(t, rid, "MailItemsAccessed", mbx.upn, ctx, "Sync", [],
                           {"folder": ev.folder, "present": folder.count,
                            "moved_out": frozenset(folder.moved_out)})

    def _send(self, ev: Event) -> None:
        mbx, ctx, t = self.mbx[ev.mailbox], ev.ctx, ev.t
        folder = mbx.folders["\\Sent Items"]
        k = folder.count
        folder.count += 1
        ev.folder, ev.k = "\\Sent Items", k
        op = "Send" if ctx.logon_type != C.LOGON_DELEGATE else "SendAs"
        reason = self.gate(op, mbx, ctx, t)
        if reason:
            self.obs.on_event(ev, reason)
            return
        rid = self.ids.next()
        item = item_identity(self.seed, mbx, "\\Sent Items", k)
        self.sink.add(t, op, self.f.send_line(t, rid, op, mbx, ctx, item,
                                              _store_id(mbx.upn, "\\Sent Items", k)))
        self.obs.on_event(ev, "logged")
        self.obs.on_record(t, rid, op, mbx.upn, ctx, "", [("\\Sent Items", k)], {})

    def _delete(self, ev: Event) -> None:
        mbx, ctx, t = self.mbx[ev.mailbox], ev.ctx, ev.t
        if ev.k < 0 and "ref" in ev.data:
            ev.k = ev.data["ref"].k
        src = mbx.folders[ev.folder]
        src.moved_out.add(ev.k)
        mbx.folders["\\Deleted Items"].moved_in.append((ev.folder, ev.k))
        reason = self.gate("MoveToDeletedItems", mbx, ctx, t)
        if reason:
            self.obs.on_event(ev, reason)
            return
        rid = self.ids.next()
        item = item_identity(self.seed, mbx, ev.folder, ev.k)
        rec = self.f.move_to_deleted(t, rid, mbx, ctx, ev.folder, item,
                                     _store_id(mbx.upn, ev.folder, ev.k))
        self._emit(t, "MoveToDeletedItems", rec)
        self.obs.on_event(ev, "logged")
        self.obs.on_record(t, rid, "MoveToDeletedItems", mbx.upn, ctx, "",
                           [(ev.folder, ev.k)], {})

    def _search(self, ev: Event) -> None:
        mbx, ctx, t = self.mbx[ev.mailbox], ev.ctx, ev.t
        reason = self.gate("SearchQueryInitiated", mbx, ctx, t)
        if reason:
            self.obs.on_event(ev, reason)
            return
        rid = self.ids.next()
        rec = self.f.search(t, rid, mbx, ctx, ev.data["query"])
        self._emit(t, "SearchQueryInitiatedExchange", rec)
        self.obs.on_event(ev, "logged")
        self.obs.on_record(t, rid, "SearchQueryInitiatedExchange", mbx.upn, ctx, "", [],
                           {"query": ev.data["query"]})

    def _signin(self, ev: Event) -> None:
        if not self.org.ingestion:
            self.obs.on_event(ev, "ingestion-off")
            return
        user = self.mbx[ev.mailbox]
        rid = self.ids.next()
        failed = bool(ev.data.get("failed"))
        rec = self.f.signin(ev.t, rid, user, ev.ctx, ev.data.get("resource", C.EXCHANGE_APP),
                            failed)
        op = rec["Operation"]
        self._emit(ev.t, op, rec)
        self.obs.on_event(ev, "logged")
        self.obs.on_record(ev.t, rid, op, user.upn, ev.ctx, "", [], {})

    def _admin(self, ev: Event) -> None:
        d = ev.data
        if self.org.ingestion:
            rid = self.ids.next()
            rec = self.f.admin_cmdlet(ev.t, rid, ev.ctx, d["cmdlet"], d["object"], d["params"])
            self._emit(ev.t, d["cmdlet"], rec)
            self.obs.on_event(ev, "logged")
            self.obs.on_record(ev.t, rid, d["cmdlet"], ev.mailbox, ev.ctx, "", [],
                               {"tampering": d.get("tampering", False)})
        else:
            self.obs.on_event(ev, "ingestion-off")
        effect = d.get("effect")
        if effect:
            self._apply(effect, ev.t)

    def _consent(self, ev: Event) -> None:
        """'Consent to application.' (AzureActiveDirectory): a directory event with no client
        address or session, so no indicator reaches it (docs/microsoft-365.md §11)."""
        if not self.org.ingestion:
            self.obs.on_event(ev, "ingestion-off")
            return
        rid = self.ids.next()
        rec = self.f.consent(ev.t, rid, self.mbx[ev.ctx.user], ev.data["consent"], ev.data["sp"],
                             ev.data["resource_sp"])
        self._emit(ev.t, rec["Operation"], rec)
        self.obs.on_event(ev, "logged")
        self.obs.on_record(ev.t, rid, rec["Operation"], ev.ctx.user, ev.ctx, "", [], {"unattributable": True})

    def _apply(self, effect: tuple, t: int) -> None:
        what = effect[0]
        self.changed_at[(what, effect[1] if isinstance(effect[1], str) else "")] = t
        if what == "bypass":
            self.mbx[effect[1]].bypass = effect[2]
        elif what == "audit_owner":
            self.mbx[effect[1]].audit_owner = list(effect[2])
            _drop(self.mbx[effect[1]].default_audit_set, "Owner")
        elif what == "audit_delegate":
            self.mbx[effect[1]].audit_delegate = list(effect[2])
            _drop(self.mbx[effect[1]].default_audit_set, "Delegate")
        elif what == "ingestion":
            self.org.ingestion = effect[1]
        elif what == "org_audit_disabled":
            self.org.audit_disabled = effect[1]
        else:  # pragma: no cover - scenario authoring error
            raise ValueError(f"unknown effect {what!r}")

    def _licence(self, ev: Event) -> None:
        target = self.mbx[ev.mailbox]
        actor = self.mbx[ev.ctx.user]
        old = f"[SkuName={C.SKUS[target.licence]['skuPartNumber']}, DisabledPlans=[]]"
        new = (f"[SkuName={C.SKUS[target.licence]['skuPartNumber']}, "
               f"DisabledPlans=[{C.ADVANCED_AUDITING_PLAN}]]")
        if self.org.ingestion:
            rid = self.ids.next()
            rec = self.f.licence_change(ev.t, rid, actor, target, old, new)
            self._emit(ev.t, "Change user license.", rec)
            self.obs.on_event(ev, "logged")
            self.obs.on_record(ev.t, rid, "Change user license.", target.upn, ev.ctx, "", [],
                               {"tampering": True, "unattributable": True})
        else:
            self.obs.on_event(ev, "ingestion-off")
        target.advanced_auditing = False
        self.changed_at[("licence", target.upn)] = ev.t
        target.plan_removed_at = creation_time(ev.t) + "Z"


def _drop(values: list[str], name: str) -> None:
    if name in values:
        values.remove(name)


def _store_id(upn: str, folder: str, k: int) -> str:
    """An Exchange store item id shape for Item.Id."""
    return base64.b64encode(b"\x00\x00\x00\x00" + digest("item", upn, folder, k, size=40)).decode()
