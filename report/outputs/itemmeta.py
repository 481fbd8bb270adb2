"""What the report says of the named items' metadata when a resolve bundle is among its evidence
(`evkit resolve`, docs/internals.md): extra items.csv columns, findings.json `item_metadata`.

Every named confirmed or inferred item has a lookup state: found (with its metadata), gone (the
mailbox no longer holds it), no such mailbox, or not looked up (no resolve bundle answers for
it). "Not looked up" is stated and counted, never left blank, so a reader can tell a missing
lookup from a message without a subject. `redact` replaces subjects for distribution (the items'
and those of the attacker's sent messages); counts, senders and sender domains stay, as they are
what notification is decided on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evkit.evidence.itemmeta import FOUND, GONE, NO_MAILBOX, ItemMeta
from evkit.report.rows import SendRow
from evkit.report.rules.classify import Classification, ItemVerdict

META_COLUMNS = ("lookup", "subject", "sender", "recipients", "received_utc", "importance", "has_attachments")
NOT_LOOKED_UP = "not looked up"
REDACTED = "[redacted]"
NAMED = (Classification.CONFIRMED, Classification.INFERRED)
LISTED = 1000  # gone and unanswered items listed by name in findings.json; all are counted


@dataclass(frozen=True, slots=True)
class ItemMetadata:
    """The answers of the resolve bundles given to the report."""

    by_item: Mapping[tuple[str, str], ItemMeta]
    bundles: tuple[str, ...]
    redact_subjects: bool = False

    def get(self, verdict: ItemVerdict) -> ItemMeta | None:
        return self.by_item.get((verdict.mailbox.lower(), verdict.imid))


def meta_cells(meta: ItemMetadata, verdict: ItemVerdict) -> list[str]:
    """The items.csv cells (META_COLUMNS) of one item."""
    found = meta.get(verdict)
    if found is None:
        return [NOT_LOOKED_UP if verdict.classification in NAMED else "", *[""] * (len(META_COLUMNS) - 1)]
    subject = found.subject or ""
    if meta.redact_subjects and subject:
        subject = REDACTED
    attachments = "" if found.has_attachments is None else ("yes" if found.has_attachments else "no")
    return [found.state, subject, found.sender or "", " ".join(found.recipients), found.received_utc or "",
            found.importance or "", attachments]


def redact_sends(sends: Sequence[SendRow]) -> list[SendRow]:
    """The attacker's sent messages with their subjects replaced (--redact-subjects): a subject
    from the audit log is as sensitive as one from the mailbox."""
    return [{**s, "subject": REDACTED if s["subject"] else s["subject"]} for s in sends]


def _entry(v: ItemVerdict) -> dict[str, str]:
    return {"mailbox": v.mailbox, "internet_message_id": v.imid, "classification": v.classification.value}


def metadata_block(verdicts: Sequence[ItemVerdict], meta: ItemMetadata) -> dict[str, Any]:
    """findings.json `item_metadata`: counts by lookup state, the found items by sender domain,
    and the items that are gone or were not looked up (first LISTED of each, all counted)."""
    named = [v for v in verdicts if v.classification in NAMED]
    states: dict[str, list[ItemVerdict]] = defaultdict(list)
    domains: dict[str, dict[str, int]] = defaultdict(lambda: {"items": 0, "confirmed": 0, "inferred": 0,
                                                              "with_attachments": 0, "high_importance": 0})
    for v in named:
        found = meta.get(v)
        states[found.state if found else NOT_LOOKED_UP].append(v)
        if found is None or found.state != FOUND:
            continue
        row = domains[found.sender_domain or "(no sender)"]
        row["items"] += 1
        row[v.classification.value] += 1
        row["with_attachments"] += 1 if found.has_attachments else 0
        row["high_importance"] += 1 if (found.importance or "").lower() == "high" else 0
    by_domain = [{"domain": d, **counts} for d, counts in sorted(domains.items(), key=lambda kv: (-kv[1]["items"],
                                                                                                    kv[0]))]
    return {
        "resolve_bundles": list(meta.bundles),
        "redacted_subjects": meta.redact_subjects,
        "named_items": len(named),
        "found": len(states[FOUND]),
        "gone": len(states[GONE]),
        "no_such_mailbox": len(states[NO_MAILBOX]),
        "not_looked_up": len(states[NOT_LOOKED_UP]),
        "with_attachments": sum(r["with_attachments"] for r in by_domain),
        "by_sender_domain": by_domain,
        "gone_items": [_entry(v) for v in states[GONE][:LISTED]],
        "not_looked_up_items": [_entry(v) for v in states[NOT_LOOKED_UP][:LISTED]],
    }
