"""evkit.report.coverage.assess: per-mailbox audit facts and verdicts (pure; synthetic config objects)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from readiness_data import E3, mailbox, tenant, with_sqi

from evkit.report.coverage.config_evidence import BYPASS, EXPECTED_PIECES, LICENSE_DETAILS, USERS
from evkit.report.coverage.periods import coverage_periods
from evkit.report.coverage.assess import (DEFAULT_ACTIONS, REASONS, assess_mailboxes,
                             parse_days)


def _one(cfg, **kw):
    (row,) = assess_mailboxes(cfg, **kw)
    return row


def test_default_mailbox_with_search_audit_and_premium_is_investigable():
    row = _one(tenant([with_sqi("alice@contoso.com")]))
    assert row.verdict == "investigable"
    assert row.reasons == ()
    assert row.audited("owner", "MailItemsAccessed") and row.audited("owner", "SearchQueryInitiated")
    assert row.audited("delegate", "Send") is None  # delegate sends are SendAs/SendOnBehalf


def test_search_query_initiated_off_is_reported_but_keeps_the_verdict():
    row = _one(tenant([mailbox("bob@contoso.com")]))
    assert row.verdict == "investigable"
    assert row.reasons == ("audit-set-lacks-SearchQueryInitiated",)
    assert row.audited("owner", "SearchQueryInitiated") is False


@pytest.mark.parametrize("logon", ["owner", "delegate", "admin"])
def test_customised_set_without_mail_items_accessed(logon):
    kw = {logon: set(DEFAULT_ACTIONS[logon]) - {"MailItemsAccessed"}}
    default = tuple(t for t in ("Admin", "Delegate", "Owner") if t.lower() != logon)
    row = _one(tenant([mailbox("carol@contoso.com", default_set=default, **kw)]))
    assert row.audited(logon, "MailItemsAccessed") is False
    assert "audit-set-lacks-MailItemsAccessed" in row.reasons
    assert row.verdict == ("blind" if logon == "owner" else "partly")


def test_listed_set_is_the_truth_even_when_microsoft_managed():
    # a pre-expansion Standard mailbox lists no MailItemsAccessed under DefaultAuditSet Owner
    row = _one(tenant([mailbox("dan@contoso.com", owner={"Update"})]))
    assert row.audited("owner", "MailItemsAccessed") is False
    assert row.customised == ()


def test_bypass_on_own_account_blinds_owner_logons():
    row = _one(tenant([with_sqi("eve@contoso.com")], bypass=("eve",)))
    assert row.bypass is True and row.verdict == "blind" and "bypass" in row.reasons
    assert row.audited("delegate", "MailItemsAccessed")  # others' access to her mailbox is logged


def test_unlicensed_shared_mailbox_is_blind():
    cfg = tenant([with_sqi("shared@contoso.com", kind="SharedMailbox")], licences={"shared@contoso.com": []})
    row = _one(cfg)
    assert row.type == "shared" and row.licence.tier == "none"
    assert row.verdict == "blind" and "no-audit-licence" in row.reasons


def test_standard_licence_counts_after_the_expansion_only():
    mbx = [with_sqi("frank@contoso.com")]
    cfg = tenant(mbx, licences={"frank@contoso.com": [E3]})
    assert _one(cfg).verdict == "investigable"
    before = _one(cfg, at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert before.verdict == "blind" and "audit-standard-before-expansion" in before.reasons


def test_disabled_premium_plan_is_not_premium():
    e5_off = {"skuPartNumber": "SPE_E5", "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
              "servicePlans": [{"servicePlanId": "2f442157-a11c-46b9-ae5b-6e39ff4e5849",
                                "servicePlanName": "M365_ADVANCED_AUDITING", "provisioningStatus": "Disabled"}]}
    row = _one(tenant([with_sqi("gina@contoso.com")], licences={"gina@contoso.com": [e5_off]}))
    assert row.licence.tier == "none" and row.verdict == "blind"


@pytest.mark.parametrize("switch, code", [({"audit_disabled": True}, "org-audit-disabled"),
                                          ({"ingestion": False}, "ingestion-disabled")])
def test_org_switches_blind_every_mailbox(switch, code):
    rows = assess_mailboxes(tenant([with_sqi("a@contoso.com"), with_sqi("b@contoso.com")], **switch))
    assert [r.verdict for r in rows] == ["blind", "blind"]
    assert all(code in r.reasons for r in rows)


def test_short_mailbox_audit_retention_is_partly():
    row = _one(tenant([with_sqi("h@contoso.com", age="30.00:00:00")]), investigation_days=90)
    assert row.verdict == "partly" and row.reasons == ("mailbox-audit-retention-short",)


def test_missing_evidence_is_a_caveat_not_a_gap():
    present = tuple(p for p in EXPECTED_PIECES if p not in (BYPASS, USERS, LICENSE_DETAILS))
    row = _one(tenant([with_sqi("i@contoso.com")], licences={}, present=present))
    assert row.verdict == "investigable"
    assert set(row.caveats) == {"bypass-evidence-missing", "licence-unknown"}


def test_resource_mailbox_needs_audit_enabled():
    row = _one(tenant([with_sqi("room@contoso.com", kind="RoomMailbox", AuditEnabled=False)]))
    assert row.verdict == "blind" and "mailbox-auditing-off" in row.reasons


@pytest.mark.parametrize("text, days", [("90.00:00:00", 90), ("1.12:00:00", 1.5), ("12:00:00", 0.5),
                                        (None, None), ("junk", None)])
def test_parse_days(text, days):
    assert parse_days(text) == days


def test_every_reason_has_text():
    assert all(REASONS[c] for c in REASONS)


def test_coverage_periods_without_changes_is_one_period():
    cfg = tenant([with_sqi("a@contoso.com"), mailbox("b@contoso.com", default_set=("Admin", "Delegate"),
                                                     owner={"Update"})])
    window = ("2024-09-01T00:00:00Z", "2024-10-01T00:00:00Z")
    periods = coverage_periods(cfg, [], window)
    assert [(p.covered, p.reasons) for p in periods["a@contoso.com"]] == [(True, ())]
    assert [(p.covered, p.reasons) for p in periods["b@contoso.com"]] == [
        (False, ("audit-set-lacks-MailItemsAccessed",))]
    assert periods["a@contoso.com"][0].start == datetime(2024, 9, 1, tzinfo=timezone.utc)
