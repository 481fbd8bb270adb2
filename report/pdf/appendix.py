"""Methodology, limitations and the evidence appendix of the breach-scope PDF.

The methodology text is evkit's own (what Microsoft's logs can and cannot show, from
docs/methodology.md §3 and the MailItemsAccessed documentation); the limitations the analysis states for
this case follow it. The appendix names every bundle by id, tag-manifest SHA-256 and signer
fingerprint, and lists its custody chain, so a reader can check the report against the evidence.
"""

from __future__ import annotations


from typing import Any

from reportlab.platypus import CondPageBreak, Flowable, KeepTogether

from evkit.report.outputs.model import Findings
from evkit.report.pdf.itemmeta import item_metadata_flowables
from evkit.report.pdf.common import (
    Column, as_list, as_rows, bullet, data_table, esc, none_found, rich, section, show_time,
)

METHOD = (
    ("Confirmed", "An item is confirmed when an access record attributed to the attacker names "
     "it: a MailItemsAccessed Bind record listing its message id, or a send, move, delete or "
     "update of it. Attribution comes from the case file's indicators (accounts, IP addresses, "
     "applications, sessions, client strings) within the incident window; a session with any "
     "attributed record is attributed as a whole."),
    ("Inferred", "An item is presumed read when it sat in a folder the attacker synchronised, "
     "when the attacker was active during a throttled window of its mailbox, or (flagged only) "
     "when its subject matches one of the attacker's searches."),
    ("Unknown", "A mailbox, or a period of one, is unknown when the records that would show "
     "access cannot exist or were not collected: auditing off, audit bypass, MailItemsAccessed "
     "not in the audit set, no qualifying licence, audit ingestion off, or a collection window "
     "that was capped or failed. Unknown never means \"no access\"."),
)

# The words the report uses, as an executive or a lawyer would put them.
GLOSSARY = (
    ("Confirmed", "an item a Microsoft access record names as opened, sent, moved or deleted by "
     "the attacker."),
    ("Presumed read", "an item the attacker could read although no record names it opening it: it "
     "was in a folder the attacker downloaded (Sync), in a throttled window, or matched a search. "
     "Named items are listed; the rest are counted from folder sizes."),
    ("Cannot be assessed", "no attacker access was found, but the records that would show it were "
     "not kept or not collected, so access can be neither confirmed nor ruled out."),
    ("No evidence of access", "the mailbox's whole incident window is covered by readable records "
     "with auditing working, and none shows the attacker."),
    ("Bind", "Microsoft's record that a message was opened (read) through a mail client or "
     "application; it lists the messages opened."),
    ("Sync", "Microsoft's record that a whole folder was downloaded by a desktop mail client; it "
     "names the folder, not the messages."),
    ("Throttling", "when a mailbox generates more than 1,000 access records in a day, Microsoft "
     "stops recording individual opens for the next 24 hours."),
    ("Audit set", "the list of actions a mailbox records (for example MailItemsAccessed, the "
     "record of mail reading). An action missing from it is simply not recorded."),
    ("Audit bypass", "a setting that exempts an account from mailbox auditing: nothing it does "
     "is recorded while the setting is in force."),
    ("Audit (Premium) / Audit (Standard)", "Microsoft's audit licence tiers. Mail-reading "
     "records came only with Audit (Premium) (E5 and similar) until Microsoft extended them to "
     "Audit (Standard) in 2023-2024."),
    ("Logon type", "who opened the mailbox: its owner, a delegate (another user with access) or "
     "an administrator or application. Each is audited separately."),
    ("Evidence bundle", "a sealed folder of collected records with a manifest of every file's "
     "hash and the examiner's signature; any change to a byte is detected."),
)

LIMITS = (
    "Throttling: after more than 1,000 MailItemsAccessed records in under 24 hours, Exchange "
    "stops logging individual opens (Bind) for the next 24 hours. Only the first record says so "
    "(IsThrottled); what was opened in that window cannot be known.",
    "Aggregation: opens within a 2-minute interval are merged into one record that lists the "
    "messages. Times of individual opens within that interval cannot be told apart.",
    "De-duplication: identical access records within one hour are dropped by Microsoft, and "
    "folder syncs are filtered at one-hour intervals. Repeated reading of the same item within "
    "the hour leaves one record.",
    "Sync is logged per folder, not per item, and only for Outlook for desktop. Items in a "
    "synced folder are presumed read; those no record names are counted, not listed.",
    "Licences and the 2023-2024 logging expansion: MailItemsAccessed was recorded only for "
    "Audit (Premium) licences (E5 and equivalents) until Microsoft extended it to Audit "
    "(Standard) in 2023-2024. Mailboxes with customised audit sets may still lack it.",
    "What MailItemsAccessed cannot show: what the attacker did with an item after opening it "
    "(copies, forwarding outside Exchange, screenshots), reading by other means (for example "
    "a synced device's local copy), and access before the audit log's retention period.",
)


