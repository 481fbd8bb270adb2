"""Fault injection: parse the --faults spec and decide, deterministically from the run's seed,
which API response to spoil and how.

Spec: comma-separated items, each `NAME=VALUE`:

  429=P                  429 with Retry-After (seconds, see retry-after=) on Graph; on the
                         Management API an AF429 body and no Retry-After (as observed live);
                         on Exchange adminapi a 429 with no Retry-After
  429-no-retry-after=P   429 without Retry-After anywhere
  af429-403=P            Management API only: AF429 body with HTTP 403 (Microsoft's own sample)
  503=P  504=P           service unavailable / gateway timeout (Graph-style error body)
  reset=P                send the headers and half the body, then reset the TCP connection
  slow=P:SECONDS         delay the response by SECONDS
  truncate=P             send a cut JSON body whose Content-Length matches the cut
  restart=P              a Search-UnifiedAuditLog session page comes back with ResultIndex -1
                         and ResultCount 0 (internal timeout); the session starts over
  foreign=P              a Search-UnifiedAuditLog call without a session answers for a longer
                         span than asked (the window's own span and as much again before it,
                         newest first, up to ResultSize): rows dated outside the window, as a
                         page of another search would hold; the window's own rows are never
                         left out in favour of older ones
  token-expiry=SECONDS   access tokens stop being accepted SECONDS after issue (401) although
                         their expires_in promised longer
  retry-after=SECONDS    the Retry-After value sent with 429 (default 1)
  cap-window=START/END   every Search-UnifiedAuditLog query overlapping [START, END) reports more
                         than 50,000 results at any split (repeatable)

P is a probability in [0, 1]. A decision depends only on the seed, the fault name, the request
(method, path, query, body) and how many times that same request was seen before, so a run
with the same seed and the same requests spoils the same responses, whatever the thread timing.
Faults never apply to the login authority.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field

from evkit.emulator.errors import FaultSpecError

PROBABILITY_FAULTS = ("429", "429-no-retry-after", "af429-403", "503", "504", "reset", "slow",
                      "truncate", "restart", "foreign")
# Order in which response faults are tried for one request (first hit wins).
RESPONSE_ORDER = ("reset", "truncate", "429", "429-no-retry-after", "af429-403", "503", "504")


@dataclass(frozen=True)
class FaultPlan:
    """The parsed spec. Empty means a well-behaved service."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 0.0
    token_expiry: float | None = None
    retry_after: int = 1
    cap_windows: tuple[tuple[dt.datetime, dt.datetime], ...] = ()

    def in_cap_window(self, start: dt.datetime, end: dt.datetime) -> bool:
        return any(start < w_end and w_start < end for w_start, w_end in self.cap_windows)


def _probability(item: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"fault {item!r}: {text!r} is not a probability (0..1)") from None
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"fault {item!r}: probability must be between 0 and 1")
    return value


def _seconds(item: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"fault {item!r}: {text!r} is not a number of seconds") from None
    if value < 0:
        raise FaultSpecError(f"fault {item!r}: seconds must not be negative")
    return value


def _utc(item: str, text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FaultSpecError(f"fault {item!r}: {text!r} is not an ISO 8601 time like 2026-06-10T00:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def parse_faults(spec: str | None) -> FaultPlan:
    """Parse strictly: any unknown name, bad value or duplicate raises FaultSpecError naming it."""
    if spec is None or not spec.strip():
        return FaultPlan()
    rates: dict[str, float] = {}
    slow_seconds = 0.0
    token_expiry: float | None = None
    retry_after = 1
    caps: list[tuple[dt.datetime, dt.datetime]] = []
    seen: set[str] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            raise FaultSpecError(f"empty item in fault spec {spec!r}")
        name, sep, value = item.partition("=")
        name = name.strip()
        value = value.strip()
        if not sep or not value:
            raise FaultSpecError(f"fault {item!r}: expected NAME=VALUE")
        if name in seen and name != "cap-window":
            raise FaultSpecError(f"fault {item!r}: {name} given twice")
        seen.add(name)
        if name == "slow":
            prob, colon, secs = value.partition(":")
            if not colon:
                raise FaultSpecError(f"fault {item!r}: expected slow=P:SECONDS")
            rates[name] = _probability(item, prob)
            slow_seconds = _seconds(item, secs)
        elif name in PROBABILITY_FAULTS:
            rates[name] = _probability(item, value)
        elif name == "token-expiry":
            token_expiry = _seconds(item, value)
            if token_expiry <= 0:
                raise FaultSpecError(f"fault {item!r}: seconds must be positive")
        elif name == "retry-after":
            secs = _seconds(item, value)
            if secs != int(secs):
                raise FaultSpecError(f"fault {item!r}: Retry-After must be whole seconds")
            retry_after = int(secs)
        elif name == "cap-window":
            start_text, slash, end_text = value.partition("/")
            if not slash:
                raise FaultSpecError(f"fault {item!r}: expected cap-window=START/END")
            start, end = _utc(item, start_text), _utc(item, end_text)
            if end <= start:
                raise FaultSpecError(f"fault {item!r}: END must be after START")
            caps.append((start, end))
        else:
            raise FaultSpecError(f"fault {item!r}: unknown fault {name!r} "
                                 f"(known: {', '.join(PROBABILITY_FAULTS)}, token-expiry, retry-after, cap-window)")
    return FaultPlan(rates=rates, slow_seconds=slow_seconds, token_expiry=token_expiry,
                     retry_after=retry_after, cap_windows=tuple(caps))


class FaultDice:
    """Deterministic per-request decisions for one run."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self.seed = seed
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attempt(self, request_key: str) -> int:
        """Count this request; the n-th identical request gets attempt n (0-based)."""
        with self._lock:
            n = self._seen[request_key]
            self._seen[request_key] = n + 1
            return n

    def roll(self, fault: str, request_key: str, attempt: int) -> bool:
        rate = self.plan.rates.get(fault, 0.0)
        if rate <= 0.0:
            return False
        digest = hashlib.sha256(f"{self.seed}\0{fault}\0{attempt}\0{request_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < rate

    def response_fault(self, request_key: str, attempt: int, service: str) -> str | None:
        """The one response fault (if any) for this request; af429-403 only on the Management API."""
        for fault in RESPONSE_ORDER:
            if fault == "af429-403" and service != "manage":
                continue
            if self.roll(fault, request_key, attempt):
                return fault
        return None
