"""Ground truth: what the attacker really touched, and what the logs can show of it.

Listens to the pipeline (every record emitted, every attacker event with its outcome) and
classifies, per mailbox, each item as the report is asked to (docs/methodology.md §3):
- confirmable: named by a logged attacker record reachable from the day-one case file
  (Bind MailItemsAccessed, Send/SendAs, MoveToDeletedItems);
- inferable: in a folder of a logged attacker Sync (named if any record at or before the sync
  names it in that folder, otherwise counted), read while the mailbox was throttled, or
  matching (by subject, where a record names it) a logged attacker search; throttled reads
  count only when a day-one attributable record touching the mailbox (or made by its account)
  falls in the throttled window: without one, nothing recorded allows the inference;
- unknowable: touched while the mailbox had no MailItemsAccessed coverage, with the reason and
  the coverage gap within the incident window, or read in a throttled window with no recorded
  attacker act ("throttled-without-recorded-acts");
- owner_only: named by owner records in the mailbox and never touched by the attacker.
Attacker activity reachable only through a suggested indicator is listed under
`requires_suggested`, never under confirmable.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evkit.emulator.scenarios import constants as C
from evkit.emulator.scenarios.activity import Context, Event
from evkit.emulator.scenarios.model import Mailbox, item_identity
from evkit.emulator.scenarios.records import creation_time

ItemRef = tuple[str, int]        # (folder path, index)


def _z(t: int) -> str:
    return creation_time(t) + "Z"


@dataclass
class _Box:
    """What is known about one attacker-targeted mailbox."""

    named: dict[ItemRef, int] = field(default_factory=dict)        # first time named (any ctx)
    owner_named: set[ItemRef] = field(default_factory=set)
    confirm: dict[str, dict[ItemRef, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    syncs: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    touched: set[ItemRef] = field(default_factory=set)
    throttled_reads: list[tuple[int, ItemRef]] = field(default_factory=list)
    gated: dict[str, dict[str, Any]] = field(default_factory=dict)
    throttle_windows: list[tuple[int, int, str]] = field(default_factory=list)
    unlogged_searches: list[dict[str, Any]] = field(default_factory=list)
    recorded_acts: list[int] = field(default_factory=list)   # day-one attributable records touching it


class TruthRecorder:
    """The pipeline's observer; `result()` gives the ground-truth document."""

    def __init__(self, seed: object, mailboxes: dict[str, Mailbox], targets: list[str]) -> None:
        self.seed = seed
        self.mbx = mailboxes
        self.boxes = {t: _Box() for t in targets}
        self.by_op: Counter = Counter()
        self.total = 0
        self.attacker_records: dict[str, list[str]] = defaultdict(list)
        self.tampering: list[dict[str, Any]] = []
        self.mailbox_changes: list[dict[str, Any]] = []
        self.sign_ins: list[dict[str, Any]] = []   # the attacker's, as the sign-in log shows them

    # ---- observer protocol -------------------------------------------------------------
    def on_record(self, t: int, rid: str, op: str, mailbox: str, ctx: Context | None,
                  access: str, items: list[ItemRef], extra: dict[str, Any]) -> None:
        self.by_op[op] += 1
        self.total += 1
        attacker = ctx is not None and ctx.actor == "attacker"
        if attacker:
            # a directory event carries neither IP nor session: no indicator can reach it
            reach = "unattributable" if extra.get("unattributable") else ctx.reach
            self.attacker_records[reach].append(rid)
        if extra.get("tampering"):
            self.tampering.append({"time": _z(t), "operation": op, "actor": ctx.user if ctx else "",
                                   "target": mailbox, "record_id": rid,
                                   "reach": ctx.reach if attacker else ""})
        if attacker and op in ("UserLoggedIn", "UserLoginFailed"):
            self.sign_ins.append({"id": rid, "time": _z(t), "account": ctx.user, "ip": ctx.ip,
                                  "session_id": ctx.aad_session_id, "app_id": ctx.client_app_id or ctx.app_id,
                                  "user_agent": ctx.user_agent, "failed": op == "UserLoginFailed",
                                  "reach": ctx.reach})
        if attacker and op in C.MAILBOX_CHANGE_OPERATIONS:
            self.mailbox_changes.append({"time": _z(t), "operation": op, "mailbox": mailbox,
                                         "record_id": rid, "reach": ctx.reach})
        if attacker and ctx.reach == "day1":
            for upn in {mailbox, ctx.user}:      # the mailbox, or the account that was used
                if upn in self.boxes:
                    self.boxes[upn].recorded_acts.append(t)
        box = self.boxes.get(mailbox)
        if box is None:
            return
        if extra.get("throttled"):
            box.throttle_windows.append((t, t + C.THROTTLE_SECONDS, rid))
        for ref in items:
            if ref not in box.named:
                box.named[ref] = t
            if attacker:
                box.confirm[ctx.reach].setdefault(ref, []).append(rid)
            elif ctx is not None:
                box.owner_named.add(ref)
        if attacker and access == "Sync":
            box.syncs.append({"t": t, "rid": rid, "reach": ctx.reach, "folder": extra["folder"],
                              "present": extra["present"], "moved_out": extra["moved_out"]})
        if attacker and op.startswith("SearchQueryInitiated"):
            box.searches.append({"t": t, "rid": rid, "reach": ctx.reach, "query": extra["query"]})

    def on_event(self, ev: Event, outcome: str) -> None:
        ctx = ev.ctx
        if ctx is None or ctx.actor != "attacker":
            return
        box = self.boxes.get(ev.mailbox)
        if box is None:
            return
        ref = (ev.folder, ev.k)
        if ev.kind in ("bind", "send", "delete"):
            box.touched.add(ref)
        if outcome in ("logged", "dedup"):
            return
        if outcome == "throttled":
            box.throttled_reads.append((ev.t, ref))
            return
        if ev.kind == "search":
            box.unlogged_searches.append({"time": _z(ev.t), "query": ev.data["query"],
                                          "reason": outcome})
            return
        if ev.kind in ("signin", "admin", "licence", "consent"):
            return
        reason = outcome if not outcome.startswith("audit-set-lacks-") else \
            "audit-set-lacks-MailItemsAccessed" if ev.kind in ("bind", "sync") else outcome
        g = box.gated.setdefault(reason, {"first": ev.t, "last": ev.t, "refs": set(),
                                          "folders": {}, "actor": ctx.user})
        g["last"] = ev.t
        if ev.kind == "sync":
            folder = self.mbx[ev.mailbox].folders[ev.folder]
            g["folders"][ev.folder] = max(g["folders"].get(ev.folder, 0), folder.present)
        else:
            g["refs"].add(ref)

    # ---- result ------------------------------------------------------------------------
    def result(self, *, scenario: str, seed: int, params: dict[str, Any], window: tuple[int, int],
               scenario_window: tuple[int, int], attack, changed_at: dict[tuple[str, str], int],
               day_one: dict[str, list[str]]) -> dict[str, Any]:
        mailboxes = []
        requires_suggested = []
        for upn in sorted(self.mbx):
            mbx = self.mbx[upn]
            box = self.boxes.get(upn)
            entry: dict[str, Any] = {"mailbox": upn, "type": mbx.kind, "confirmable": [],
                                     "inferable": [], "unknowable": [], "owner_only": []}
            if box is not None:
                self._classify(mbx, box, entry, window, changed_at, requires_suggested)
                entry["in_scope"] = True
            else:
                entry["in_scope"] = False
            mailboxes.append(entry)
        default_total = sum(n for op, n in self.by_op.items() if op in C.DEFAULT_OPERATIONS)
        return {
            "schema": "evkit.ground-truth/1",
            "scenario": scenario, "seed": seed, "params": params,
            "scenario_window": [_z(scenario_window[0]), _z(scenario_window[1])],
            "incident_window": [_z(window[0]), _z(window[1])],
            "indicators": {"accounts": sorted(attack.accounts), "ips": list(attack.ips),
                           "app_ids": list(attack.app_ids),
                           "session_ids": list(attack.session_ids),
                           "user_agents": list(attack.user_agents)},
            "day_one": day_one,
            "rules": {"licence": "premium actions (MailItemsAccessed, Send, SearchQueryInitiated) "
                                 "need an enabled M365_ADVANCED_AUDITING plan before the expansion "
                                 "date, any E3/E5 licence from it; unlicensed never",
                      "expansion_date": _z(int(C.EXPANSION_DATE.timestamp())),
                      "aggregation_seconds": C.AGGREGATION_SECONDS,
                      "dedup_seconds": C.DEDUP_SECONDS, "throttle_limit": C.THROTTLE_LIMIT,
                      "throttle_seconds": C.THROTTLE_SECONDS},
            "logged": {"total": self.total, "by_operation": dict(sorted(self.by_op.items())),
                       "default_operations": {"total": default_total, "by_operation": {
                           op: n for op, n in sorted(self.by_op.items())
                           if op in C.DEFAULT_OPERATIONS}}},
            "attacker_record_ids": {k: v for k, v in sorted(self.attacker_records.items())},
            "tampering": self.tampering,
            "mailbox_changes": self.mailbox_changes,
            "sign_ins": self.sign_ins,
            "requires_suggested": requires_suggested,
            "notes": list(attack.notes),
            "mailboxes": mailboxes,
        }

    def _imid(self, mbx: Mailbox, ref: ItemRef) -> str:
        return item_identity(self.seed, mbx, ref[0], ref[1])[0]

    def _classify(self, mbx: Mailbox, box: _Box, entry: dict[str, Any], window: tuple[int, int],
                  changed_at: dict[tuple[str, str], int], suggested_out: list) -> None:
        confirmed = set(box.confirm.get("day1", {}))
        entry["confirmable"] = sorted({self._imid(mbx, r) for r in confirmed})
        for reach, refs in sorted(box.confirm.items()):
            if reach == "day1":
                continue
            extra = sorted({self._imid(mbx, r) for r in refs if r not in confirmed})
            if extra:
                _, kind, value = reach.split(":", 2)
                suggested_out.append({"mailbox": mbx.upn, "kind": kind, "value": value,
                                      "confirmable": extra,
                                      "record_ids": sorted({rid for ids in refs.values()
                                                            for rid in ids})})
        inferred: set[ItemRef] = set()
        inferable: list[dict[str, Any]] = []
        for s in box.syncs:
            if s["reach"] != "day1":
                continue
            folder = s["folder"]
            present = [(folder, k) for k in range(s["present"]) if k not in s["moved_out"]]
            named = [r for r in present if r in box.named and box.named[r] <= s["t"]]
            for r in named:
                if r not in confirmed and r not in inferred:
                    inferred.add(r)
                    inferable.append({"reason": "sync", "folder": mbx.folders[folder].record_path,
                                      "imid": self._imid(mbx, r), "record_id": s["rid"],
                                      "time": _z(s["t"])})
            now_items = mbx.folders[folder].present
            inferable.append({"reason": "sync", "folder": mbx.folders[folder].record_path, "imid": None,
                              "count": len(present) - len(named),
                              "count_from_folder_statistics": max(0, now_items - len(named)),
                              "items_in_folder_at_sync": len(present),
                              "record_id": s["rid"], "time": _z(s["t"])})
            inferred.update(present)
        blind: dict[tuple[int, int, str], set[ItemRef]] = {}
        for t, ref in box.throttled_reads:
            win = next((w for w in box.throttle_windows if w[0] <= t < w[1]), None)
            if ref in confirmed or ref in inferred or win is None:
                continue
            if not any(win[0] <= a < win[1] for a in box.recorded_acts):
                blind.setdefault(win, set()).add(ref)   # nothing recorded to infer from: unknown
                continue
            inferred.add(ref)
            inferable.append({"reason": "throttled", "imid": self._imid(mbx, ref),
                              "start": _z(win[0]), "end": _z(win[1]), "record_id": win[2]})
        for s in box.searches:
            if s["reach"] != "day1":
                continue
            q = s["query"].lower()
            for ref in sorted(box.named):
                subject = item_identity(self.seed, mbx, ref[0], ref[1])[1]
                if q in subject.lower() and ref not in confirmed and ref not in inferred:
                    inferred.add(ref)
                    inferable.append({"reason": "search", "query": s["query"],
                                      "imid": self._imid(mbx, ref), "subject": subject,
                                      "record_id": s["rid"]})
        entry["inferable"] = inferable
        for reason, g in sorted(box.gated.items()):
            start = max(window[0], _gap_start(reason, mbx.upn, g["actor"], changed_at, window[0]))
            refs = sorted({self._imid(mbx, r) for r in g["refs"]
                           if r not in confirmed and r not in inferred})
            entry["unknowable"].append({
                "reason": reason, "start": _z(start), "end": _z(window[1]), "imids": refs,
                "folders": [{"folder": mbx.folders[f].record_path, "count": n}
                            for f, n in sorted(g["folders"].items())],
                "first_unlogged_access": _z(g["first"]), "last_unlogged_access": _z(g["last"])})
        for (start, end, _), refs in sorted(blind.items()):
            entry["unknowable"].append({
                "reason": "throttled-without-recorded-acts", "start": _z(start), "end": _z(end),
                "imids": sorted({self._imid(mbx, r) for r in refs if r not in inferred}),
                "folders": [], "first_unlogged_access": _z(min(t for t, r in box.throttled_reads if r in refs)),
                "last_unlogged_access": _z(max(t for t, r in box.throttled_reads if r in refs))})
        if box.unlogged_searches:
            entry["unlogged_searches"] = box.unlogged_searches
        attacker_refs = box.touched | inferred | confirmed
        entry["owner_only"] = sorted({self._imid(mbx, r) for r in box.owner_named
                                      if r not in attacker_refs})


def _gap_start(reason: str, mailbox: str, actor: str, changed_at: dict[tuple[str, str], int],
               default: int) -> int:
    key = {"bypass": ("bypass", actor), "licence-lacks-advanced-auditing": ("licence", mailbox),
           "ingestion-off": ("ingestion", ""), "org-audit-disabled": ("org_audit_disabled", "")}
    if reason.startswith("audit-set-lacks-"):
        t = [changed_at.get((k, mailbox)) for k in ("audit_owner", "audit_delegate")]
        t = [x for x in t if x is not None]
        return min(t) if t else default
    return changed_at.get(key.get(reason, ("", "")), default)


def write_truth(path: Path, doc: dict[str, Any]) -> None:
    """Stable, human-diffable JSON (sorted keys inside entries are not reordered)."""
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
