"""What actors do: access contexts and the raw activity events fed to the audit pipeline.

An event is what really happened in the mailbox; whether and how it is logged is decided later
by the pipeline (pipeline.py) following Microsoft's rules. Ground truth is built from events,
so it knows what the attacker did even where nothing was logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, eq=True)
class Context:
    """One access context: the fields Microsoft uses to separate and de-duplicate records.

    `actor` ("owner" | "attacker") and `reach` (how an analyst starting from the day-one case
    file can attribute it: "day1", or "suggested:<kind>:<value>") never reach a record.
    """

    user: str                       # acting account UPN
    logon_type: int                 # 0 owner, 1 admin, 2 delegate
    ip: str
    client_info: str
    session_id: str                 # Exchange SessionId ("" = none)
    app_id: str
    client_app_id: str = ""
    client_app_name: str = ""
    aad_session_id: str = ""
    user_agent: str = ""
    actor: str = "owner"
    reach: str = ""
    _hash: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        # contexts key every aggregation and de-dup table: hash once, not per lookup
        object.__setattr__(self, "_hash", hash((self.user, self.logon_type, self.ip,
                                                self.client_info, self.session_id, self.app_id,
                                                self.client_app_id, self.aad_session_id,
                                                self.actor, self.reach)))

    def __hash__(self) -> int:
        return self._hash


@dataclass(slots=True)
class Event:
    """A raw activity at second `t` (epoch seconds). `kind` selects the pipeline handler."""

    t: int
    kind: str                        # arrive bind sync send delete search signin admin licence
    mailbox: str = ""                # mailbox UPN touched (or target user for licence events)
    ctx: Context | None = None
    folder: str = ""
    k: int = -1
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0                     # tie-breaker within a second (stable order)
