"""The appendix on the accessed items' metadata (findings.json `item_metadata`, from a resolve
bundle): who sent the items the attacker confirmed or must be presumed to have read, by sender
domain, so a legal team can see whom a notification concerns. Only when a resolve bundle was
given; items not looked up and items the mailbox no longer holds are counted, never dropped."""

from __future__ import annotations

from reportlab.platypus import CondPageBreak, Flowable

from evkit.report.outputs.model import Findings
from evkit.report.pdf.common import Column, as_dict, as_rows, bullet, data_table, esc, plural, rich, section

TITLE = "Accessed items by sender domain"
SHOWN_GONE = 20


def item_metadata_flowables(findings: Findings) -> list[Flowable]:
    meta = as_dict(findings.get("item_metadata"))
    if not meta:
        return []
    named = int(meta.get("named_items") or 0)
    out: list[Flowable] = [CondPageBreak(150), section(TITLE), rich(
        f"The {plural(named, 'named item', 'named items')} the report confirms or presumes accessed were "
        "looked up in their mailboxes (subject, sender, recipients, received time, importance, whether "
        "they carry attachments; never their content). items.csv lists every item with its metadata.",
        "body")]
    counts = [("found", "found in the mailbox"),
              ("gone", "no longer in the mailbox's folders when looked up (deleted, or moved to an archive "
                       "mailbox; a deleted item may still be held in Recoverable Items)"),
              ("no_such_mailbox", "in a mailbox that no longer exists"),
              ("not_looked_up", "not looked up: no resolve bundle answers for them, so nothing is known "
                                "of them beyond their id")]
    out += [bullet(f"{int(meta.get(key) or 0):,} {esc(words, None)}") for key, words in counts
            if int(meta.get(key) or 0) or key == "found"]
    if meta.get("redacted_subjects"):
        out.append(rich("Subjects are left out of this report (--redact-subjects).", "note"))
    rows = [[d.get("domain"), d.get("items"), d.get("confirmed"), d.get("inferred"), d.get("with_attachments"),
             d.get("high_importance")] for d in as_rows(meta.get("by_sender_domain"))]
    out += data_table([Column("Sender domain", 0.36, mono=True, limit=120), Column("Items", 0.12, True),
                       Column("Confirmed", 0.13, True), Column("Presumed", 0.13, True),
                       Column("With attachments", 0.14, True), Column("High importance", 0.12, True)],
                      rows, what="items found in their mailbox")
    gone = as_rows(meta.get("gone_items"))
    if gone:
        out.append(rich("Items no longer in their mailbox", "h3"))
        out += data_table([Column("Mailbox", 0.34, limit=120), Column("InternetMessageId", 0.5, mono=True, limit=200),
                           Column("Classification", 0.16)],
                          [[g.get("mailbox"), g.get("internet_message_id"), g.get("classification")]
                           for g in gone[:SHOWN_GONE]], what="items no longer in their mailbox")
        if int(meta.get("gone") or 0) > SHOWN_GONE:
            out.append(rich(f"... and {int(meta['gone']) - SHOWN_GONE:,} more, listed in findings.json and "
                            "items.csv.", "note"))
    return out
