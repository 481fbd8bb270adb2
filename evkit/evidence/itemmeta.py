"""Item metadata in a resolve bundle (`evkit resolve`, docs/evidence-layout.md): the stored Graph
batch answers, read back into one entry per (mailbox, InternetMessageId).

Each stored batch keeps its request in the sidecar; every request names the InternetMessageId it
looks up (`imid`), so an answer is tied to its item without trusting anything the answer says
about itself. A 200 with a message is "found", a 200 with none is "gone" (the mailbox no longer
holds it), a 404 is "no such mailbox". Anything unreadable is a problem, never an absence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evkit.evidence.inventory import Inventory
from evkit.evidence.raw import read_page_body

FOUND, GONE, NO_MAILBOX = "found", "gone", "no such mailbox"
RESOLVE_KIND = "resolve"  # data/collection.json `kind` of a resolve bundle


@dataclass(frozen=True, slots=True)
class ItemMeta:
    """What the mailbox said of one item when it was looked up."""

    mailbox: str
    internet_message_id: str
    state: str                      # FOUND | GONE | NO_MAILBOX
    subject: str | None = None
    sender: str | None = None       # the From address
    sender_name: str | None = None
    recipients: tuple[str, ...] = ()
    received_utc: str | None = None
    importance: str | None = None
    has_attachments: bool | None = None
    bundle: str = ""

    @property
    def sender_domain(self) -> str | None:
        if not self.sender or "@" not in self.sender:
            return None
        return self.sender.rsplit("@", 1)[1].lower()


def batch_answers(request_body: Any, body: bytes) -> Iterator[tuple[str, int, Any, Any]]:
    """(InternetMessageId, status, response body, response headers) for each request of a stored
    batch whose request named its item; answers to requests it did not make are ignored."""
    try:
        answer = json.loads(body)
        asked = {str(r["id"]): str(r["imid"]) for r in request_body["requests"]}
    except (ValueError, TypeError, KeyError):
        return
    for response in answer.get("responses", []) if isinstance(answer, dict) else []:
        if not isinstance(response, dict) or str(response.get("id")) not in asked:
            continue
        status = response.get("status")
        yield (asked[str(response["id"])], status if isinstance(status, int) else 0, response.get("body"),
               response.get("headers"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _address(value: Any) -> tuple[str | None, str | None]:
    """(address, name) of a Graph recipient object."""
    email = value.get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(email, dict):
        return None, None
    return _text(email.get("address")), _text(email.get("name"))


def item_meta(mailbox: str, imid: str, status: int, body: Any, bundle: str) -> ItemMeta | None:
    """The metadata one answer gives, or None when it gives none (throttled, refused, unreadable)."""
    if status == 404:
        return ItemMeta(mailbox, imid, NO_MAILBOX, bundle=bundle)
    value = body.get("value") if status == 200 and isinstance(body, dict) else None
    if not isinstance(value, list):
        return None
    if not value:
        return ItemMeta(mailbox, imid, GONE, bundle=bundle)
    message = value[0] if isinstance(value[0], dict) else {}
    sender, name = _address(message.get("from") or message.get("sender"))
    recipients = tuple(a for field in ("toRecipients", "ccRecipients", "bccRecipients")
                       for r in _list(message.get(field))
                       if (a := _address(r)[0]))
    attachments = message.get("hasAttachments")
    return ItemMeta(mailbox, imid, FOUND, _text(message.get("subject")), sender, name, recipients,
                    _text(message.get("receivedDateTime")), _text(message.get("importance")),
                    attachments if isinstance(attachments, bool) else None, bundle)


def is_resolve_bundle(inv: Inventory) -> bool:
    return inv.collection.get("kind") == RESOLVE_KIND


def read_item_metadata(inventories: Sequence[Inventory]) -> tuple[dict[tuple[str, str], ItemMeta], list[str]]:
    """Every item the resolve bundles among `inventories` answered, by (mailbox, imid), and the
    problems met. Two answers for one item: a found message wins over "gone" (an earlier lookup
    may predate delivery to a folder it could see); two different messages are a problem."""
    found: dict[tuple[str, str], ItemMeta] = {}
    problems: list[str] = []
    for inv in inventories:
        if not is_resolve_bundle(inv):
            continue
        for page in inv.item_pages:
            if page.status != 200:
                continue
            try:
                sidecar = json.loads(page.sidecar.read_bytes())
                body = read_page_body(sidecar, page.body)
            except (OSError, ValueError) as exc:
                problems.append(f"{inv.name}/{page.body.name}: item metadata cannot be read ({exc})")
                continue
            mailbox = str((sidecar.get("context") or {}).get("mailbox", "")).lower()
            for imid, status, answer, _ in batch_answers(sidecar.get("request_body"), body):
                meta = item_meta(mailbox, imid, status, answer, inv.name)
                if meta is None:
                    continue
                key = (mailbox, imid)
                known = found.get(key)
                if known is None or (known.state != FOUND and meta.state == FOUND):
                    found[key] = meta
                elif meta.state == FOUND and known.state == FOUND and meta.subject != known.subject:
                    problems.append(f"{mailbox} {imid}: two lookups disagree on the message "
                                    f"({known.bundle}, {inv.name}); the first is shown")
    return found, problems