def glossary_flowables() -> list[Flowable]:
    """The terms of the report in plain words."""
    out: list[Flowable] = [CondPageBreak(200), section("Glossary")]
    out += [rich(f"<b>{esc(term)}:</b> {esc(text, None)}", "bullet") for term, text in GLOSSARY]
    return out


def methodology_flowables(findings: Findings) -> list[Flowable]:
    """How items were classified, the logs' general limits and this case's own limitations."""
    out: list[Flowable] = [CondPageBreak(150), section("Methodology and limitations")]
    for term, text in METHOD:
        out.append(rich(f"<b>{esc(term)}.</b> {esc(text, None)}"))
    out.append(rich("<b>Limits of Microsoft's records</b>", "h2"))
    out += [bullet(esc(text, None)) for text in LIMITS]
    out.append(rich("<b>Limitations stated for this case</b>", "h2"))
    stated = as_list(findings.get("limitations"))
    out += [bullet(esc(text, 800)) for text in stated] or [none_found(
        "None stated beyond the general limits above.")]
    out.append(rich("Text from the evidence (subjects, folder names, queries) is shown exactly "
                    "as recorded, with markup shown as text, in fonts embedded in this file. A "
                    "character none of them can draw, and any invisible control character, is "
                    "shown as its code point in brackets, for example [U+202E]; very long values "
                    "are cut with a marker; findings.json holds every value in full.", "note"))
    return out


def evidence_flowables(findings: Findings) -> list[Flowable]:
    """Bundle identities and their custody chains."""
    out: list[Flowable] = [CondPageBreak(150), section("Evidence appendix"),
                 rich("Each evidence bundle the report was built from, as identified by its "
                      "sealed tag manifest and signature, and every custody record in it. "
                      "The bundle's own VERIFY.md explains how to check these values with "
                      "standard tools.", "body")]
    bundles = as_rows(findings.get("bundles"))
    if not bundles:
        return [*out, none_found("None found: the findings list no evidence bundle.")]
    for b in bundles:
        block: list[Flowable] = [rich(f"Bundle {esc(b.get('path_name') or b.get('collection_id'), 120)}", "h2")]
        block += data_table([Column("Field", 0.24), Column("Value", 0.76, mono=True, limit=200)],
                            [["Case id", b.get("case_id")], ["Collection id", b.get("collection_id")],
                             ["Verification verdict", b.get("verdict")],
                             ["Tag-manifest SHA-256", b.get("tagmanifest_sha256")],
                             ["Signer", _signer_words(b)],
                             ["Signer fingerprint", b.get("signer_fingerprint")]])
        checks = as_list(b.get("verification_findings"))
        if checks:
            block.append(rich("Verification findings", "h3"))
            block += [bullet(esc(c, 400)) for c in checks]
        custody = [[c.get("seq"), c.get("event"), show_time(c.get("time_utc")), c.get("actor"),
                    c.get("to") or "-"] for c in as_rows(b.get("custody"))]
        block.append(rich("Custody chain", "h3"))
        block += data_table([Column("#", 0.05, True), Column("Event", 0.14),
                             Column("Time (UTC)", 0.15), Column("By", 0.4), Column("To", 0.26)],
                            custody, what="custody records")
        out.append(KeepTogether(block))         # a bundle's identity and custody on one page
    return out


def appendix_flowables(findings: Findings) -> list[Flowable]:
    """The items' metadata when looked up, the glossary, the methodology, then the evidence
    appendix (the last pages of the report)."""
    return (item_metadata_flowables(findings) + glossary_flowables() + methodology_flowables(findings)
            + evidence_flowables(findings))


def _signer_words(bundle: dict[str, Any]) -> str:
    """The signer, and whether a key the reader trusts confirmed it."""
    who = bundle.get("signer") if isinstance(bundle.get("signer"), str) else "not stated"
    if bundle.get("verdict") == "valid":
        return f"{who} (verified against the key you trust)"
    return f"{who} (claimed by the bundle; NOT verified against a key you trust)"
