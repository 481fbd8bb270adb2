"""`config`: the tenant's audit configuration through InvokeCommand (docs/collection.md §1).

Get-OrganizationConfig, Get-AdminAuditLogConfig, Get-Mailbox (its full object carries the audit
properties; Get-Mailbox has no -PropertySets, docs/emulator-fidelity.md) for every recipient type
(shared mailboxes included), Get-MailboxAuditBypassAssociation, and Get-MailboxFolderStatistics
with -ResultSize Unlimited for each in-scope mailbox (its item counts size what a Sync exposed).
Each cmdlet (and each mailbox) is one ledger unit, finished units are not asked again on resume;
`@odata.nextLink` truncation is followed by re-posting the same body. `@adminapi.warnings` is
read on every answer: a "more results" warning makes the unit `capped`, any other warning is
kept in the ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evkit.collector.errors import CollectorError
from evkit.collector.evidence import subject_name
from evkit.collector.ledger import CAPPED, COMPLETE, FAILED, LedgerEntry
from evkit.collector.sources.base import SourceContext, values
from evkit.evidence.kinds import config_kind

SOURCE = "config"
TENANT_CMDLETS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Get-OrganizationConfig", {}),
    ("Get-AdminAuditLogConfig", {}),
    ("Get-Mailbox", {"ResultSize": "Unlimited"}),
    ("Get-MailboxAuditBypassAssociation", {"ResultSize": "Unlimited"}),
)
FOLDER_STATS = "Get-MailboxFolderStatistics"


WARNINGS = "@adminapi.warnings"
MORE_RESULTS = "more results available"


def warnings_of(data: Any) -> list[str]:
    """The `@adminapi.warnings` texts of one InvokeCommand answer."""
    found = data.get(WARNINGS) if isinstance(data, dict) else None
    return [str(w) for w in found if isinstance(w, str) and w.strip()] if isinstance(found, list) else []


def warned_status(warnings: list[str]) -> tuple[str, str]:
    """(status, reason) of a unit from its answers' warnings: a "more results" warning caps it."""
    truncated = [w for w in warnings if MORE_RESULTS in w.lower()]
    if truncated:
        return CAPPED, f"the service warned that it returned only part of the result: {truncated[0]}"
    return COMPLETE, ""


def run_cmdlet(ctx: SourceContext, cmdlet: str, params: dict[str, Any], unit: str,
               context: dict[str, Any], warnings: list[str] | None = None, *, source: str = SOURCE,
               kind: str | None = None, prefix: str = "") -> tuple[list[Any], int]:
    """All rows of one cmdlet, following @odata.nextLink; returns (rows, retries). Every page's
    `@adminapi.warnings` texts are appended to `warnings` when given. Pages are stored under
    `source`/`unit` as `<prefix>p000001`... with `kind` (default: the config kind)."""
    rows: list[Any] = []
    retries, url = 0, None
    number = 1  # a unit not finished is asked again whole; stored pages get `.r2` names
    while True:
        resp = ctx.invoke(cmdlet, params, source=source, unit=unit, name=f"{prefix}p{number:06d}",
                          kind=kind or config_kind(cmdlet), context=context, url=url)
        retries += resp.retries
        rows.extend(values(resp.data))
        if warnings is not None:
            warnings.extend(w for w in warnings_of(resp.data) if w not in warnings)
        url = resp.data.get("@odata.nextLink") if isinstance(resp.data, dict) else None
        if not url:
            break
        number += 1
    return rows, retries


def _unit(ctx: SourceContext, cmdlet: str, params: dict[str, Any], unit: str,
          context: dict[str, Any], keep: Callable[[list[Any]], Any] | None = None) -> list[Any] | None:
    if ctx.state.finished(SOURCE, unit) is not None and ctx.state.finished(SOURCE, unit).status == COMPLETE:
        return None
    warnings: list[str] = []
    try:
        rows, retries = run_cmdlet(ctx, cmdlet, params, unit, context, warnings)
    except CollectorError as exc:
        # incl. AuthError: a cmdlet the app may not run (adminapi's 403) is a gap for this unit
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, str(exc)), lazy="/" in unit)
        return None
    ctx.progress.records(SOURCE, len(rows))
    kept = keep(rows) if keep is not None else None
    status, reason = warned_status(warnings)
    extra = {"warnings": warnings} if warnings else {}
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len(rows), retries, status, reason, extra),
               update=(lambda s: s.setdefault(SOURCE, {}).__setitem__("mailboxes", kept)) if keep is not None else None,
               lazy="/" in unit)
    return rows


def mailbox_names(rows: list[Any]) -> list[str]:
    """Addresses of every mailbox Get-Mailbox listed (user, shared, room...)."""
    names = []
    for row in rows:
        if isinstance(row, dict):
            name = row.get("PrimarySmtpAddress") or row.get("UserPrincipalName") or row.get("Identity")
            if name:
                names.append(str(name))
    return names


def collect(ctx: SourceContext) -> None:
    ctx.progress.add_units(SOURCE, len(TENANT_CMDLETS))
    for cmdlet, params in TENANT_CMDLETS:
        _unit(ctx, cmdlet, params, cmdlet, {"cmdlet": cmdlet},
              keep=mailbox_names if cmdlet == "Get-Mailbox" else None)
    # The mailbox list was committed together with Get-Mailbox's ledger entry.
    listed = list(ctx.config.users) or list(ctx.state.section(SOURCE).get("mailboxes") or [])
    # one unit per mailbox; names are case-insensitive (and so is the bundle's name policy)
    targets = list({m.lower(): m for m in listed}.values())
    ctx.progress.add_units(SOURCE, len(targets))

    def folder_stats(mailbox: str) -> None:
        _unit(ctx, FOLDER_STATS, {"Identity": mailbox, "ResultSize": "Unlimited"}, f"{FOLDER_STATS}/{subject_name(mailbox)}",
              {"cmdlet": FOLDER_STATS, "mailbox": mailbox})

    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="cfg") as pool:
        list(pool.map(folder_stats, targets))
