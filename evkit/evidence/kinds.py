"""The kinds of stored API pages (the sidecar's `kind`), and how the record kinds hold records.

The collector writes these names into every raw page's sidecar; the inventory, the raw-page
reader and the report's engine read pages by them (docs/evidence-layout.md).
"""

from __future__ import annotations

from dataclasses import dataclass

UAL_PAGE = "ual.page"  # one Search-UnifiedAuditLog answer page
GRAPH_RECORDS = "graph.records"  # one page of a Graph audit log query's records
MGMT_BLOB = "mgmt.blob"  # one Management Activity API content blob
CONFIG_PREFIX = "config."  # config.<cmdlet>: one page of an Exchange configuration cmdlet
LICENCES_PREFIX = "licences."  # licences.<what>: one Graph page about licences
ITEMS_BATCH = "items.batch"  # one Graph JSON batch of message lookups by InternetMessageId (evkit resolve)
MAILBOX_PREFIX = "mailbox."  # mailbox.<cmdlet>: one page of a mailbox-state cmdlet (rules, permissions...)
SIGNINS_PAGE = "signins.page"  # one page of the Entra sign-in log (Graph auditLogs/signIns)
APPS_PREFIX = "apps."  # apps.<collection>: one Graph page of service principals, grants or assignments


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """Where a record kind's page keeps its classic-schema audit records."""

    list_field: str | None  # the page is an object with the record list in this field; None: the page is the list
    record_field: str | None  # the element field holding the record; None: the element is the record
    record_is_text: bool  # the record is JSON text inside the element (not an object)


RECORD_LAYOUTS = {
    UAL_PAGE: RecordLayout("value", "AuditData", True),
    GRAPH_RECORDS: RecordLayout("value", "auditData", False),
    MGMT_BLOB: RecordLayout(None, None, False),
}
RECORD_KINDS = frozenset(RECORD_LAYOUTS)


def config_kind(cmdlet: str) -> str:
    """The kind of a configuration page: `config.Get-Mailbox`."""
    return CONFIG_PREFIX + cmdlet


def licences_kind(what: str) -> str:
    """The kind of a licence page: `licences.subscribedSkus`."""
    return LICENCES_PREFIX + what


def apps_kind(what: str) -> str:
    """The kind of an applications page: `apps.servicePrincipals`."""
    return APPS_PREFIX + what


def is_entra_kind(kind: str) -> bool:
    """Whether a page is Entra evidence the report reads apart from audit records (sign-ins, apps)."""
    return kind == SIGNINS_PAGE or kind.startswith(APPS_PREFIX)


def is_config_kind(kind: str) -> bool:
    """Whether a page is tenant configuration evidence (configuration cmdlets or licences)."""
    return kind.startswith((CONFIG_PREFIX, LICENCES_PREFIX))


def mailbox_kind(cmdlet: str) -> str:
    """The kind of a mailbox-state page: `mailbox.Get-InboxRule`."""
    return MAILBOX_PREFIX + cmdlet
