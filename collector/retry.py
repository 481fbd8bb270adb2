"""Retry policy: which failures are worth another try, and how long to wait before it.

Pure and clock-free (the random source and the sleep are injected by the caller), so the
backoff schedule is tested exactly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from evkit.times import parse_http_date

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 509})
# Management Activity API error codes that mean "try again" whatever the HTTP status
# (AF429 comes back as 403 in Microsoft's own example; docs/microsoft-365.md §1.5).
RETRYABLE_CODES = frozenset({"AF429", "AF50000"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, honouring Retry-After, bounded attempts."""

    attempts: int = 8          # total tries per request, first one included
    base: float = 0.5          # seconds
    cap: float = 60.0          # longest single wait we choose ourselves
    retry_after_cap: float = 300.0  # longest server-requested wait we accept
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.attempts


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: an integer/decimal or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    when = parse_http_date(value)
    if when is None:
        return None
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


_WAIT_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s)\b", re.IGNORECASE)


def wait_in_text(text: str | None) -> float | None:
    """A wait given only in an error message ("... retry after 30 seconds"), as Exchange's
    throttling answers do (docs/emulator-fidelity.md EXO-2); None when absent."""
    if not text:
        return None
    found = _WAIT_IN_TEXT.findall(text)
    return max(float(found[-1]), 0.0) if found else None


def is_retryable_status(status: int, error_code: str | None = None) -> bool:
    return status in RETRYABLE_STATUS or (error_code or "") in RETRYABLE_CODES
