"""evkit.report.coverage.periods.coverage_periods: tampering records move coverage in time."""

from __future__ import annotations

from datetime import datetime, timezone

from evkit.report.coverage.assess import DEFAULT_ACTIONS
from evkit.report.coverage.periods import coverage_periods
from evkit.report.coverage.changes import parse_audit_value, parse_changes

from readiness_data import E5, mailbox, record, tenant, with_sqi

WINDOW = ("2024-09-01T00:00:00Z", "2024-10-01T00:00:00Z")


def _t(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 9, day, hour, tzinfo=timezone.utc)


def _shape(periods):
    return [(p.start, p.end, p.covered, p.reasons) for p in periods]


def test_bypass_enabled_mid_window_uncovers_from_that_moment():
    cfg = tenant([with_sqi("alice@contoso.com")], bypass=("alice",))
    events = [record("Set-MailboxAuditBypassAssociation", "2024-09-10T08:00:00",
                     {"Identity": "alice", "AuditBypassEnabled": "True"}, object_id="alice")]
    periods = coverage_periods(cfg, events, WINDOW)["alice@contoso.com"]
    assert _shape(periods) == [(_t(1), _t(10, 8), True, ()),
                               (_t(10, 8), datetime(2024, 10, 1, tzinfo=timezone.utc), False, ("bypass",))]


def test_mail_items_accessed_removed_then_restored():
    # snapshot: restored to defaults; before: removed on the 5th, restored on the 20th
    cfg = tenant([with_sqi("bob@contoso.com")])
    events = [
        record("Set-Mailbox", "2024-09-05T00:00:00", {"Identity": "bob@contoso.com",
               "AuditOwner": '@{Remove="MailItemsAccessed"}'}, object_id="bob@contoso.com"),
        record("Set-Mailbox", "2024-09-20T00:00:00", {"Identity": "bob@contoso.com",
               "AuditOwner": '@{Add="MailItemsAccessed"}'}, object_id="bob@contoso.com"),
    ]
    periods = coverage_periods(cfg, events, WINDOW)["bob@contoso.com"]
    assert [(p.start, p.covered) for p in periods] == [(_t(1), True), (_t(5), False), (_t(20), True)]
    assert periods[1].reasons == ("audit-set-lacks-MailItemsAccessed",)


def test_replaced_set_is_exact_forward_and_assumed_default_before():
    owner = sorted(DEFAULT_ACTIONS["owner"] - {"MailItemsAccessed"})
    cfg = tenant([mailbox("c@contoso.com", default_set=("Admin", "Delegate"), owner=set(owner))])
    events = [record("Set-Mailbox", "2024-09-15T00:00:00",
                     {"Identity": "c@contoso.com", "AuditOwner": ",".join(owner)}, object_id="c@contoso.com")]
    periods = coverage_periods(cfg, events, WINDOW)["c@contoso.com"]
    assert [(p.start, p.covered, p.reasons) for p in periods] == [
        (_t(1), True, ("audit-set-assumed-default",)),
        (_t(15), False, ("audit-set-lacks-MailItemsAccessed",))]


def test_org_switch_and_ingestion_apply_to_every_mailbox():
    cfg = tenant([with_sqi("a@contoso.com"), with_sqi("b@contoso.com")])
    events = [record("Set-OrganizationConfig", "2024-09-03T00:00:00", {"AuditDisabled": "True"}),
              record("Set-OrganizationConfig", "2024-09-04T00:00:00", {"AuditDisabled": "False"}),
              record("Set-AdminAuditLogConfig", "2024-09-25T00:00:00",
                     {"UnifiedAuditLogIngestionEnabled": "False"}),
              record("Set-AdminAuditLogConfig", "2024-09-26T00:00:00",
                     {"UnifiedAuditLogIngestionEnabled": "True"})]
    for periods in coverage_periods(cfg, events, WINDOW).values():
        assert [(p.start, p.covered, p.reasons) for p in periods] == [
            (_t(1), True, ()), (_t(3), False, ("org-audit-disabled",)), (_t(4), True, ()),
            (_t(25), False, ("ingestion-disabled",)), (_t(26), True, ())]


def test_licence_removed_in_window():
    cfg = tenant([with_sqi("d@contoso.com")], licences={"d@contoso.com": []})
    old = f"[SkuName=SPE_E5, AccountId=x, SkuId={E5['skuId']}, DisabledPlans=[]]"
    events = [{"Id": "lic1", "CreationTime": "2024-09-12T00:00:00", "Operation": "Change user license.",
               "RecordType": 8, "ObjectId": "d@contoso.com",
               "Target": [{"ID": "d@contoso.com", "Type": 5}],
               "ModifiedProperties": [{"Name": "AssignedLicense", "OldValue": old, "NewValue": "[]"}]}]
    periods = coverage_periods(cfg, events, WINDOW)["d@contoso.com"]
    assert [(p.start, p.covered, p.reasons) for p in periods] == [
        (_t(1), True, ()), (_t(12), False, ("no-audit-licence",))]


def test_standard_licence_window_spanning_the_expansion_is_split():
    from readiness_data import E3
    cfg = tenant([with_sqi("e@contoso.com")], licences={"e@contoso.com": [E3]})
    periods = coverage_periods(cfg, [], ("2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"))["e@contoso.com"]
    assert [(p.start.month, p.covered) for p in periods] == [(1, False), (2, True)]


def test_events_after_window_end_are_undone_and_other_mailboxes_untouched():
    cfg = tenant([with_sqi("f@contoso.com"), with_sqi("g@contoso.com")], bypass=("f",))
    events = [record("Set-MailboxAuditBypassAssociation", "2024-10-15T00:00:00",
                     {"Identity": "f", "AuditBypassEnabled": "True"}, object_id="f")]
    result = coverage_periods(cfg, events, WINDOW)
    assert [p.covered for p in result["f@contoso.com"]] == [True]
    assert [p.covered for p in result["g@contoso.com"]] == [True]


def test_failed_cmdlets_and_duplicates_are_ignored():
    rec = record("Set-OrganizationConfig", "2024-09-03T00:00:00", {"AuditDisabled": "True"}, rid="x")
    failed = dict(rec, Id="y", ResultStatus="False")
    changes = parse_changes([rec, rec, failed])
    assert [(c.record_id, c.value, c.previous) for c in changes] == [("x", True, False)]


def test_parse_audit_value_forms():
    assert parse_audit_value('@{Add="SearchQueryInitiated"}') == ("add", frozenset({"SearchQueryInitiated"}))
    assert parse_audit_value('@{Remove="MailItemsAccessed","Send"}') == (
        "remove", frozenset({"MailItemsAccessed", "Send"}))
    assert parse_audit_value('{"Add":["Send"]}') == ("add", frozenset({"Send"}))
    assert parse_audit_value("Update, HardDelete") == ("replace", frozenset({"Update", "HardDelete"}))
    assert parse_audit_value("System.Collections.Hashtable") == ("unknown", None)


def test_several_logon_types_must_all_be_covered():
    delegate = set(DEFAULT_ACTIONS["delegate"]) - {"MailItemsAccessed"}
    cfg = tenant([mailbox("h@contoso.com", default_set=("Admin", "Owner"), delegate=delegate)])
    assert [p.covered for p in coverage_periods(cfg, [], WINDOW)["h@contoso.com"]] == [True]
    (period,) = coverage_periods(cfg, [], WINDOW, logon=("owner", "delegate", "admin"))["h@contoso.com"]
    assert (period.covered, period.reasons) == (False, ("audit-set-lacks-MailItemsAccessed",))
