"""The mailbox coverage table of `evkit export`: per collected mailbox, whether its mail reading
is logged, as the report's audit coverage table states it (report.coverage.incident), with the
configuration pages and bundles it was read from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evkit.report.coverage.assess import assess_mailboxes
from evkit.report.coverage.incident import LOGONS, coverage_table

COLUMNS = {"mailbox": "VARCHAR", "type": "VARCHAR", "mail_items_accessed_audited": "BOOLEAN",
           **{f"{logon}_logons_audited": "BOOLEAN" for logon in LOGONS},
           "licence": "VARCHAR", "bypass": "BOOLEAN", "coverage_verdict": "VARCHAR", "reason": "VARCHAR",
           "snapshot_utc": "TIMESTAMP", "sources": "VARCHAR[]", "bundle": "VARCHAR",
           "tagmanifest_sha256": "VARCHAR"}


def coverage_rows(cfg: Any, digests: Mapping[str, str | None]) -> list[tuple[Any, ...]]:
    """One row per mailbox of the collected configuration (none without one). `digests` maps a
    bundle's folder name to its tag-manifest SHA-256; the bundles and digests of a row are those
    whose configuration pages were read, space-separated."""
    if cfg is None:
        return []
    sources = sorted(getattr(cfg, "sources", ()) or ())
    bundles = sorted({s.split("/", 1)[0] for s in sources})
    digest = " ".join(d for d in (digests.get(b) for b in bundles) if d) or None
    snapshot = getattr(cfg, "snapshot_utc", None)
    snapshot = snapshot.replace(tzinfo=None) if snapshot is not None else None
    rows, _ = coverage_table(cfg, {m.mailbox for m in assess_mailboxes(cfg)})
    return [(r["mailbox"], r["type"], r["mail_items_accessed_audited"],
             *(r["mail_items_accessed_logons"].get(logon) for logon in LOGONS),
             r["licence"], r["bypass"], r["verdict"], r["reason"], snapshot, sources, " ".join(bundles) or None,
             digest) for r in rows]
