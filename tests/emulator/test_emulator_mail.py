"""Graph mail in the emulator (emulator/mail.py): messages by InternetMessageId and JSON batching,
as docs/microsoft-365.md "Item metadata" describes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from emulator_helpers import Api

from evkit.emulator.testing import RunningEmulator, running_emulator

SELECT = "internetMessageId,subject,from,toRecipients,receivedDateTime,importance,hasAttachments"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("mail"), scenario="bec-basic", seed=3,
                          purged_items=("<gone@example.invalid>",)) as running:
        yield running


@pytest.fixture(scope="module")
def api(emu: RunningEmulator) -> Api:
    return Api(emu)


def _confirmed(emu: RunningEmulator) -> list[tuple[str, str]]:
    truth = json.loads((emu.workdir / "ground-truth.json").read_text(encoding="utf-8"))
    return [(box["mailbox"], imid) for box in truth["mailboxes"] for imid in box["confirmable"]]


def _lookup_url(mailbox: str, imid: str) -> str:
    literal = imid.replace("'", "''")
    return f"/users/{mailbox}/messages?$filter={quote(f'internetMessageId eq {literal!r}'.replace(chr(34), chr(39)))}" \
           f"&$select={SELECT}"


def test_a_message_is_found_by_its_internet_message_id(emu, api):
    mailbox, imid = _confirmed(emu)[0]
    r = api.get("graph", "/v1.0" + _lookup_url(mailbox, imid))
    assert r.status_code == 200, r.text
    (message,) = r.json()["value"]
    assert message["internetMessageId"] == imid
    assert message["subject"] and message["from"]["emailAddress"]["address"]
    assert "body" not in message and set(message) <= {"@odata.etag", "id", *SELECT.split(",")}


def test_an_unknown_or_purged_message_is_an_empty_value(emu, api):
    mailbox, _ = _confirmed(emu)[0]
    for imid in ("<gone@example.invalid>", "<never@example.invalid>"):
        r = api.get("graph", "/v1.0" + _lookup_url(mailbox, imid))
        assert r.status_code == 200 and r.json()["value"] == []


def test_messages_need_a_mail_permission(tmp_path):
    with running_emulator(tmp_path, scenario="bec-basic", seed=3, withhold=("Mail.ReadBasic.All",)) as emu:
        r = Api(emu).get("graph", "/v1.0" + _lookup_url("alice@contoso.com", "<x@y>"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "ErrorAccessDenied"


def test_read_basic_does_not_open_bodies(emu, api):
    mailbox, imid = _confirmed(emu)[0]
    r = api.get("graph", "/v1.0" + _lookup_url(mailbox, imid).replace(SELECT, "subject,body"))
    assert r.status_code == 403


def test_a_batch_answers_every_request_by_id_in_any_order(emu, api):
    items = _confirmed(emu)[:5]
    requests = [{"id": str(i), "method": "GET", "url": _lookup_url(mb, imid)} for i, (mb, imid) in enumerate(items)]
    r = api.post("graph", "/v1.0/$batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert sorted(by_id) == sorted(q["id"] for q in requests)
    for i, (_, imid) in enumerate(items):
        assert by_id[str(i)]["status"] == 200
        assert by_id[str(i)]["body"]["value"][0]["internetMessageId"] == imid


def test_a_batch_of_more_than_twenty_is_refused(api):
    requests = [{"id": str(i), "method": "GET", "url": "/users/a@b/messages"} for i in range(21)]
    r = api.post("graph", "/v1.0/$batch", json={"requests": requests})
    assert r.status_code == 400


def test_requests_in_a_batch_are_throttled_one_by_one(tmp_path):
    with running_emulator(tmp_path, scenario="bec-basic", seed=3, faults="429=0.5") as emu:
        api = Api(emu)
        items = _confirmed(emu)[:20]
        requests = [{"id": str(i), "method": "GET", "url": _lookup_url(mb, imid)}
                    for i, (mb, imid) in enumerate(items)]
        statuses = set()
        for _ in range(6):
            r = api.post("graph", "/v1.0/$batch", json={"requests": requests})
            if r.status_code == 200:
                statuses |= {(x["status"], "Retry-After" in x["headers"]) for x in r.json()["responses"]}
    assert (429, True) in statuses and (200, False) in statuses


def test_a_batch_with_an_undocumented_member_or_a_repeated_id_is_refused(emu, api):
    mailbox, imid = _confirmed(emu)[0]
    one = {"id": "1", "method": "GET", "url": _lookup_url(mailbox, imid)}
    assert api.post("graph", "/v1.0/$batch", json={"requests": [one]}).status_code == 200
    assert api.post("graph", "/v1.0/$batch", json={"requests": [{**one, "imid": imid}]}).status_code == 400
    assert api.post("graph", "/v1.0/$batch", json={"requests": [one, one]}).status_code == 400
