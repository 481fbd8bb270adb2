"""The report model (findings.json, docs/internals.md): built from an Analysis and the bundles.

Everything here is ordering and wording; the decisions were made by the rules. Plain sentences
for page 1 are written here so the PDF, JSON and any other renderer say the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evkit.report.analysis import Analysis
from evkit.report.casefile import CaseFile
from evkit.report.outputs.itemmeta import redact_sends
from evkit.report.outputs.model import Findings, MailboxRow, Period, Summary
from evkit.report.outputs.overview import answer, mailbox_cards, unknown_groups
from evkit.report.outputs.signers import signer_groups
from evkit.report.rules.classify import Classification, ItemVerdict
from evkit.report.rules.suggest import Suggestion
from evkit.times import format_plain, format_utc

SCHEMA = "evkit.findings/1"

LIMITATIONS = [
    "MailItemsAccessed Bind records aggregate every access within two minutes into one record, "
    "and identical accesses within an hour are logged once: counts are of items, not of reads.",
    "When more than 1,000 MailItemsAccessed records are generated in under 24 hours, Exchange "
    "stops logging Bind accesses for 24 hours (IsThrottled=True marks the start); items in such "
    "a window are inferred, not confirmed.",
    "Sync records name a folder, not items: every item of a folder synced by the attacker is "
    "presumed read; items no record names are counted from folder statistics when collected.",
    "An item is only named when some record in the evidence mentions it; items never mentioned "
    "appear only in counts.",
    "Attribution follows the indicators in the case file; activity from addresses, apps or "
    "sessions not listed there is not attributed (see the suggested indicators).",
]


@dataclass(frozen=True, slots=True)
class BundleInfo:
    path_name: str
    case_id: str | None
    collection_id: str | None
    verdict: str
    findings: tuple[str, ...]
    tagmanifest_sha256: str | None
    signer: str | None  # the trusted principal when verdict is valid, else what the bundle claims
    signer_fingerprint: str | None
    custody: tuple[Mapping[str, Any], ...]
    finished_utc: str | None

    def to_json(self) -> dict[str, Any]:
        return {"path_name": self.path_name, "case_id": self.case_id, "collection_id": self.collection_id,
                "verdict": self.verdict, "verification_findings": list(self.findings),
                "tagmanifest_sha256": self.tagmanifest_sha256, "signer": self.signer,
                "signer_fingerprint": self.signer_fingerprint, "signer_trusted": self.verdict == "valid",
                "custody": [{k: c.get(k) for k in ("seq", "event", "time_utc", "actor", "to")}
                            for c in self.custody]}


def report_date(bundles: Sequence[BundleInfo]) -> str | None:
    """The report's date: the latest custody or collection time in the evidence, never now."""
    times = [str(c.get("time_utc")) for b in bundles for c in b.custody if c.get("time_utc")]
    times += [b.finished_utc for b in bundles if b.finished_utc]
    return max(times) if times else None


