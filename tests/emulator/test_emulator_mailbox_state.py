"""The mailbox-state cmdlets over InvokeCommand (docs/microsoft-365.md §8), served from the
bec-basic scenario's state and checked against its ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from emulator_helpers import Api

from evkit.emulator.testing import RunningEmulator, running_emulator

ALICE, CAROL, FINANCE = "alice@contoso.com", "carol@contoso.com", "finance@contoso.com"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("mbxstate"), scenario="bec-basic", seed=1) as running:
        yield running


@pytest.fixture(scope="module")
def api(emu: RunningEmulator) -> Api:
    return Api(emu)


@pytest.fixture(scope="module")
def truth(emu: RunningEmulator) -> dict:
    return json.loads((emu.workdir / "ground-truth.json").read_text())["mailbox_state"]


def _rows(r) -> list[dict]:
    assert r.status_code == 200, r.content[:300]
    body = r.json()
    assert body["@adminapi.warnings"] == [] and "@odata.nextLink" not in body
    return body["value"]


def test_hidden_rule_is_listed_only_with_include_hidden(api, truth) -> None:
    [hidden] = [f for f in truth["findings"] if f.get("hidden")]
    plain = {r["Name"] for r in _rows(api.invoke("Get-InboxRule", Mailbox=ALICE))}
    every = _rows(api.invoke("Get-InboxRule", Mailbox=ALICE, IncludeHidden=True))
    assert hidden["name"] not in plain and "Junk E-mail Rule" not in plain
    names = {r["Name"] for r in every}
    assert {hidden["name"], "Junk E-mail Rule"} | plain == names
    rule = next(r for r in every if r["Name"] == hidden["name"])
    # external recipients as SMTP, the rule identity a 64-bit number, collections annotated (§8.2)
    assert rule["ForwardTo"] == [f"\"{hidden['external'][0]}\" [SMTP:{hidden['external'][0]}]"]
    assert rule["ForwardTo@odata.type"] == "#Collection(String)"
    assert rule["DeleteMessage"] is True and rule["RuleIdentity"] > 2 ** 32
    assert rule["Identity"].endswith(f"\\{rule['RuleIdentity']}")


def test_forwarding_and_delegates_come_with_get_mailbox(api, truth) -> None:
    [fwd] = [f for f in truth["findings"] if f["kind"] == "forwarding"]
    [row] = _rows(api.invoke("Get-Mailbox", Identity=fwd["mailbox"]))
    assert row["ForwardingSmtpAddress"] == f"smtp:{fwd['name']}" and row["DeliverToMailboxAndForward"] is True
    [fin] = _rows(api.invoke("Get-Mailbox", Identity=FINANCE))
    assert fin["ForwardingSmtpAddress"] is None and fin["GrantSendOnBehalfTo"] == ["bob"]


def test_permissions_and_send_as(api, truth) -> None:
    grants = {(f["mailbox"], f["name"]) for f in truth["findings"] if f["kind"] == "mailbox_permission"}
    rows = _rows(api.invoke("Get-MailboxPermission", Identity=FINANCE, ResultSize="Unlimited"))
    assert {(FINANCE, r["User"]) for r in rows if r["User"] != "NT AUTHORITY\\SELF"} == grants
    send_as = _rows(api.invoke("Get-RecipientPermission", Identity=FINANCE, ResultSize="Unlimited"))
    assert {r["Trustee"] for r in send_as} == {"NT AUTHORITY\\SELF", ALICE}
    everyone = _rows(api.invoke("Get-RecipientPermission", ResultSize="Unlimited"))
    assert len(everyone) > len(send_as)


def test_folder_permissions_of_top_folders(api) -> None:
    cal = _rows(api.invoke("Get-MailboxFolderPermission", Identity=f"{CAROL}:\\Calendar"))
    assert any(r["SharingPermissionFlags"] == "Delegate" for r in cal)
    root = _rows(api.invoke("Get-MailboxFolderPermission", Identity=CAROL))
    assert {r["User"] for r in root} == {"Default", "Anonymous"}
    missing = api.invoke("Get-MailboxFolderPermission", Identity=f"{CAROL}:\\Nope")
    assert missing.status_code == 400 and "couldn't be found" in missing.text


def test_transport_rules_and_accepted_domains(api, truth) -> None:
    rules = _rows(api.invoke("Get-TransportRule", ResultSize="Unlimited"))
    names = {r["Name"] for r in rules}
    assert {f["name"] for f in truth["findings"] if f["kind"] == "transport_rule"} <= names
    domains = _rows(api.invoke("Get-AcceptedDomain"))
    assert "contoso.com" in {d["DomainName"] for d in domains}


def test_inbox_rule_needs_a_mailbox_and_unknown_parameters_are_refused(api) -> None:
    r = api.invoke("Get-InboxRule")
    assert r.status_code == 400 and "Mailbox" in r.text
    r = api.invoke("Get-InboxRule", Mailbox=ALICE, Bogus=1)
    assert r.status_code == 400 and "Bogus" in r.text


def test_recipient_management_withheld_refuses_only_its_cmdlets(tmp_path) -> None:
    """Get-InboxRule and Get-RecipientPermission are in Mail Recipients, which no view-only group
    holds: without Recipient Management they get the NUL-byte 403; the others still answer."""
    with running_emulator(tmp_path, scenario="bec-basic", seed=1, withhold=("Recipient Management",)) as emu:
        api = Api(emu)
        for cmdlet, params in (("Get-InboxRule", {"Mailbox": ALICE}), ("Get-RecipientPermission", {})):
            r = api.invoke(cmdlet, **params)
            assert r.status_code == 403 and set(r.content) == {0}
        assert api.invoke("Get-MailboxPermission", Identity=ALICE).status_code == 200
        assert api.invoke("Get-TransportRule").status_code == 200
