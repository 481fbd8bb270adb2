"""The messages of a mailbox at the scenario's end, as Microsoft Graph returns them.

Items are not stored (emulator/scenarios/model.py): a folder keeps its item counter and the items
moved in or out, and item k's InternetMessageId and subject are a pure function of the seed. The
other header fields Graph's `message` resource carries (sender, recipients, received time,
importance, hasAttachments) are derived here the same way, so `evkit resolve` can be scored against
the scenario: every field of every message is a function of (seed, mailbox, folder, k).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from evkit.emulator.scenarios.model import Mailbox, item_identity

_NAMES = ("accounts", "billing", "ceo", "finance", "hr", "it-support", "legal", "noreply", "payments",
          "procurement", "sales", "treasury")
_URGENT = ("Wire", "bank", "Payroll", "Merger")


def mail_store_rows(mbx: Mailbox) -> list[dict[str, Any]]:
    """What mailstore.jsonl keeps of a mailbox: each folder's item hash prefix, counter and moves."""
    return [{"path": f.path, "id": f.folder_id, "prefix": f.prefix.decode("utf-8"), "language": mbx.language,
             "count": f.count,
             "moved_out": sorted(f.moved_out),
             "moved_in": [list(m) for m in f.moved_in]} for f in mbx.folders.values()]


@dataclass(slots=True)
class _Prefix:
    prefix: bytes


@dataclass(slots=True)
class _Box:
    """What item_identity reads of a Mailbox: its alias, its language and each folder's hash prefix."""
    alias: str
    folders: dict[str, _Prefix] = field(default_factory=dict)
    language: str = "en"


def messages(seed: object, upn: str, rows: list[dict[str, Any]], *,
             start: datetime) -> Iterator[dict[str, Any]]:
    """Every message in the mailbox now (Graph `message` fields), from its mailstore rows."""
    box = _Box(upn.split("@", 1)[0], {r["path"]: _Prefix(r["prefix"].encode("utf-8")) for r in rows},
               next((r["language"] for r in rows if "language" in r), "en"))
    for row in rows:
        moved_out = set(row["moved_out"])
        for k in range(int(row["count"])):
            if k not in moved_out:
                yield _message(seed, upn, box, row["path"], k, row["id"], start)
        for source, k in row["moved_in"]:
            yield _message(seed, upn, box, source, int(k), row["id"], start)


def _message(seed: object, upn: str, box: _Box, folder: str, k: int, folder_id: str,
             start: datetime) -> dict[str, Any]:
    imid, subject, _ = item_identity(seed, box, folder, k)  # type: ignore[arg-type]
    d = hashlib.blake2b(f"{seed}|msg|{upn}|{folder}|{k}".encode(), digest_size=12).digest()
    domain = imid.rsplit("@", 1)[1].rstrip(">")
    outgoing = folder in ("\\Sent Items", "\\Drafts")
    external = {"emailAddress": {"name": _NAMES[d[0] % len(_NAMES)].title(),
                                 "address": f"{_NAMES[d[0] % len(_NAMES)]}@"
                                            f"{'fabrikam.com' if outgoing else domain}"}}
    owner = {"emailAddress": {"name": box.alias.title(), "address": upn}}
    received = start - timedelta(minutes=int.from_bytes(d[1:4], "big") % (180 * 24 * 60))
    return {
        "id": "AAMkA" + d.hex() + hashlib.sha1(imid.encode()).hexdigest()[:16],
        "receivedDateTime": received.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sentDateTime": (received - timedelta(seconds=5 + d[4])).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hasAttachments": d[5] % 3 == 0,
        "internetMessageId": imid,
        "subject": subject,
        "importance": "high" if any(w in subject for w in _URGENT) else "normal",
        "parentFolderId": folder_id,
        "sender": owner if outgoing else external,
        "from": owner if outgoing else external,
        "toRecipients": [external if outgoing else owner],
        "ccRecipients": [],
        "bccRecipients": [],
        "isDraft": folder == "\\Drafts",
    }
