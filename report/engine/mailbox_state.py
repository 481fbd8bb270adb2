"""The `mailbox` source's pages as one engine table, `mailbox_state` (docs/internals.md, report
tables): one row per object a mailbox-state cmdlet returned, with the cmdlet, the mailbox it was
asked about (from the sidecar's context; tenant cmdlets have none), the part of the answer (the
folder of a folder permission; `visible` for Get-InboxRule without -IncludeHidden) and the
object as JSON text; and `mailbox_state_pages`, one row per page read, so that an answer with no
objects still shows it was read.

Only 2xx pages are read (an error answer is the record of a failure, which the ledger states);
a page that cannot be read becomes a row of `problems` and is named in `unread`, so the
report's section can say which part it could not see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evkit.evidence.inventory import Inventory, source_name
from evkit.evidence.kinds import MAILBOX_PREFIX
from evkit.evidence.layout import DATA, RAW_DIR
from evkit.evidence.raw import read_page_body
from evkit.evidence.sidecars import is_success, read_page_sidecar
from evkit.report.engine.loader import Engine

TABLE = "mailbox_state"
PAGES = "mailbox_state_pages"
_KEYS = {"bundle": "VARCHAR", "src": "VARCHAR", "received_utc": "VARCHAR", "cmdlet": "VARCHAR",
         "mailbox": "VARCHAR", "part": "VARCHAR"}
COLUMNS = _KEYS | {"object": "VARCHAR"}
PAGE_COLUMNS = _KEYS | {"objects": "BIGINT"}
SOURCE_DIR = "mailbox"


def load_mailbox_state(engine: Engine, inventories: Sequence[Inventory]) -> list[str]:
    """Create `mailbox_state` from every bundle's mailbox pages; returns the pages not read
    (each also a row of `problems`)."""
    rows: list[tuple[str, str, str | None, str, str | None, str | None, str]] = []
    pages: list[tuple[str, str, str | None, str, str | None, str | None, int]] = []
    unread: list[str] = []
    for inv in inventories:
        base = inv.root / DATA / RAW_DIR / SOURCE_DIR
        if not base.is_dir():
            continue
        for sidecar_path in sorted(base.rglob("*.meta.json")):
            src = source_name(inv, sidecar_path)
            try:
                meta, body_path = read_page_sidecar(sidecar_path)
                kind = str(meta.get("kind", ""))
                if not is_success(meta) or not kind.startswith(MAILBOX_PREFIX):
                    continue
                body = json.loads(read_page_body(meta, body_path).decode("utf-8-sig"))
            except (OSError, ValueError) as exc:  # incl. a missing body, bad gzip, bad JSON
                unread.append(src)
                engine.execute("INSERT INTO problems VALUES (?, ?, ?, ?)",
                               [inv.name, src, f"mailbox-state page not read ({exc}): that part of the "
                                              f"mailbox state is unknown", False])
                continue
            stated = meta.get("context")
            context: dict[str, Any] = stated if isinstance(stated, dict) else {}
            values = body.get("value") if isinstance(body, dict) else None
            objects = [o for o in values if isinstance(o, dict)] if isinstance(values, list) else []
            keys = (inv.name, source_name(inv, body_path), _text(meta.get("received_utc")), kind[len(MAILBOX_PREFIX):],
                    _lower(context.get("mailbox")), _text(context.get("part")))
            pages.append((*keys, len(objects)))
            rows += [(*keys, json.dumps(obj, ensure_ascii=False, sort_keys=True)) for obj in objects]
    engine.put_table(TABLE, COLUMNS, rows)
    engine.put_table(PAGES, PAGE_COLUMNS, pages)
    return unread


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None
