"""Reading stored Graph batch answers back into item metadata (evkit.evidence.itemmeta): an
answer counts only for the item its own request asked for, and only when it is unambiguous."""

from __future__ import annotations

import json

from evkit.collector.sources.items import lookup_url
from evkit.evidence.itemmeta import FOUND, GONE, asked_id, batch_answers, item_meta

MAILBOX = "alice@contoso.example"
ASKED = ["<a'1+b/c=&d@mail.example>", "<b2@mail.example>"]


def _request() -> dict:
    return {"requests": [{"id": str(n), "method": "GET", "url": lookup_url(MAILBOX, imid)}
                         for n, imid in enumerate(ASKED)]}


def _message(imid: str, subject: str = "Invoice") -> dict:
    return {"internetMessageId": imid, "subject": subject,
            "from": {"emailAddress": {"address": "bob@fabrikam.example", "name": "Bob"}}}


def _answer(*responses: dict) -> bytes:
    return json.dumps({"responses": list(responses)}).encode()


def test_the_id_asked_is_read_back_from_the_request_url():
    assert [asked_id(r["url"]) for r in _request()["requests"]] == ASKED
    assert asked_id("/users/a@b/messages?$select=subject") is None and asked_id(None) is None


def test_an_id_answered_twice_is_no_answer_and_ids_not_asked_are_ignored():
    body = _answer({"id": "0", "status": 200, "body": {"value": []}},
                   {"id": "0", "status": 200, "body": {"value": [_message(ASKED[0])]}},
                   {"id": "7", "status": 200, "body": {"value": [_message("<other@x>")]}},
                   {"id": "1", "status": 200, "body": {"value": []}})
    assert [(imid, status) for imid, status, _, _ in batch_answers(_request(), body)] == [(ASKED[1], 200)]


def test_a_message_other_than_the_one_asked_is_not_its_metadata():
    wrong = item_meta(MAILBOX, ASKED[1], 200, {"value": [_message("<someone-else@mail.example>", "Payroll")]}, "b")
    assert wrong is None
    right = item_meta(MAILBOX, ASKED[1], 200, {"value": [_message("<B2@MAIL.example>")]}, "b")
    assert right is not None and right.state == FOUND and right.subject == "Invoice"
    gone = item_meta(MAILBOX, ASKED[1], 200, {"value": []}, "b")
    assert gone is not None and gone.state == GONE


def test_a_huge_answer_is_held_in_bounded_size_with_a_marker():
    message = {**_message(ASKED[0], "S" * 5_000_000),
               "toRecipients": [{"emailAddress": {"address": f"r{n}@x.example"}} for n in range(100_000)]}
    meta = item_meta(MAILBOX, ASKED[0], 200, {"value": [message]}, "b")
    assert meta is not None and meta.subject is not None
    assert len(meta.subject) < 3000 and meta.subject.endswith("more characters]")
    assert len(meta.recipients) == 501 and meta.recipients[-1] == "[... 99,500 more recipients]"


def test_an_answer_counts_only_for_the_mailbox_its_request_asked():
    body = _answer({"id": "1", "status": 200, "body": {"value": [_message(ASKED[1])]}})
    assert [i for i, *_ in batch_answers(_request(), body, MAILBOX)] == [ASKED[1]]
    assert list(batch_answers(_request(), body, "bob@contoso.example")) == []