def _fmt(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None


def _plain(value: datetime | None) -> str:
    """A time an executive reads without decoding ISO 8601: '8 June 2023, 09:05 UTC'."""
    return format_plain(value) if value is not None else "an unknown time"


def mailbox_rows(a: Analysis, types: Mapping[str, str]) -> list[MailboxRow]:
    by: dict[str, list[ItemVerdict]] = defaultdict(list)
    for v in a.verdicts:
        by[v.mailbox].append(v)
    # Keyed by the rows' mailbox, which a record without an owner leaves None.
    unnamed: dict[str | None, int] = defaultdict(int)
    seen_folders: dict[tuple[str | None, str], int] = {}
    for s in a.syncs:
        key = (s["mailbox"], s["folder"].lower() if s["folder"] else "")
        seen_folders[key] = max(seen_folders.get(key, 0), s["items_unnamed"] or 0)
    for (mb, _), n in seen_folders.items():
        unnamed[mb] += n
    for t in a.throttled:  # a throttled window exposes the whole mailbox: it subsumes syncs
        unnamed[t["mailbox"]] = max(unnamed[t["mailbox"]], t["items_unnamed"] or 0)
    attributed_ids: dict[str | None, set[str]] = defaultdict(set)
    for rec in a.attributed:
        for who in {rec.mailbox, rec.account} & set(a.in_scope):
            attributed_ids[who].add(rec.record_id)
    changed: dict[str | None, list[str]] = defaultdict(list)
    for c in a.mailbox_changes:
        changed[c["mailbox"]].append(c["kind"])
        attributed_ids[c["mailbox"]].update(c["record_ids"])
    items_unknown: dict[str | None, int] = defaultdict(int)
    for u in a.unreadable_accesses:
        items_unknown[u["mailbox"]] += u["items_unknown"]
        attributed_ids[u["mailbox"]].update(u["record_ids"])
    rows: list[MailboxRow] = []
    for mb in sorted(set(a.in_scope) | set(a.unknown)):
        items = by.get(mb, [])
        confirmed = sum(1 for v in items if v.classification is Classification.CONFIRMED)
        inferred = sum(1 for v in items if v.classification is Classification.INFERRED)
        unknown: list[Period] = [{"start": format_utc(g.start), "end": format_utc(g.end), "reason": g.reason}
                   for g in a.unknown.get(mb, [])]
        if confirmed or items_unknown[mb]:
            verdict = "accessed"
        elif inferred or unnamed[mb]:
            verdict = "presumed accessed"
        elif changed[mb]:
            verdict = "changed by the attacker"
        elif unknown:
            verdict = "cannot be assessed"
        else:
            verdict = "no evidence of access"
        rows.append({"mailbox": mb, "in_scope": mb in a.in_scope, "type": types.get(mb, "unknown"),
                     "confirmed": confirmed,
                     "inferred": inferred, "inferred_unnamed": unnamed[mb],
                     "accessed_items_unknown": items_unknown[mb], "changes": sorted(set(changed[mb])),
                     "unknown": unknown,
                     "verdict": verdict, "attributed_records": len(attributed_ids[mb]),
                     "record_ids": sorted(attributed_ids[mb])})
    return rows


def summary(case: CaseFile, a: Analysis, mailboxes: list[MailboxRow], *, known: int = 0) -> Summary:
    """Page 1 as data (report.outputs.overview): the answer, the cards, the unknown mailboxes
    grouped by reason. `known` is how many mailboxes the evidence holds (configuration and
    records); the mailbox cards partition them."""
    confirmed = sum(m["confirmed"] for m in mailboxes)
    inferred = sum(m["inferred"] for m in mailboxes)
    unnamed = sum(m["inferred_unnamed"] for m in mailboxes)
    items_unknown = sum(m["accessed_items_unknown"] for m in mailboxes)
    unknown = [m for m in mailboxes if m["unknown"]]
    in_scope = [m for m in mailboxes if m["in_scope"]]
    first, last = _fmt(a.first_activity), _fmt(a.last_activity)
    window = (case.window_start, case.window_end)
    cards = mailbox_cards(mailboxes, known)
    groups = unknown_groups(mailboxes, (format_utc(window[0]), format_utc(window[1])))
    headline = answer(cards=cards, confirmed=confirmed, inferred=inferred, unnamed=unnamed, groups=groups,
                      attributed=bool(a.attributed), first=a.first_activity, last=a.last_activity,
                      window=window)
    if a.evidence_gaps and not a.attributed:  # never "no activity" over evidence that was not all there
        headline = (f"The evidence that could be read holds no activity matching the case's indicators "
                    f"between {_plain(case.window_start)} and {_plain(case.window_end)}, but it does not "
                    "cover all of that period or could not all be read, so activity cannot be ruled out.")
    points = [f"{confirmed} item(s) were opened, sent, moved or deleted by the attacker "
              "(confirmed by audit records that name them)."]
    if inferred or unnamed:
        counted = f", plus {unnamed} item(s) counted in synced folders but never named" if unnamed else ""
        points.append(f"{inferred} further item(s) are presumed read (folder syncs, throttled logging "
                      f"or matching searches){counted}.")
    for g in a.evidence_gaps:
        points.append(f"From {_plain(g.start)} to {_plain(g.end)} no mailbox can be assessed: {g.reason}.")
    for m in unknown:
        where = "" if m["in_scope"] else " (no recorded attacker activity, but access would not have been logged)"
        periods = "; ".join(f"{g.reason}, from {_plain(g.start)} to {_plain(g.end)}"
                            for g in a.unknown.get(m["mailbox"], []))
        points.append(f"{m['mailbox']} cannot be fully assessed{where}: {periods}.")
    if items_unknown:
        which = sorted({u["mailbox"] for u in a.unreadable_accesses if u["mailbox"]})
        points.append(f"The attacker opened about {items_unknown} item(s) in {', '.join(which)} that cannot be "
                      "named: the access records' item lists are missing or were mangled by an export "
                      "(counted from their OperationCount).")
    if a.mailbox_changes:
        kinds = sorted({c["kind"] for c in a.mailbox_changes})
        changed = sorted({c["mailbox"] for c in a.mailbox_changes if c["mailbox"]})
        points.append(f"The attacker changed {len(changed)} mailbox(es) ({', '.join(kinds)}): "
                      f"{', '.join(changed)}; see mailbox changes.")
    if a.throttled:
        points.append(f"Audit logging was throttled {len(a.throttled)} time(s); see throttled windows.")
    if a.searches:
        points.append(f"The attacker ran {len(a.searches)} mailbox search(es); the query text is listed.")
    if a.sends:
        points.append(f"The attacker sent {len(a.sends)} message(s) from the mailbox(es) in scope.")
    return {"mailboxes_in_scope": len(in_scope), **cards,
            "confirmed_items": confirmed, "inferred_items": inferred, "inferred_unnamed_items": unnamed,
            "accessed_items_unknown": items_unknown, "presumed_items": inferred + unnamed,
            "mailboxes_unknown": len(unknown), "unknown_groups": groups,
            "first_activity_utc": first, "last_activity_utc": last,
            "attributed_records": len(a.attributed), "headline": headline, "points": points}


@dataclass(frozen=True, slots=True)
class SourceBlocks:
    """What the sources beyond the audit log add to the findings, each block only when there is
    something to say: the items' metadata (resolve bundles, report.outputs.itemmeta), the mailbox
    state (report.mailbox_state: "not collected" is a block too), the sign-ins and mail-reading
    apps (report.entra_analysis, which also adds summary points), and whether subjects are
    redacted (--redact-subjects: the sent messages' subjects too)."""
    item_metadata: Mapping[str, Any] | None = None
    mailbox_state: Mapping[str, Any] | None = None
    sign_ins: Mapping[str, Any] | None = None
    applications: Mapping[str, Any] | None = None
    points: Sequence[str] = ()
    redact_subjects: bool = False


def build_findings(*, case: CaseFile, analysis: Analysis, bundles: Sequence[BundleInfo], evidence_valid: bool,
                   evidence_state: str, warnings: Sequence[str],
                   tampering: list[dict[str, Any]], suggestions: Sequence[Suggestion],
                   coverage: list[dict[str, Any]], completeness: list[dict[str, Any]],
                   problems: Sequence[str], limitations: Sequence[str], types: Mapping[str, str],
                   blocks: SourceBlocks = SourceBlocks()) -> Findings:
    """The findings model. `evidence_valid`, `evidence_state` and `warnings` are report.intake's:
    valid only when every bundle verified against a trusted key; the state "valid", "untrusted"
    (let through with --allow-untrusted) or "invalid" (with --allow-invalid); plain sentences
    every output repeats. `blocks`: what the other sources add, all of it here (one place)."""
    mailboxes = mailbox_rows(analysis, types)
    items = analysis.verdicts
    listed = [b.to_json() for b in bundles]
    findings: Findings = {
        "schema": SCHEMA,
        "evidence_valid": evidence_valid,
        "evidence_state": evidence_state,
        "evidence_warnings": list(warnings),
        "generated_utc": report_date(bundles),
        "case": case.to_json(),
        "bundles": listed,
        "signers": signer_groups(listed),
        "summary": summary(case, analysis, mailboxes, known=len(set(types) | {m["mailbox"] for m in mailboxes})),
        "mailboxes": mailboxes,
        "items": {c.value: sum(1 for v in items if v.classification is c) for c in Classification},
        "timeline": analysis.timeline,
        "syncs": analysis.syncs,
        "throttled": analysis.throttled,
        "searches": analysis.searches,
        "sends": redact_sends(analysis.sends) if blocks.redact_subjects else analysis.sends,
        "evidence_gaps": [{"start": format_utc(g.start), "end": format_utc(g.end), "reason": g.reason}
                          for g in analysis.evidence_gaps],
        "unreadable_accesses": analysis.unreadable_accesses,
        "mailbox_changes": analysis.mailbox_changes,
        "tampering": tampering,
        "suggested_indicators": [s.to_json() for s in suggestions],
        "attribution": analysis.attribution_summary,
        "coverage": coverage,
        "completeness": completeness,
        "problems": sorted(problems),
        "limitations": list(LIMITATIONS) + list(limitations),
    }
    findings["summary"]["points"] += list(blocks.points)
    if blocks.item_metadata is not None:
        findings["item_metadata"] = dict(blocks.item_metadata)
    if blocks.mailbox_state is not None:
        findings["mailbox_state"] = dict(blocks.mailbox_state)
    if blocks.sign_ins is not None:
        findings["sign_ins"] = dict(blocks.sign_ins)
    if blocks.applications is not None:
        findings["applications"] = dict(blocks.applications)
    return findings
