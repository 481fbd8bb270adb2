"""`mailbox`: the BEC state of mailboxes at collection time, through InvokeCommand
(docs/collection.md §1; the cmdlets and their roles in docs/microsoft-365.md §8).

Tenant units: `Get-Mailbox -ResultSize Unlimited` (forwarding settings and send-on-behalf
delegates of every mailbox, and the mailbox list), `Get-TransportRule`, `Get-AcceptedDomain`
(which forwarding targets are external). Per mailbox, one unit per cmdlet:
`Get-InboxRule -Mailbox X -IncludeHidden` (hidden rules are how forwarding is concealed) and
again without the switch (what Outlook shows: the rules missing from it are the hidden ones),
`Get-MailboxPermission`, `Get-RecipientPermission` (SendAs), and `Get-MailboxFolderPermission`
of the top folders (the root, Inbox and Calendar, whose Delegate flag marks delegates).

The mailboxes are the config's `users` (every mailbox when it is empty), or every mailbox with
`mailbox_scope = "all"`. Answers are stored byte for byte; `@adminapi.warnings` is read on
each; a cmdlet the app may not run fails its units with the exact fix (after the first refusal
it is not asked again for the other mailboxes) while the other cmdlets go on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evkit.collector.errors import CollectorError
from evkit.collector.evidence import subject_name
from evkit.collector.ledger import COMPLETE, FAILED, SKIPPED, LedgerEntry
from evkit.collector.permissions import PermissionMissing
from evkit.collector.sources.base import SourceContext
from evkit.collector.sources.config import mailbox_names, run_cmdlet, warned_status
from evkit.evidence.kinds import mailbox_kind

SOURCE = "mailbox"
LIST = "Get-Mailbox"
TENANT_CMDLETS: tuple[tuple[str, dict[str, Any]], ...] = (
    (LIST, {"ResultSize": "Unlimited"}),
    ("Get-TransportRule", {"ResultSize": "Unlimited"}),
    ("Get-AcceptedDomain", {"ResultSize": "Unlimited"}),
)
FOLDER_PERMISSION = "Get-MailboxFolderPermission"
TOP_FOLDERS = ("", "Inbox", "Calendar")  # "" = the mailbox's root (Top of Information Store)
NO_MAILBOXES = "per-mailbox"  # the unit that says why no per-mailbox cmdlet ran


def mailbox_calls(mailbox: str) -> tuple[tuple[str, list[tuple[dict[str, Any], str, dict[str, Any]]]], ...]:
    """Per-mailbox cmdlets: (cmdlet, [(parameters, page-name prefix, sidecar context extra)...])."""
    folders = [({"Identity": f"{mailbox}:\\{f}" if f else mailbox}, f"{f.lower() or 'root'}-", {"part": f or "\\"})
               for f in TOP_FOLDERS]
    return (
        # with -IncludeHidden every rule; without it, the ones Outlook shows: the difference is hidden
        ("Get-InboxRule", [({"Mailbox": mailbox, "IncludeHidden": True, "ResultSize": "Unlimited"}, "", {}),
                           ({"Mailbox": mailbox, "ResultSize": "Unlimited"}, "visible-", {"part": "visible"})]),
        ("Get-MailboxPermission", [({"Identity": mailbox, "ResultSize": "Unlimited"}, "", {})]),
        ("Get-RecipientPermission", [({"Identity": mailbox, "ResultSize": "Unlimited"}, "", {})]),
        (FOLDER_PERMISSION, folders),
    )


class _Refusals:
    """Cmdlets the app was refused: their other units fail with the same fix, unasked."""

    def __init__(self) -> None:
        self.by_cmdlet: dict[str, str] = {}


def _unit(ctx: SourceContext, cmdlet: str, unit: str, calls: list[tuple[dict[str, Any], str, dict[str, Any]]],
          context: dict[str, Any], refusals: _Refusals) -> list[Any] | None:
    """Run one ledger unit (one or more calls of one cmdlet); its rows, or None when not run."""
    done = ctx.state.finished(SOURCE, unit)
    if done is not None and done.status == COMPLETE:
        return None
    lazy = "/" in unit
    refused = refusals.by_cmdlet.get(cmdlet)
    if refused is not None:
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, 0, 0, 0, FAILED, refused), lazy=lazy)
        return None
    rows: list[Any] = []
    warnings: list[str] = []
    retries = 0
    try:
        for params, prefix, extra in calls:
            got, tries = run_cmdlet(ctx, cmdlet, params, unit, context | extra, warnings, source=SOURCE,
                                    kind=mailbox_kind(cmdlet), prefix=prefix)
            rows += got
            retries += tries
    except PermissionMissing as exc:
        refusals.by_cmdlet[cmdlet] = str(exc)
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len(rows), retries, FAILED, str(exc)), lazy=lazy)
        return None
    except CollectorError as exc:
        ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len(rows), retries, FAILED, str(exc)), lazy=lazy)
        return None
    ctx.progress.records(SOURCE, len(rows))
    status, reason = warned_status(warnings)
    keep = (lambda s: s.setdefault(SOURCE, {}).__setitem__("mailboxes", mailbox_names(rows))) \
        if cmdlet == LIST else None
    ctx.finish(LedgerEntry(SOURCE, unit, None, None, len(rows), len(rows), retries, status, reason,
                           {"warnings": warnings} if warnings else {}), update=keep, lazy=lazy)
    return rows


def targets(ctx: SourceContext) -> list[str]:
    """The mailboxes whose state is collected, one per case-insensitive name."""
    listed: list[str] = list(ctx.state.section(SOURCE).get("mailboxes") or [])
    chosen = listed if ctx.config.mailbox_scope == "all" or not ctx.config.users else list(ctx.config.users)
    return list({m.lower(): m for m in chosen}.values())


def _no_mailboxes(ctx: SourceContext) -> None:
    listed = ctx.state.finished(SOURCE, LIST)
    why = ("Get-Mailbox listed no mailbox" if listed is not None and listed.status == COMPLETE
           else "the mailbox list (Get-Mailbox) was not collected")
    ctx.progress.add_units(SOURCE, 1)
    ctx.finish(LedgerEntry(SOURCE, NO_MAILBOXES, None, None, 0, 0, 0, SKIPPED,
                           f"no mailbox to read: {why} and the config names no `users`, so no inbox rule, "
                           f"mailbox permission, SendAs or folder permission was read"))


def collect(ctx: SourceContext) -> None:
    refusals = _Refusals()
    ctx.progress.add_units(SOURCE, len(TENANT_CMDLETS))
    for cmdlet, params in TENANT_CMDLETS:
        _unit(ctx, cmdlet, cmdlet, [(params, "", {})], {"cmdlet": cmdlet}, refusals)
    mailboxes = targets(ctx)
    if not mailboxes:  # no per-mailbox unit would be recorded: say why instead of leaving no trace
        _no_mailboxes(ctx)
        return
    if ctx.state.finished(SOURCE, NO_MAILBOXES) is not None:  # an earlier run's skip, now resolved
        ctx.finish(LedgerEntry(SOURCE, NO_MAILBOXES, None, None, len(mailboxes), len(mailboxes), 0, COMPLETE, "",
                               {"mailboxes": len(mailboxes)}))
    per_mailbox = [(cmdlet, f"{cmdlet}/{subject_name(mailbox)}", calls, {"cmdlet": cmdlet, "mailbox": mailbox})
                   for mailbox in mailboxes for cmdlet, calls in mailbox_calls(mailbox)]
    ctx.progress.add_units(SOURCE, len(per_mailbox))

    def run(job: tuple[str, str, list[tuple[dict[str, Any], str, dict[str, Any]]], dict[str, Any]]) -> None:
        _unit(ctx, job[0], job[1], job[2], job[3], refusals)

    with ThreadPoolExecutor(max_workers=ctx.config.tuning.concurrency, thread_name_prefix="mbx") as pool:
        list(pool.map(run, per_mailbox))
