"""Item metadata in a resolve bundle (`evkit resolve`, docs/evidence-layout.md): the stored Graph
batch answers, read back into one entry per (mailbox, InternetMessageId).

Each stored batch keeps its request in the sidecar; the InternetMessageId each request looked up
is read back from its own URL (the `$filter` literal), so an answer is tied to its item by what
was asked, not by anything the answer says. A 200 with the message asked for is "found", a 200
with none is "gone" (the mailbox no longer holds it), a 404 is "no such mailbox". An id answered
twice in one batch, or a message whose internetMessageId is not the one asked, is no answer:
the item stays "not looked up". Anything unreadable is a problem, never an absence.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from evkit.evidence.inventory import Inventory
from evkit.evidence.raw import read_page_body

FOUND, GONE, NO_MAILBOX = "found", "gone", "no such mailbox"
RESOLVE_KIND = "resolve"  # data/collection.json `kind` of a resolve bundle
_FILTER = re.compile(r"^internetMessageId eq '((?:[^']|'')*)'$")


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


def asked_id(url: Any) -> str | None:
    """The InternetMessageId a lookup URL (collector/sources/items.py `lookup_url`) asks for."""
    if not isinstance(url, str) or "?" not in url:
        return None
    for part in url.split("?", 1)[1].split("&"):
        if part.startswith("$filter="):
            match = _FILTER.match(unquote(part[len("$filter="):]))
            return match.group(1).replace("''", "'") if match else None
    return None


def _asks_mailbox(url: Any, mailbox: str | None) -> bool:
    """Whether a lookup URL asks the mailbox the sidecar names (any, when none is given)."""
    if mailbox is None:
        return True
    path = url.split("?", 1)[0] if isinstance(url, str) else ""
    return path.startswith("/users/") and unquote(path[len("/users/"):].split("/", 1)[0]).lower() == mailbox


def batch_answers(request_body: Any, body: bytes, mailbox: str | None = None) -> Iterator[tuple[str, int, Any, Any]]:
    """(InternetMessageId, status, response body, response headers) for each request of a stored
    batch that looked an item up (in `mailbox`, when given); answers to requests it did not make,
    and ids answered more than once (which answer is meant cannot be told), are left out."""
    try:
        answer = json.loads(body)
        asked = {str(r["id"]).lower(): asked_id(r.get("url")) for r in request_body["requests"]
                 if _asks_mailbox(r.get("url"), mailbox)}
    except (ValueError, TypeError, KeyError, AttributeError):
        return
    responses = [r for r in (answer.get("responses") if isinstance(answer, dict) else None) or []
                 if isinstance(r, dict) and asked.get(str(r.get("id")).lower())]
    times = Counter(str(r.get("id")).lower() for r in responses)
    for response in responses:
        ident = str(response.get("id")).lower()
        if times[ident] > 1:
            continue
        status = response.get("status")
        yield (str(asked[ident]), status if isinstance(status, int) else 0, response.get("body"),
               response.get("headers"))


# What the report holds and shows of one item (the stored answer keeps everything): a hostile
# answer of a page's full size must not become a 256 MiB cell. Longer values end in a marker.
TEXT_CHARS = 2000
RECIPIENTS_SHOWN = 500


def _text(value: Any, limit: int = TEXT_CHARS) -> str | None:
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else f"{value[:limit]}[... {len(value) - limit:,} more characters]"


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
    message = next((m for m in value if isinstance(m, dict) and _same_id(m.get("internetMessageId"), imid)), None)
    if message is None:
        return None  # an answer about another message says nothing of this one
    sender, name = _address(message.get("from") or message.get("sender"))
    recipients = tuple(a for field in ("toRecipients", "ccRecipients", "bccRecipients")
                       for r in _list(message.get(field))
                       if (a := _address(r)[0]))
    if len(recipients) > RECIPIENTS_SHOWN:
        recipients = (*recipients[:RECIPIENTS_SHOWN], f"[... {len(recipients) - RECIPIENTS_SHOWN:,} more recipients]")
    attachments = message.get("hasAttachments")
    return ItemMeta(mailbox, imid, FOUND, _text(message.get("subject")), sender, name, recipients,
                    _text(message.get("receivedDateTime"), 64), _text(message.get("importance"), 64),
                    attachments if isinstance(attachments, bool) else None, bundle)


def _same_id(value: Any, imid: str) -> bool:
    """Exchange matches InternetMessageIds without regard to case."""
    return isinstance(value, str) and value.casefold() == imid.casefold()


def is_resolve_bundle(inv: Inventory) -> bool:
    return inv.collection.get("kind") == RESOLVE_KIND


def audit_inventories(inventories: Sequence[Inventory], problems: list[str]) -> list[Inventory]:
    """The bundles the audit analysis reads: all but the resolve bundles, so item metadata can
    never widen or narrow coverage, nor change a count or a verdict. Audit, configuration or
    imported evidence inside a resolve bundle, and item lookups inside any other bundle, are
    named in `problems` and not read."""
    out = []
    for inv in inventories:
        if not is_resolve_bundle(inv):
            out.append(inv)
            if inv.item_pages:
                problems.append(f"{inv.name}: {len(inv.item_pages)} item lookup page(s) in a bundle that is not "
                                "a resolve bundle; not read")
            continue
        other = len(inv.record_pages) + len(inv.config_pages) + len(inv.entra_pages) + len(inv.imports)
        if other or any(e.get("source") != "items" for e in inv.ledger) or inv.collection.get("window"):
            problems.append(f"{inv.name}: a resolve bundle that also holds other evidence ({other} page(s) or "
                            "file(s), or ledger entries or a window of a collection); only its item lookups are "
                            "read")
    return out


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
            for imid, status, answer, _ in batch_answers(sidecar.get("request_body"), body, mailbox):
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
