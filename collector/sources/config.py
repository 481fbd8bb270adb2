"""`config`: the tenant's audit configuration through InvokeCommand (DESIGN 4.1).

Get-OrganizationConfig, Get-AdminAuditLogConfig, Get-Mailbox with the audit property set and
every recipient type (shared mailboxes included), Get-MailboxAuditBypassAssociation, and
Get-MailboxFolderStatistics for each in-scope mailbox (its item counts size what a Sync
exposed). Each cmdlet (and each mailbox) is one ledger unit, finished units are not asked
again on resume; `@odata.nextLink` truncation is followed by re-posting the same body.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evkit.collector.errors import AuthError, CollectorError
from evkit.collector.evidence import subject_name
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry
from evkit.collector.sources.base import SourceContext, values
from evkit.evidence.kinds import config_kind

SOURCE = "config"
TENANT_CMDLETS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Get-OrganizationConfig", {}),
    ("Get-AdminAuditLogConfig", {}),
    ("Get-Mailbox", {"ResultSize": "Unlimited", "PropertySets": ["Audit", "Minimum"]}),
    ("Get-MailboxAuditBypassAssociation", {"ResultSize": "Unlimited"}),
)
FOLDER_STATS = "Get-MailboxFolderStatistics"


def run_cmdlet(ctx: SourceContext, cmdlet: str, params: dict[str, Any], unit: str,
               context: dict[str, Any]) -> tuple[list[Any], int]:
    """All rows of one cmdlet, following @odata.nextLink; returns (rows, retries)."""
    rows: list[Any] = []
    retries, url = 0, None
    number = 1  # a unit not finished is asked again whole; stored pages get `.r2` names
    while True:
        resp = ctx.invoke(cmdlet, params, source=SOURCE, unit=unit, name=f"p{number:06d}",
                          kind=config_kind(cmdlet), context=context, url=url)
        retries += resp.retries
        rows.extend(values(resp.data))
        url = resp.data.get("@odata.nextLink") if isinstance(resp.data, dict) else None
        if not url:
            break
        number += 1
    return rows, retries


def _unit(ctx: SourceContext, cmdlet: str, params: dict[str, Any], unit: str,
          context: dict[str, Any], keep: Callable[[list[Any]], Any] | None = None) -> list[Any] | None:
    if ctx.state.finished(SOURCE, unit) is not None and ctx.state.finished(SOURCE, unit).status == COMPLETE:
        return None
    try:
        rows, retries = run_cmdlet(ctx, cmdlet, params, unit, context)
    except CollectorError as exc:
        # incl. AuthError: a cmdlet the app may not run (adminapi's 403) is a gap for this unit
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, str(exc)), lazy="/" in unit)
        return None
    ctx.progress.records(SOURCE, len(rows))
    kept = keep(rows) if keep is not None else None
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len(rows), retries, COMPLETE, ""),
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
        _unit(ctx, FOLDER_STATS, {"Identity": mailbox}, f"{FOLDER_STATS}/{subject_name(mailbox)}",
              {"cmdlet": FOLDER_STATS, "mailbox": mailbox})

    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="cfg") as pool:
        list(pool.map(folder_stats, targets))
