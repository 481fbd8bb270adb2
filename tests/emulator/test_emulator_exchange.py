"""Exchange adminapi InvokeCommand contract (docs/microsoft-365.md §6.2-§6.5) for the
configuration cmdlets; Search-UnifiedAuditLog is in test_emulator_ual.py."""

from __future__ import annotations

import json

from emulator_fakes import N_FILLER_MAILBOXES, USERS, FakeScenario
from emulator_helpers import Api

from evkit.emulator.testing import running_emulator


def _ok(r):
    assert r.status_code == 200, r.content[:300]
    body = r.json()
    assert body["adminapi.warnings@odata.type"] == "#Collection(String)"
    assert isinstance(body["@adminapi.warnings"], list)
    assert body["@odata.context"].endswith("$metadata#Collection(Exchange.GenericHashTable)")
    return body


def test_organization_and_admin_audit_log_config(api):
    body = _ok(api.invoke("Get-OrganizationConfig"))
    assert body["value"][0]["AuditDisabled"] is False and body["@adminapi.warnings"] == []
    body = _ok(api.invoke("Get-AdminAuditLogConfig"))
    row = body["value"][0]
    assert row["UnifiedAuditLogIngestionEnabled"] is True
    assert row["UnifiedAuditLogFirstOptInDate@data.type"] == "System.DateTime"


def test_cmdlet_names_and_parameters_are_case_insensitive(api):
    body = _ok(api.invoke("get-mailbox", identity=USERS[0]))
    assert body["value"][0]["UserPrincipalName"] == USERS[0]


def test_get_mailbox_default_result_size_truncates_with_warning(api):
    """Default ResultSize 1000: 1000 rows and the "more results" warning (6.5)."""
    body = _ok(api.invoke("Get-Mailbox"))
    assert len(body["value"]) == 1000 and "@odata.nextLink" not in body
    assert body["@adminapi.warnings"][0].startswith("There are more results available")


def test_get_mailbox_unlimited_follows_next_link(api):
    """ResultSize Unlimited pages by @odata.nextLink (POST the same body), %24skiptoken in the URL."""
    total = len(USERS) + N_FILLER_MAILBOXES
    body = _ok(api.invoke("Get-Mailbox", ResultSize="Unlimited"))
    rows = body["value"]
    assert len(rows) == 1000 and body["@adminapi.warnings"] == []
    link = body["@odata.nextLink"]
    assert link.startswith(api.c["exchange"] + f"/adminapi/beta/{api.tenant}/InvokeCommand?%24skiptoken=")
    body = _ok(api.invoke("Get-Mailbox", url=link, ResultSize="Unlimited"))
    rows += body["value"]
    assert "@odata.nextLink" not in body and len(rows) == total == len({r["Identity"] for r in rows})


def test_prefer_maxpagesize_is_honoured(api):
    body = _ok(api.invoke("Get-Mailbox", ResultSize=700, headers={"Prefer": "odata.maxpagesize=500"}))
    assert len(body["value"]) == 500 and body["@odata.nextLink"]
    body = _ok(api.invoke("Get-Mailbox", url=body["@odata.nextLink"], ResultSize=700,
                          headers={"Prefer": "odata.maxpagesize=500"}))
    assert len(body["value"]) == 200 and "@odata.nextLink" not in body
    assert body["@adminapi.warnings"][0].startswith("There are more results available")


def test_get_mailbox_full_object_carries_audit_properties_shared_and_annotations(api):
    body = _ok(api.invoke("Get-Mailbox", RecipientTypeDetails="SharedMailbox", ResultSize="Unlimited"))
    assert [r["UserPrincipalName"] for r in body["value"]] == [USERS[2]]
    row = body["value"][0]
    assert {"AuditEnabled", "AuditOwner", "AuditDelegate", "AuditAdmin", "DefaultAuditSet"} <= set(row)
    assert row["AuditOwner@odata.type"] == "#Collection(String)"


def test_get_mailbox_has_no_property_sets_under_current(tmp_path):
    """current: -PropertySets belongs to Get-EXOMailbox, not Get-Mailbox (docs/emulator-fidelity.md)."""
    with running_emulator(tmp_path, scenario=FakeScenario(), seed=7, service="current") as emu:
        r = Api(emu).invoke("Get-Mailbox", PropertySets="Audit", ResultSize="Unlimited")
        assert r.status_code == 400
        assert "PropertySets" in r.json()["error"]["innererror"]["internalexception"]["message"]


def test_unknown_identity_is_400_with_internal_exception(api):
    r = api.invoke("Get-Mailbox", Identity="nobody@contoso.onmicrosoft.com")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "BadRequest" and err["message"] == "Invalid Operation"
    inner = err["innererror"]["internalexception"]
    assert inner["type"].endswith("ManagementObjectNotFoundException")
    assert "nobody@contoso.onmicrosoft.com" in inner["message"]
    assert err["details"][0]["message"].startswith("|Microsoft.Exchange.Configuration.Tasks.")


def test_unknown_parameter_is_400_parameter_binding(api):
    r = api.invoke("Get-Mailbox", NoSuchParameter=1)
    assert r.status_code == 400
    assert "NoSuchParameter" in r.json()["error"]["innererror"]["internalexception"]["message"]


def test_unknown_cmdlet_is_403_nul_bytes(api):
    """6.5: unauthorized/unknown cmdlet -> 403 with a non-JSON run of NUL bytes."""
    r = api.invoke("Remove-Mailbox", Identity=USERS[0])
    assert r.status_code == 403 and r.content and set(r.content) == {0}


def test_bypass_and_folder_statistics(api):
    body = _ok(api.invoke("Get-MailboxAuditBypassAssociation", ResultSize="Unlimited"))
    assert body["value"][0]["AuditBypassEnabled"] is True
    body = _ok(api.invoke("Get-MailboxFolderStatistics", Identity=USERS[0]))
    assert {r["Name"] for r in body["value"]} == {"Inbox", "Archive"}
    r = api.invoke("Get-MailboxFolderStatistics")
    assert r.status_code == 400
    assert "Identity" in r.json()["error"]["innererror"]["internalexception"]["message"]


def test_malformed_body_is_400(api):
    r = api.post("exchange", f"/adminapi/beta/{api.tenant}/InvokeCommand", data=b"{}",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and json.loads(r.content)["error"]["message"] == "Invalid Operation"


def test_tenant_by_domain_is_accepted(api):
    r = api.invoke("Get-OrganizationConfig", url=f"/adminapi/beta/{api.c['tenant_domain']}/InvokeCommand")
    assert r.status_code == 200
