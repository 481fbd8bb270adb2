"""`items` (run by `evkit resolve`, never by `evkit collect`): the metadata of the items a report
named, looked up by InternetMessageId with Graph `Mail.ReadBasic.All` (docs/microsoft-365.md §9).

One unit per mailbox. Its lookups go out 20 to a JSON batch; every batch answer is stored byte for
byte (the sidecar keeps the request, so each answer can be matched to its item). A request the
service throttles inside a batch is sent again after its own Retry-After; a message the mailbox no
longer holds is an answer too ("gone"), never a failure. A refusal (no Mail.ReadBasic.All) fails
the unit with the permission named; the other mailboxes go on.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from evkit.collector.errors import CollectorError
from evkit.collector.evidence import subject_name
from evkit.collector.itemlist import ResolveRequest, WantedItem
from evkit.collector.ledger import COMPLETE, FAILED, LedgerEntry
from evkit.collector.permissions import MAIL_BASIC
from evkit.collector.sources.base import SourceContext
from evkit.evidence.itemmeta import batch_answers, item_meta
from evkit.evidence.kinds import ITEMS_BATCH

SOURCE = "items"
BATCH = 20
SELECT = ("internetMessageId,subject,from,sender,toRecipients,ccRecipients,bccRecipients,"
          "receivedDateTime,sentDateTime,importance,hasAttachments,parentFolderId")
REQUEST_FILE = "resolve/request.json"
RETRYABLE = (429, 500, 502, 503, 504)
MAX_ROUNDS = 8


def lookup_url(mailbox: str, imid: str) -> str:
    """The batch-relative URL of one lookup: the id as an OData literal, everything encoded."""
    literal = "'" + imid.replace("'", "''") + "'"
    return (f"/users/{quote(mailbox, safe='@')}/messages?$filter="
            f"{quote('internetMessageId eq ' + literal, safe='')}&$select={SELECT}")


def collect(ctx: SourceContext) -> None:
    request: ResolveRequest = ctx.extra["resolve"]
    ctx.evidence.put_file(REQUEST_FILE, json.dumps(request.to_json(), indent=1, ensure_ascii=False).encode("utf-8"))
    by_mailbox: dict[str, list[WantedItem]] = {}
    for item in request.items:
        by_mailbox.setdefault(item.mailbox, []).append(item)
    ctx.progress.add_units(SOURCE, len(by_mailbox))
    for mailbox, items in sorted(by_mailbox.items()):
        _mailbox(ctx, mailbox, [i.internet_message_id for i in items])


def answered(ctx: SourceContext, unit: str) -> dict[str, int]:
    """Items a stored batch of this unit already answered (200: found or gone; 404: no mailbox)."""
    done: dict[str, int] = {}
    for sidecar, body in ctx.evidence.read_back(SOURCE, unit, ITEMS_BATCH):
        for imid, status, answer, _ in batch_answers(sidecar.get("request_body"), body):
            if _usable(status, imid, answer):
                done[imid] = status
    return done


def _mailbox(ctx: SourceContext, mailbox: str, imids: list[str]) -> None:
    unit = subject_name(mailbox)
    done = ctx.state.finished(SOURCE, unit)
    if done is not None and done.status == COMPLETE:
        return
    results = answered(ctx, unit)
    pending = [i for i in imids if i not in results]
    retries, rounds, refusal = 0, 0, ""
    graph = f"{ctx.config.endpoints.graph}/v1.0/$batch"
    while pending and rounds < MAX_ROUNDS and not refusal:
        rounds += 1
        again: list[str] = []
        wait = 0.0
        for start in range(0, len(pending), BATCH):
            chunk = pending[start:start + BATCH]
            # only the documented members: OData's JSON batch reader refuses any other (docs/microsoft-365.md §9);
            # the evidence reader takes each id back from its URL (evkit.evidence.itemmeta.asked_id)
            body = {"requests": [{"id": str(n), "method": "GET", "url": lookup_url(mailbox, imid)}
                                 for n, imid in enumerate(chunk)]}
            try:
                resp = ctx.client.request("POST", graph, scope=ctx.config.endpoints.graph_scope, json_body=body,
                                          record=ctx.evidence.recorder(SOURCE, unit, "batch", ITEMS_BATCH,
                                                                       {"mailbox": mailbox}))
            except CollectorError as exc:
                ctx.finish(LedgerEntry(SOURCE, unit, None, len(imids), len(results), len(results), retries,
                                       FAILED, str(exc)))
                return
            retries += resp.retries
            seen: set[str] = set()
            for imid, status, answer, headers in batch_answers(body, resp.body):
                seen.add(imid)
                if _usable(status, imid, answer):
                    results[imid] = status
                elif status in (401, 403):
                    refusal = f"{MAIL_BASIC.describe(ctx.config)} (HTTP {status} inside a Graph batch)"
                elif status in RETRYABLE:
                    again.append(imid)
                    wait = max(wait, _retry_after(headers))
                else:
                    again.append(imid)
            again += [i for i in chunk if i not in seen and i not in again]  # a response left out
            ctx.progress.records(SOURCE, len(seen))
        pending = [i for i in again if i not in results]
        if pending and not refusal and rounds < MAX_ROUNDS:  # no wait after the last round
            retries += 1
            ctx.sleep(min(max(wait, 1.0), 120.0))
    status = COMPLETE if not pending and not refusal else FAILED
    reason = refusal or (f"{len(pending)} item(s) not answered after {rounds} round(s)" if pending else "")
    ctx.finish(LedgerEntry(SOURCE, unit, None, len(imids), len(results), len(results), retries, status, reason,
                           extra={"mailbox": mailbox}))


def _usable(status: int, imid: str, answer: Any) -> bool:
    """An answer the report reads as found, gone or no such mailbox (evkit.evidence.itemmeta);
    any other 200 (a message other than the one asked, a body without `value`) is asked again."""
    return status in (200, 404) and item_meta("", imid, status, answer, "") is not None


def _retry_after(headers: Any) -> float:
    """The Retry-After (seconds) a throttled request in a batch carried; 0 when none."""
    if not isinstance(headers, dict):
        return 0.0
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), 0)
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0
