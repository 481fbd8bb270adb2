"""What every source gets from the run: config, client, evidence store, state, progress."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from evkit.collector.client import ApiClient, Response
from evkit.collector.config import CollectConfig
from evkit.collector.errors import AuthError
from evkit.collector.evidence import EvidenceStore
from evkit.collector.ledger import LedgerEntry
from evkit.collector.permissions import missing
from evkit.collector.progress import Progress
from evkit.collector.state import RunState

logger = logging.getLogger(__name__)


@dataclass
class SourceContext:
    config: CollectConfig
    client: ApiClient
    evidence: EvidenceStore
    state: RunState
    progress: Progress
    log_event: Callable[..., None]
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self, entry: LedgerEntry, *, update: Callable[[dict[str, Any]], None] | None = None,
               lazy: bool = False) -> None:
        """Commit a unit's ledger entry to the resume state (batched when `lazy`) and the events log."""
        self.state.finish(entry, update=update, lazy=lazy)
        self.log_event("unit.finished", source=entry.source, unit=entry.unit, status=entry.status,
                       expected=entry.expected, received=entry.received, unique_ids=entry.unique_ids,
                       retries=entry.retries, reason=entry.reason)
        self.progress.unit_done(entry.source)
        logger.info("%s %s: %s, expected %s, received %d, unique %d, retries %d%s", entry.source, entry.unit,
                    entry.status, entry.expected, entry.received, entry.unique_ids, entry.retries,
                    f" ({entry.reason})" if entry.reason else "")

    @property
    def tenant(self) -> str:
        return self.config.tenant_id

    def invoke_url(self) -> str:
        return f"{self.config.endpoints.exchange}/adminapi/beta/{self.config.tenant_id}/InvokeCommand"

    def invoke(self, cmdlet: str, parameters: dict[str, Any], *, source: str, unit: str,
               name: str, kind: str, context: dict[str, Any] | None = None,
               url: str | None = None, parse: Callable[[bytes], Any] | None = None,
               timeout: float | None = None) -> Response:
        """One Exchange InvokeCommand call, stored as evidence, with the routing headers the
        service's own module sends (docs/emulator-fidelity.md EXO-3)."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        try:
            return self.client.request(
                "POST", url or self.invoke_url(), scope=self.config.endpoints.exchange_scope, json_body=body,
                headers=routing_headers(cmdlet, self.config.tenant_id),
                record=self.evidence.recorder(source, unit, name, kind, context), parse=parse, timeout=timeout)
        except AuthError as exc:  # a refusal names the permission or role group and its fix
            refusal = missing(exc, self.config, cmdlet)
            if refusal is None:
                raise
            raise refusal from exc


# The arbitration mailbox Exchange Online routes app-only administration calls to.
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"


def routing_headers(cmdlet: str, tenant: str) -> dict[str, str]:
    """InvokeCommand headers: the anchor mailbox that routes the call to the tenant, the cmdlet,
    JSON answers, the client the service expects, and its page size."""
    return {"X-AnchorMailbox": f"APP:{SYSTEM_MAILBOX}@{tenant}", "X-CmdletName": cmdlet,
            "X-ResponseFormat": "json", "X-ClientApplication": "ExoManagementModule",
            "Prefer": "odata.maxpagesize=1000"}


def values(data: Any) -> list[Any]:
    """The `value` array of an OData/InvokeCommand body (a bare array is returned as is)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        value = data.get("value")
        return value if isinstance(value, list) else []
    return []


def record_id(record: Any, *keys: str) -> str | None:
    """The first present id field of a record (string), or None."""
    if not isinstance(record, dict):
        return None
    for key in keys:
        value = record.get(key)
        if value:
            return str(value)
    return None


def ual_row_id(row: dict[str, Any]) -> str | None:
    """The record id of a Search-UnifiedAuditLog row: Identity/RecordId, else AuditData.Id."""
    found = record_id(row, "Identity", "RecordId", "Id")
    if found:
        return found
    audit = row.get("AuditData")
    if isinstance(audit, str):
        try:
            audit = json.loads(audit)
        except ValueError:
            return None
    return record_id(audit, "Id")


def count_ids(ids: Iterable[str | None]) -> tuple[int, set[str]]:
    seen: set[str] = set()
    total = 0
    for value in ids:
        total += 1
        if value is not None:
            seen.add(value)
    return total, seen
