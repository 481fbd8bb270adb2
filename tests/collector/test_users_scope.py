"""`users` in the config never reaches the audit log's actor filters: a delegate's access to an
in-scope mailbox must be collected (UserIds / userPrincipalNameFilters match the actor)."""

from __future__ import annotations

import json
from datetime import timedelta

from collector_fakes import T0, make_ctx

from evkit.collector.client import RawReply
from evkit.collector.sources import ual

OWNER, DELEGATE = "alice@x", "bob@x"
RECORDS = [  # (time, id, actor, mailbox owner)
    (T0 + timedelta(hours=1), "own-access", OWNER, OWNER),
    (T0 + timedelta(hours=2), "delegate-access", DELEGATE, OWNER),
]


class ActorFilteringExchange:
    """Search-UnifiedAuditLog whose -UserIds keeps only records the given users performed, as the
    service does."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        params = json.loads(data)["CmdletInput"]["Parameters"]
        start = params["StartDate"].replace("Z", "+00:00")
        end = params["EndDate"].replace("Z", "+00:00")
        actors = {u.lower() for u in params.get("UserIds") or []}
        hits = [r for r in RECORDS if start <= r[0].isoformat() < end and (not actors or r[2] in actors)]
        session = params.get("SessionId")
        done = self.offsets.get(session, 0) if session else 0
        page = hits[done:done + int(params["ResultSize"])]
        if session:
            self.offsets[session] = done + len(page)
        rows = [{"Identity": rid, "ResultIndex": done + i + 1, "ResultCount": len(hits),
                 "AuditData": json.dumps({"Id": rid, "CreationTime": t.isoformat(), "UserId": actor,
                                          "MailboxOwnerUPN": owner, "Operation": "MailItemsAccessed"})}
                for i, (t, rid, actor, owner) in enumerate(page)]
        body = json.dumps({"@adminapi.warnings": [], "value": rows}).encode()
        return RawReply(200, {"Date": "Thu, 01 Jun 2023 00:00:00 GMT"}, body)


def test_delegate_access_to_an_in_scope_mailbox_is_collected() -> None:
    ctx, bundle = make_ctx(ActorFilteringExchange(), sources=["ual"], users=[OWNER])
    ual.collect(ctx)
    ctx.state.flush()
    stored = b"".join(body for name, body in bundle.files.items() if name.startswith("raw/ual/"))
    assert b"own-access" in stored
    assert b"delegate-access" in stored  # -UserIds alice@x would have dropped bob's access
