"""The `items` source of `evkit resolve` (collector/sources/items.py) against a fake Graph $batch:
an item counts as answered only when the answer is one the report can use."""

from __future__ import annotations

import json
from pathlib import Path

from collector_fakes import make_ctx

from evkit.collector.client import RawReply
from evkit.collector.itemlist import ResolveRequest, WantedItem
from evkit.collector.sources import items
from evkit.evidence.itemmeta import asked_id

MAILBOX = "alice@contoso.onmicrosoft.com"
ASKED = ("<a@mail.example>", "<b@mail.example>")


class FakeBatch:
    """Answers each lookup with the message asked for, except `wrong`: another message."""

    def __init__(self, wrong: str) -> None:
        self.wrong = wrong
        self.calls = 0

    def __call__(self, method: str, url: str, headers, data: bytes | None, timeout: float) -> RawReply:
        self.calls += 1
        responses = []
        for r in json.loads(data or b"{}")["requests"]:
            imid = asked_id(r["url"])
            message = {"internetMessageId": "<other@mail.example>" if imid == self.wrong else imid, "subject": "s"}
            responses.append({"id": r["id"], "status": 200, "headers": {}, "body": {"value": [message]}})
        body = json.dumps({"responses": responses}).encode()
        return RawReply(200, {"Date": "Thu, 01 Jun 2023 00:00:00 GMT", "Content-Type": "application/json"}, body)


def test_an_answer_about_another_message_leaves_the_item_unanswered(tmp_path: Path) -> None:
    fake = FakeBatch(wrong=ASKED[1])
    ctx, bundle = make_ctx(fake, tmp_path, sources=["graph"])
    ctx.extra["resolve"] = ResolveRequest(tuple(WantedItem(MAILBOX, i, "confirmed") for i in ASKED), "IR-1", None,
                                          "0" * 64, "0" * 64, (), 0)
    items.collect(ctx)
    (entry,) = bundle.state["ledger"].values()
    assert entry["status"] == "failed" and entry["received"] == 1, entry
    assert "1 item(s) not answered" in entry["reason"] and fake.calls == items.MAX_ROUNDS


class AlwaysThrottled(FakeBatch):
    """Every lookup inside every batch answers 429 with a Retry-After."""

    def __call__(self, method: str, url: str, headers, data: bytes | None, timeout: float) -> RawReply:
        self.calls += 1
        responses = [{"id": r["id"], "status": 429, "headers": {"Retry-After": "3"},
                      "body": {"error": {"code": "TooManyRequests"}}} for r in json.loads(data or b"{}")["requests"]]
        return RawReply(200, {"Date": "Thu, 01 Jun 2023 00:00:00 GMT"}, json.dumps({"responses": responses}).encode())


def test_a_lookup_throttled_every_time_ends_failed_and_unanswered(tmp_path: Path) -> None:
    fake = AlwaysThrottled(wrong="")
    ctx, bundle = make_ctx(fake, tmp_path, sources=["graph"])
    slept: list[float] = []
    ctx.sleep = slept.append
    ctx.extra["resolve"] = ResolveRequest(tuple(WantedItem(MAILBOX, i, "confirmed") for i in ASKED), "IR-1", None,
                                          "0" * 64, "0" * 64, (), 0)
    items.collect(ctx)
    (entry,) = bundle.state["ledger"].values()
    assert entry["status"] == "failed" and entry["received"] == 0
    assert "2 item(s) not answered after 8 round(s)" in entry["reason"]
    assert slept == [3.0] * (items.MAX_ROUNDS - 1)  # each round waits the Retry-After the batch answer gave
    assert items.answered(ctx, next(iter(bundle.state["ledger"].values()))["unit"]) == {}
