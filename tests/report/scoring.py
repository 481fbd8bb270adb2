"""Score a report's items.csv / findings.json against an emulator scenario's ground truth."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Score:
    failures: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.failures.append(message)


def _ratio(a: int, b: int) -> str:
    return f"{a}/{b} = {a / b:.2f}" if b else "n/a (0)"


def score(truth: dict[str, Any], out: Path) -> Score:
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        items = {(r["mailbox"].lower(), r["internet_message_id"]): r["classification"] for r in csv.DictReader(fh)}
    mailboxes = {m["mailbox"]: m for m in findings["mailboxes"]}
    syncs = findings["syncs"]
    s = Score()
    confirmable, inferable, owner_only = set(), set(), set()
    unnamed_ok = unnamed_total = unknown_ok = unknown_total = 0
    for mb in truth["mailboxes"]:
        name = mb["mailbox"].lower()
        for imid in mb.get("confirmable", []):
            confirmable.add((name, imid))
            s.check(items.get((name, imid)) == "confirmed", f"confirmable {name} {imid} is {items.get((name, imid))}")
        for imid in mb.get("owner_only", []):
            owner_only.add((name, imid))
            s.check(items.get((name, imid)) != "confirmed", f"owner-only {name} {imid} was confirmed")
        unlisted_throttled = 0
        for inf in mb.get("inferable", []):
            if inf.get("imid") and inf["reason"] == "throttled" and (name, inf["imid"]) not in items:
                unlisted_throttled += 1  # named by no record at all: can only be counted
            elif inf.get("imid"):
                inferable.add((name, inf["imid"]))
                got = items.get((name, inf["imid"]))
                s.check(got in ("inferred", "confirmed"), f"inferable ({inf['reason']}) {name} {inf['imid']} is {got}")
            else:
                unnamed_total += 1
                folder = (inf.get("folder") or "").lower()
                hit = [x for x in syncs if x["mailbox"] == name and (x["folder"] or "").lower() == folder
                       and x["items_unnamed"] is not None]
                ok = bool(hit) and max(x["items_unnamed"] + x["items_named"] for x in hit) >= inf.get("count", 0)
                unnamed_ok += ok
                s.check(ok, f"unnamed sync items of {name} {inf.get('folder')} ({inf.get('count')}) not counted: {hit}")
        if unlisted_throttled:
            counted = max((t["items_unnamed"] or 0 for t in findings["throttled"] if t["mailbox"] == name), default=0)
            s.check(counted >= unlisted_throttled,
                    f"{unlisted_throttled} throttled items of {name} named by no record, only {counted} counted")
            s.lines.append(f"throttled items of {name} named by no record: {unlisted_throttled}, counted {counted}")
        for unk in mb.get("unknowable", []):
            unknown_total += 1
            periods = mailboxes.get(name, {}).get("unknown", [])
            ok = any(_t(p["start"]) < _t(unk["end"]) and _t(unk["start"]) < _t(p["end"]) for p in periods)
            unknown_ok += ok
            s.check(ok, f"unknowable {name} {unk['reason']} {unk['start']}..{unk['end']} not reported unknown: {periods}")
            for imid in unk.get("imids", []) or []:
                s.check(items.get((name, imid)) != "no-evidence", f"unknowable {name} {imid} says no evidence")
    reported = {rid for c in findings.get("mailbox_changes", []) for rid in c["record_ids"]}
    changes = [c for c in truth.get("mailbox_changes", []) if c["reach"] == "day1"]
    for c in changes:
        s.check(c["record_id"] in reported, f"mailbox change {c['operation']} of {c['mailbox']} "
                f"({c['record_id']}) not reported")
        verdict = mailboxes.get(c["mailbox"].lower(), {}).get("verdict")
        s.check(verdict not in (None, "no evidence of access"),
                f"{c['mailbox']} changed by the attacker reads {verdict}")
    changes_reported = len([c for c in changes if c["record_id"] in reported])
    s.lines.append(f"mailbox changes reported: {_ratio(changes_reported, len(changes))}")
    suggested = {s_["value"].lower() for s_ in findings["suggested_indicators"]}
    given = {v.lower() for vs in findings["case"]["indicators"].values() for v in vs}
    truth_ind = {v.lower() for key in ("ips", "app_ids", "session_ids")
                 for v in truth.get("indicators", {}).get(key, [])} - given
    expanded = {sid.lower() for row in findings["attribution"] for sid in row["sessions"]}
    s.lines.append(f"ground-truth indicators beyond the case file found (suggested, or sessions "
                   f"attributed by expansion): {_ratio(len(truth_ind & (suggested | expanded)), len(truth_ind))}")
    confirmed = {k for k, v in items.items() if v == "confirmed"}
    inferred = {k for k, v in items.items() if v == "inferred"}
    s.lines += [
        f"confirmed: precision {_ratio(len(confirmed & confirmable), len(confirmed))}, "
        f"recall {_ratio(len(confirmed & confirmable), len(confirmable))}",
        f"inferred:  precision {_ratio(len(inferred & (inferable | confirmable)), len(inferred))}, "
        f"recall (listed) {_ratio(len((inferred | confirmed) & inferable), len(inferable))}",
        f"unnamed sync folders counted: {_ratio(unnamed_ok, unnamed_total)}",
        f"unknown:   recall {_ratio(unknown_ok, unknown_total)} (mailbox periods)",
        f"owner-only confirmed: {len(confirmed & owner_only)} of {len(owner_only)}",
    ]
    score_mailbox_state(truth, findings, s)
    score_entra(truth, findings, s)
    return s


_STATE_KINDS = {"inbox_rule": "inbox rule", "forwarding": "forwarding", "mailbox_permission": "full access",
                "recipient_permission": "send as", "transport_rule": "transport rule",
                "folder_permission": "folder permission"}
_UNEXPLAINED_WORDS = {"predates-window": ("predates the window",), "log-missing": ("incomplete", "missing")}


def score_mailbox_state(truth: dict[str, Any], findings: dict[str, Any], s: Score) -> None:
    """The mailbox-state section against the scenario's `mailbox_state` truth: every planted item
    named with its record (or flagged with the right reason), nothing benign named. A report
    whose bundles hold no mailbox state must say it was not collected."""
    block = findings.get("mailbox_state") or {}
    expected = (truth.get("mailbox_state") or {}).get("findings", [])
    if block.get("status") in (None, "not collected"):
        s.check(block.get("status") == "not collected" and "not collected" in block.get("statement", ""),
                f"mailbox state neither collected nor stated as not collected: {block.get('status')}")
        s.lines.append("mailbox state: not collected (stated)")
        return
    got = {(f["mailbox"], f["kind"], f["name"].lower()): f for f in block["findings"]}
    ok = 0
    for t in expected:
        key = (t["mailbox"], _STATE_KINDS[t["kind"]], t["name"].lower())
        f = got.get(key)
        if f is None:
            s.check(False, f"mailbox state {key} not reported")
            continue
        record = (f.get("record") or {}).get("id")
        good = record == t["record_id"]
        s.check(good, f"mailbox state {key}: record {record}, truth {t['record_id']}")
        if t.get("unexplained"):
            said = any(w in (f.get("unexplained") or "") for w in _UNEXPLAINED_WORDS[t["unexplained"]])
            good &= said
            s.check(said, f"mailbox state {key}: {f.get('unexplained')!r}")
        if "hidden" in t:
            good &= f.get("hidden") is t["hidden"]
            s.check(f.get("hidden") is t["hidden"], f"mailbox state {key}: hidden {f.get('hidden')}, truth {t['hidden']}")
        for address in t.get("external", []):
            good &= address in f.get("external", [])
            s.check(address in f.get("external", []), f"mailbox state {key}: {address} not external")
        ok += good
    for t in (truth.get("mailbox_state") or {}).get("not_findings", []):
        named = {k for k in got if k[0] == t["mailbox"] and k[2] == t["name"].lower()}
        s.check(not named, f"benign mailbox state named as a finding: {named}")
    s.lines.append(f"mailbox state items named with their record or reason: {_ratio(ok, len(expected))}")


def score_entra(truth: dict[str, Any], findings: dict[str, Any], s: Score) -> None:
    """Sign-ins behind the attacker's sessions and the apps that read mail, against the ground
    truth: every day-one-reachable attacker sign-in listed with its address, app and user agent
    (from the sign-in log, or from the audit log with the gap stated), nothing else listed, and
    every mail app with its consent time and whether it falls in the window."""
    section = findings["sign_ins"]
    listed = {r["id"]: r for sess in section["sessions"] for r in sess["sign_ins"]}
    if section["source"] != "Entra sign-in log":
        s.check(bool(section["gap"]), "sign-ins read from the audit log without the gap stated")
    want = [t for t in truth.get("sign_ins", []) if t["reach"] == "day1"]
    found = 0
    for t in want:
        got = listed.get(t["id"])
        ok = got is not None and (got["ip"], got["app_id"], got["user_agent"]) == (t["ip"], t["app_id"], t["user_agent"])
        found += ok
        s.check(ok, f"attacker sign-in {t['id']} at {t['time']} from {t['ip']} not listed as it happened: {got}")
    every = {t["id"] for t in truth.get("sign_ins", [])}
    s.check(set(listed) <= every, f"sign-ins listed for the attacker that are not the attacker's: "
            f"{sorted(set(listed) - every)[:5]}")
    s.lines.append(f"attacker sign-ins ({section['source']}): recall {_ratio(found, len(want))}, "
                   f"precision {_ratio(len(set(listed) & every), len(listed))}")
    apps = findings["applications"]
    if apps["gap"] and not apps["apps"]:
        s.lines.append("applications: not collected (gap stated)")
        return
    by_app = {a["app_id"]: a for a in apps["apps"]}
    for t in truth.get("apps", []):
        got = by_app.get(t["app_id"])
        s.check(got is not None and got["permissions"] == t["permissions"]
                and got["recent"] == (t["attacker"] and t["in_window"])
                and (got["consented_utc"] or "")[:16] == t["consented_at"][:16],
                f"mail app {t['display_name']} not reported as consented at {t['consented_at']}: {got}")
        if got is not None and t["attacker"]:
            read = set((got.get("mail_in_window") or {}).get("mailboxes") or [])
            s.check(bool(read - {t["consented_by"]}), f"{t['display_name']} read no other mailbox in the report")
    reported = sum(1 for t in truth.get("apps", []) if t["app_id"] in by_app)
    s.lines.append(f"mail apps reported: {_ratio(reported, len(truth.get('apps', [])))}")
