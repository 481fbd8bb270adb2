"""Load a tenant's audit configuration and licence evidence from sealed bundles.

The `config` and `licences` sources store every API answer under `data/raw/config/**` and
`data/raw/licences/**` with a sidecar (docs/evidence-layout.md). This module reads those pages
back (2xx bodies only: an error answer is kept as evidence of what happened, never as data) into
one frozen `TenantConfig`, the input of `evkit.report.coverage.assess`. Pieces that were not collected are
named in `TenantConfig.missing` instead of failing: a readiness or breach report states what it
could not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from evkit.evidence.errors import EvidenceError
from evkit.evidence.kinds import config_kind, is_config_kind, licences_kind
from evkit.evidence.layout import DATA, RAW_DIR
from evkit.evidence.raw import read_page_body
from evkit.evidence.sidecars import is_success, read_page_sidecar
from evkit.times import utc_or_none

# Config pieces by sidecar kind; per-mailbox/per-user pieces are keyed by their subject.
ORG_CONFIG = config_kind("Get-OrganizationConfig")
ADMIN_AUDIT_LOG_CONFIG = config_kind("Get-AdminAuditLogConfig")
MAILBOXES = config_kind("Get-Mailbox")
BYPASS = config_kind("Get-MailboxAuditBypassAssociation")
FOLDER_STATISTICS = config_kind("Get-MailboxFolderStatistics")
SUBSCRIBED_SKUS = licences_kind("subscribedSkus")
USERS = licences_kind("users")
LICENSE_DETAILS = licences_kind("licenseDetails")

#: every piece a complete readiness collection holds; folder statistics only size syncs. Per-user
#: licenseDetails is read when an older bundle has it, never expected: it has no application
#: permission, and users' assignedPlans carry the same plans (docs/emulator-fidelity.md).
EXPECTED_PIECES = (ORG_CONFIG, ADMIN_AUDIT_LOG_CONFIG, MAILBOXES, BYPASS, SUBSCRIBED_SKUS, USERS)

_LICENSE_URL = re.compile(r"/users/([^/?]+)/licenseDetails", re.IGNORECASE)


class ConfigEvidenceError(EvidenceError):
    """A config or licence page is unreadable; the message names the file and what to do."""


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """Audit configuration and licences of one tenant, as collected.

    `snapshot_utc` is when the newest config page was received: the state described here is
    the state at that instant (earlier states are reconstructed from audit-tampering records
    by `evkit.report.coverage.periods.coverage_periods`). Objects are kept as the API returned them.
    """

    org_config: Mapping[str, Any] | None = None
    admin_audit_log_config: Mapping[str, Any] | None = None
    mailboxes: tuple[Mapping[str, Any], ...] = ()
    bypass_associations: tuple[Mapping[str, Any], ...] = ()
    folder_statistics: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    subscribed_skus: tuple[Mapping[str, Any], ...] = ()
    users: tuple[Mapping[str, Any], ...] = ()
    license_details: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    snapshot_utc: datetime | None = None
    sources: tuple[str, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        """Expected pieces that no bundle held a successful answer for."""
        return tuple(p for p in EXPECTED_PIECES if p not in self.present)

    def has(self, piece: str) -> bool:
        return piece in self.present


@dataclass(frozen=True, slots=True)
class RawPage:
    """One 2xx config/licence page: its sidecar, parsed body, and where it came from."""

    kind: str
    relpath: str
    bundle: str
    sidecar: Mapping[str, Any]
    body: Any
    received_utc: datetime | None


def load_tenant_config(bundles: Sequence[Path]) -> TenantConfig:
    """Read the config and licence pages of every bundle into one TenantConfig.

    When several bundles hold the same piece, the one received last wins (a later readiness
    collection supersedes an earlier one); per-mailbox and per-user pieces merge by subject.
    Raises ConfigEvidenceError when a page's sidecar or body is not valid JSON.
    """
    pages = sorted((p for root in bundles for p in iter_raw_pages(Path(root))),
                   key=lambda p: (p.received_utc or _EPOCH, p.relpath))
    return build_tenant_config(pages)


def build_tenant_config(pages: Iterable[RawPage]) -> TenantConfig:
    """Fold pages (oldest first) into a TenantConfig. Pure: used by tests without files."""
    singles: dict[str, list[Any]] = {}
    stamp: dict[str, tuple[datetime, str]] = {}
    keyed: dict[str, dict[str, list[Any]]] = {FOLDER_STATISTICS: {}, LICENSE_DETAILS: {}}
    present: set[str] = set()
    newest: datetime | None = None
    sources: list[str] = []
    for page in pages:
        rows = _rows(page)
        present.add(page.kind)
        sources.append(f"{page.bundle}/{page.relpath}")
        if page.received_utc and (newest is None or page.received_utc > newest):
            newest = page.received_utc
        if page.kind in keyed:
            subject = _subject(page)
            keyed[page.kind].setdefault(subject, [])
            keyed[page.kind][subject] = _merge(keyed[page.kind][subject], rows)
            continue
        # pages of one request sequence share a unit directory; a newer sequence replaces it
        unit = page.bundle + "!" + page.relpath.rsplit("/", 1)[0]
        when = (page.received_utc or _EPOCH, unit)
        previous = stamp.get(page.kind)
        if previous is not None and previous[1] != unit:
            singles[page.kind] = []
        stamp[page.kind] = when
        singles[page.kind] = _merge(singles.get(page.kind, []), rows)
    org = singles.get(ORG_CONFIG) or [None]
    admin = singles.get(ADMIN_AUDIT_LOG_CONFIG) or [None]
    return TenantConfig(
        org_config=org[-1],
        admin_audit_log_config=admin[-1],
        mailboxes=tuple(singles.get(MAILBOXES, [])),
        bypass_associations=tuple(singles.get(BYPASS, [])),
        folder_statistics={k: tuple(v) for k, v in sorted(keyed[FOLDER_STATISTICS].items())},
        subscribed_skus=tuple(singles.get(SUBSCRIBED_SKUS, [])),
        users=tuple(singles.get(USERS, [])),
        license_details={k: tuple(v) for k, v in sorted(keyed[LICENSE_DETAILS].items())},
        present=frozenset(present),
        snapshot_utc=newest,
        sources=tuple(sources),
    )


def iter_raw_pages(root: Path) -> Iterator[RawPage]:
    """Yield the 2xx config and licence pages of one bundle, in path order."""
    data = root / DATA / RAW_DIR
    for source in ("config", "licences"):
        base = data / source
        if not base.is_dir():
            continue
        for sidecar_path in sorted(base.rglob("*.meta.json")):
            page = _read_page(root, sidecar_path)
            if page is not None:
                yield page


def _read_page(root: Path, sidecar_path: Path) -> RawPage | None:
    rel = sidecar_path.relative_to(root).as_posix()
    try:
        sidecar, body_path = read_page_sidecar(sidecar_path)
    except ValueError as exc:
        raise ConfigEvidenceError(f"{rel}: {exc}; the bundle is damaged") from None
    kind = str(sidecar.get("kind", ""))
    if not is_success(sidecar) or not is_config_kind(kind):
        return None
    body_name = body_path.name
    body_rel = body_path.relative_to(root).as_posix()
    try:
        raw = read_page_body(sidecar, body_path)
    except FileNotFoundError:
        raise ConfigEvidenceError(f"{rel}: body {body_name} is missing; verify the bundle") from None
    except ValueError as exc:
        raise ConfigEvidenceError(f"{body_rel}: compressed body is damaged ({exc}); the bundle is damaged") from None
    body = _load_json(raw, body_rel)
    return RawPage(kind=kind, relpath=rel, bundle=root.name, sidecar=sidecar, body=body,
                   received_utc=utc_or_none(sidecar.get("received_utc")))


def _load_json(raw: bytes, rel: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigEvidenceError(f"{rel}: not valid JSON ({exc}); the bundle is damaged") from exc


def _rows(page: RawPage) -> list[Any]:
    """The objects of a page: InvokeCommand and Graph collections both carry `value`."""
    body = page.body
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return [r for r in body["value"] if isinstance(r, dict)]
    if isinstance(body, dict) and "value" not in body:
        return [body]  # a single Graph object (e.g. /users/{id}) is its own row
    if isinstance(body, list):
        return [r for r in body if isinstance(r, dict)]
    return []


def _merge(existing: list[Any], rows: list[Any]) -> list[Any]:
    """Append rows, dropping exact repeats (a page re-fetched after a crash or retry)."""
    seen = {json.dumps(r, sort_keys=True) for r in existing}
    out = list(existing)
    for row in rows:
        key = json.dumps(row, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _subject(page: RawPage) -> str:
    """The mailbox or user a per-subject page is about (the sidecar keeps the original name)."""
    context = page.sidecar.get("context") or {}
    if isinstance(context, dict):
        for key in ("mailbox", "user", "upn", "identity", "subject"):
            value = context.get(key)
            if isinstance(value, str) and value:
                return value.lower()
    request = page.sidecar.get("request_body") or {}
    if isinstance(request, dict):
        params = (request.get("CmdletInput") or {}).get("Parameters") or {}
        identity = params.get("Identity") if isinstance(params, dict) else None
        if isinstance(identity, str):
            return identity.lower()
    match = _LICENSE_URL.search(str(page.sidecar.get("url", "")))
    if match:
        return unquote(match.group(1)).lower()
    return page.relpath.rsplit("/", 2)[-2].lower()


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
