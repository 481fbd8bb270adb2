"""The app permission model: a withheld permission produces Microsoft's answer
(docs/microsoft-365.md §1.1 / §1.5 AF10001, §2.2, §5.1, §6.5 "neither -> §401; app role only -> §403")."""

from __future__ import annotations

import pytest
from emulator_fakes import FakeScenario
from emulator_helpers import Api

from evkit.emulator.errors import UsageError
from evkit.emulator.testing import running_emulator


@pytest.fixture
def withheld(tmp_path):
    def start(*perms, **options):
        options.setdefault("service", "legacy")  # the contract tests here describe legacy unless they say
        return running_emulator(tmp_path, scenario=FakeScenario(), withhold=perms, **options)
    return start


def test_management_without_activity_feed_read_is_af10001(withheld):
    with withheld("ActivityFeed.Read") as emu:
        api = Api(emu)
        r = api.get("manage", api.mgmt_url("subscriptions/list"))
        assert r.status_code == 401 and r.json()["error"]["code"] == "AF10001"


def test_exchange_without_app_role_is_401_without_directory_role_403_under_legacy(withheld):
    with withheld("Exchange.ManageAsApp", "directory-role", service="legacy") as emu:
        assert Api(emu).invoke("Get-OrganizationConfig").status_code == 401
    with withheld("directory-role", service="legacy") as emu:
        r = Api(emu).invoke("Get-OrganizationConfig")
        assert r.status_code == 403 and set(r.content) == {0}


def test_exchange_least_privilege_role_groups_under_current(withheld):
    """current: a service principal in the Exchange role groups needs no Entra directory role;
    each cmdlet needs the group holding its role, else adminapi's NUL-byte 403."""
    with withheld(service="current") as emu:
        api = Api(emu)
        assert api.invoke("Get-OrganizationConfig").status_code == 200
        assert api.invoke("Search-UnifiedAuditLog", StartDate="2026-06-29T00:00:00Z",
                          EndDate="2026-06-29T01:00:00Z", ResultSize=1).status_code == 200
    with withheld("Exchange.ManageAsApp", service="current") as emu:
        assert Api(emu).invoke("Get-OrganizationConfig").status_code == 401
    with withheld("View-Only Organization Management", service="current") as emu:
        api = Api(emu)
        r = api.invoke("Get-OrganizationConfig")
        assert r.status_code == 403 and set(r.content) == {0}
        assert api.invoke("Search-UnifiedAuditLog", StartDate="2026-06-29T00:00:00Z",
                          EndDate="2026-06-29T01:00:00Z", ResultSize=1).status_code == 200
    with withheld("View-Only Audit Logs", service="current") as emu:
        api = Api(emu)
        r = api.invoke("Search-UnifiedAuditLog", StartDate="2026-06-29T00:00:00Z",
                       EndDate="2026-06-29T01:00:00Z", ResultSize=1)
        assert r.status_code == 403 and set(r.content) == {0}
        assert api.invoke("Get-Mailbox", ResultSize="Unlimited").status_code == 200


def test_graph_permissions(withheld):
    with withheld("AuditLogsQuery.Read.All", "User.Read.All") as emu:
        api = Api(emu)
        r = api.post("graph", "/beta/security/auditLog/queries", json={})
        assert r.status_code == 403
        r = api.get("graph", "/v1.0/users")
        assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
        assert api.get("graph", "/v1.0/subscribedSkus").status_code == 200


def test_denied_cmdlet_is_nul_403(withheld):
    with withheld(deny_cmdlets=("Get-MailboxFolderStatistics",)) as emu:
        api = Api(emu)
        r = api.invoke("Get-MailboxFolderStatistics", Identity="alice@contoso.onmicrosoft.com")
        assert r.status_code == 403 and set(r.content) == {0}
        assert api.invoke("Get-Mailbox", Identity="alice@contoso.onmicrosoft.com").status_code == 200


def test_graph_v1_can_be_enabled_under_legacy(withheld):
    with withheld(graph_v1=True, service="legacy") as emu:
        assert Api(emu).post("graph", "/v1.0/security/auditLog/queries", json={}).status_code == 201


def test_unknown_permission_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="Mail.ReadWrite"):
        with running_emulator(tmp_path, scenario=FakeScenario(), withhold=("Mail.ReadWrite",)):
            pass


def test_too_many_open_audit_queries_is_429(withheld):
    """2.4 / 2.7: rapid query creation is throttled (>= 50 queued or running per tenant)."""
    with withheld(graph_max_open_queries=2, graph_query_polls=1) as emu:
        api = Api(emu)
        ids = [api.post("graph", "/beta/security/auditLog/queries", json={}).json()["id"] for _ in range(2)]
        r = api.post("graph", "/beta/security/auditLog/queries", json={})
        assert r.status_code == 429 and r.headers["Retry-After"] == "10"
        assert api.get("graph", f"/beta/security/auditLog/queries/{ids[0]}").json()["status"] == "succeeded"
        assert api.post("graph", "/beta/security/auditLog/queries", json={}).status_code == 201
