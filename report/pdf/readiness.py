"""Render the readiness model (report.readiness) as readiness.pdf.

No analysis here: the PDF shows exactly the dict `build_readiness` made, through the shared
building blocks of `evkit.report.pdf.common` (escaping of every tenant-supplied string, pinned
metadata and invariant mode, tables that split across pages).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportlab.platypus import Flowable, PageBreak

from evkit.report.pdf.common import (Column, DocumentInfo, as_dict, as_list, as_rows, build_document,
                               bullet, data_table, esc, note, para, rich, section,
                               show_time, spacer, stat_block)
from evkit.report.pdf.signers import STATE_INVALID, STATE_UNTRUSTED, evidence_state, signer_flowables
from evkit.times import parse_iso_or_none

TITLE = "Logging readiness"
_YES_NO = {True: "yes", False: "NO", None: "n/a"}
_BYPASS = {True: "YES", False: "no", None: "?"}
_LOGON_COLUMNS = (("owner", "MailItemsAccessed", "O read"), ("owner", "Send", "O send"),
                  ("owner", "SearchQueryInitiated", "O search"),
                  ("delegate", "MailItemsAccessed", "D read"),
                  ("admin", "MailItemsAccessed", "A read"), ("admin", "Send", "A send"))


def render_readiness(model: dict[str, Any], out_path: Path) -> None:
    """Write the PDF for `model` to `out_path`; same model, same bytes."""
    tenant = as_dict(model.get("tenant"))
    name = str(tenant.get("domain") or tenant.get("id") or "tenant")
    info = DocumentInfo(title=TITLE, case_id=name, created_utc=parse_iso_or_none(model.get("as_of_utc")),
                        evidence_valid=evidence_state(model) != STATE_INVALID,
                        evidence_trusted=evidence_state(model) != STATE_UNTRUSTED,
                        subject="Could a mailbox breach be investigated from this tenant's audit logging?")
    story: list[Flowable] = []
    story += _page_one(model, name)
    story.append(PageBreak())
    story += _mailbox_tables(model)
    story += _fixes(model)
    story += _switches(model)
    story += _evidence(model)
    build_document(out_path, info, story)


def _page_one(model: dict[str, Any], name: str) -> list[Flowable]:
    summary = as_dict(model.get("summary"))
    out: list[Flowable] = [
        rich(esc(TITLE), "title"),
        rich(f"{esc(name)} &middot; configuration as collected {esc(show_time(model.get('as_of_utc'), ' UTC'))}"
             f" &middot; investigation window {esc(model.get('investigation_days'))} days", "subtitle"),
    ]
    state = evidence_state(model)
    if state == STATE_INVALID:
        out.append(rich("A bundle failed verification: do not rely on this report.", "alert"))
    elif state == STATE_UNTRUSTED:
        out.append(rich("UNTRUSTED EVIDENCE: the bundles were not verified against a key you trust, "
                        "so anyone could have made or altered them: do not rely on this report.", "alert"))
    out.append(para(summary.get("headline", ""), "headline", None))
    out.append(stat_block([
        (f"{summary.get('investigable_percent', 0)}%", "of mailboxes fully investigable"),
        (str(summary.get("investigable", 0)), "investigable"),
        (str(summary.get("partly", 0)), "partly visible"),
        (str(summary.get("blind", 0)), "blind: an attacker's reading would not be logged"),
    ]))
    out.append(spacer(8))
    out += signer_flowables(model)
    out.append(rich("Worst gaps", "h2"))
    gaps = as_rows(summary.get("worst_gaps"))
    if not gaps:
        out.append(para("None: every mailbox logs reads, sends and searches for every logon type."))
    for gap in gaps:
        examples = ", ".join(str(e) for e in as_list(gap.get("examples")))
        out.append(bullet(f"<b>{esc(gap.get('mailboxes'))} mailbox(es)</b>"
                          f" ({esc(gap.get('blinded'))} blinded): {esc(gap.get('text'))}"
                          f" &mdash; e.g. {esc(examples)}"))
    out.append(rich("Fix first", "h2"))
    fixes = as_rows(model.get("fixes"))[:5]
    if not fixes:
        out.append(para("Nothing to fix."))
    for fix in fixes:
        out.append(bullet(f"<b>{esc(fix.get('severity'))}</b> &middot; {esc(fix.get('action'))}"
                          f" ({esc(fix.get('target'))}): <font name='EvkitMono'>{esc(fix.get('command'))}</font>"))
    switches = as_dict(model.get("switches"))
    out.append(rich("Tenant switches", "h2"))
    out.append(bullet(f"Mailbox auditing for the organisation: "
                      f"<b>{_org_audit(switches.get('audit_disabled'))}</b>"))
    ingestion = _on_off(switches.get("unified_audit_log_ingestion_enabled"), "UnifiedAuditLogIngestionEnabled")
    out.append(bullet(f"Unified audit log recording: <b>{ingestion}</b>"))
    bypassed = as_list(switches.get("bypassed_accounts"))
    out.append(bullet("Accounts with an audit bypass association: <b>"
                      + (esc(", ".join(str(b) for b in bypassed)) if bypassed else "none") + "</b>"))
    return out


def _mailbox_tables(model: dict[str, Any]) -> list[Flowable]:
    rows = as_rows(model.get("mailboxes"))
    cols = [Column("Mailbox", 0.245), Column("Type", 0.065), Column("Licence", 0.08),
            Column("Bypass", 0.07)]
    cols += [Column(title, 0.062) for _, _, title in _LOGON_COLUMNS]
    cols += [Column("Log days", 0.065, numeric=True), Column("Verdict", 0.103)]
    table_rows = []
    for r in rows:
        audited = as_dict(r.get("audited"))
        flags = [_YES_NO.get(as_dict(audited.get(logon)).get(action)) for logon, action, _ in _LOGON_COLUMNS]
        age = r.get("audit_log_age_limit_days")
        table_rows.append([r.get("mailbox"), r.get("type"), r.get("licence"), _BYPASS.get(r.get("bypass")),
                           *flags, "?" if age is None else f"{age:g}", r.get("verdict")])
    out: list[Flowable] = [section("Mailboxes")]
    out += data_table(cols, table_rows, what="mailboxes")
    out.append(note("O / D / A = owner, delegate and admin logons; read = MailItemsAccessed, send = Send, "
                    "search = SearchQueryInitiated; n/a: the action does not exist for that logon "
                    "type. Log days = AuditLogAgeLimit (the mailbox audit log's retention)."))
    why = [[r.get("mailbox"), r.get("verdict"), _why(r)]
           for r in rows if r.get("verdict") != "investigable" or r.get("caveats")]
    out.append(rich("Why, mailbox by mailbox", "h2"))
    out += data_table([Column("Mailbox", 0.3), Column("Verdict", 0.1), Column("Reasons", 0.6, limit=None)],
                      why, what="mailboxes")
    return out


def _fixes(model: dict[str, Any]) -> list[Flowable]:
    rows = [[f.get("priority"), f.get("severity"), f.get("target"), f.get("command") or f.get("why"),
             _cis(f.get("cis"))] for f in as_rows(model.get("fixes"))]
    out: list[Flowable] = [section("Fixes, most urgent first")]
    out += data_table([Column("#", 0.05, numeric=True), Column("Severity", 0.09), Column("Target", 0.2),
                       Column("Exchange Online PowerShell", 0.4, mono=True, limit=None),
                       Column("Related CIS recommendation", 0.26, limit=None)], rows, what="fixes")
    notes = sorted({str(f.get("note")) for f in as_rows(model.get("fixes")) if f.get("note")})
    for text in notes:
        out.append(note(text))
    return out


def _switches(model: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = [section("Evidence gaps and limitations")]
    missing = as_list(model.get("missing_evidence"))
    out.append(para("Not collected: " + ", ".join(str(m) for m in missing) if missing
                    else "Every configuration and licence source was collected."))
    out.append(para(model.get("licence_rule", ""), "body", None))
    for text in as_list(model.get("limitations")):
        out.append(bullet(esc(text, None)))
    return out


def _evidence(model: dict[str, Any]) -> list[Flowable]:
    rows = [[b.get("path_name"), b.get("verdict"), b.get("collection_id"), b.get("tagmanifest_sha256"),
             b.get("signer_fingerprint")] for b in as_rows(model.get("bundles"))]
    out: list[Flowable] = [section("Evidence")]
    out += data_table([Column("Bundle", 0.2), Column("Verdict", 0.08), Column("Collection", 0.17),
                       Column("Tag manifest SHA-256", 0.3, mono=True, limit=None),
                       Column("Signer", 0.25, mono=True)], rows, what="bundles")
    return out


def _why(row: dict[str, Any]) -> str:
    reasons = "; ".join(str(x.get("text")) for x in as_rows(row.get("reasons")))
    caveats = "; ".join(str(x.get("text")) for x in as_rows(row.get("caveats")))
    return "; ".join(p for p in (reasons, f"unverified: {caveats}" if caveats else "") if p)


def _cis(value: Any) -> str:
    cis = as_dict(value)
    if not cis:
        return "none covers this gap"
    return f"{cis.get('id', '')} {cis.get('title', '')} ({cis.get('benchmark', '')})"


def _org_audit(disabled: Any) -> str:
    """The organisation switch in words that cannot be misread: the setting is named with its
    value, after the plain on/OFF."""
    return {True: "OFF (AuditDisabled = True)", False: "on (AuditDisabled = False)"}.get(
        disabled, "not collected")


def _on_off(value: Any, setting: str) -> str:
    return {True: f"on ({setting} = True)", False: f"OFF ({setting} = False)"}.get(value, "not collected")
