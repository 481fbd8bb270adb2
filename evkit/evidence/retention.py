"""How long Microsoft keeps the Entra sign-in log: the one rule the collector (which part of the
window it can still ask for, and the `skipped` ledger entry for the rest) and the report (the gap
it states) share (docs/microsoft-365.md §10.4).

Microsoft Entra data retention (learn.microsoft.com, "Microsoft Entra data retention", activity
reports): sign-ins are kept 7 days with Microsoft Entra ID Free and 30 days with P1 or P2. The
Graph `auditLogs/signIns` API answers only tenants with P1 or P2, so 30 days is the rule wherever
the log can be read at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SIGNIN_RETENTION = timedelta(days=30)
# the `signins` ledger unit holding the part of the window the log no longer held when collected
SIGNINS_BEYOND_RETENTION = "beyond-retention"


def signins_kept_from(collected_at: datetime) -> datetime:
    """The oldest moment the sign-in log still holds at `collected_at`."""
    return collected_at - SIGNIN_RETENTION


def beyond_retention_words(start: str, end: str) -> str:
    """The gap in words, the same in the ledger and in the report (times as the caller formats them)."""
    return (f"the Entra sign-in log keeps sign-ins for {SIGNIN_RETENTION.days} days (Entra ID P1/P2), and "
            f"the sign-ins from {start} to {end} were older than that when collected, so they are not in it")
