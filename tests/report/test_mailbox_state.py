from evkit.report.rules.mailbox_state import external_targets, rule_actions


def test_hidden_forwarding_rule_is_forward_and_delete() -> None:
    rule = {"Name": ".", "ForwardTo": ["x@evil.example"], "DeleteMessage": True}
    assert rule_actions(rule) == ("forward", "delete")


def test_move_to_rss_feeds_is_hiding_but_move_to_projects_is_not() -> None:
    assert rule_actions({"MoveToFolder": "ceo:\\RSS Feeds"}) == ("move to rarely used folder",)
    assert rule_actions({"MoveToFolder": "ceo:\\Projects"}) == ()


def test_redirect_and_empty_values() -> None:
    assert rule_actions({"RedirectTo": "a@b.example", "ForwardTo": [], "DeleteMessage": False}) == ("redirect",)


def test_external_targets() -> None:
    got = external_targets(["smtp:X@Evil.example", "a@contoso.com", "Legacy DN"], ["Contoso.com"])
    assert got == ("smtp:X@Evil.example",)


def test_creating_record_picks_latest_matching_and_ignores_unnamed() -> None:
    from evkit.report.rules.mailbox_state import creating_record, unexplained_reason
    recs = [
        {"Id": "1", "Operation": "New-InboxRule", "CreationTime": "2026-11-02T10:00:00Z",
         "params": {"Mailbox": "ceo@contoso.com", "Name": "."}},
        {"Id": "2", "Operation": "Set-InboxRule", "CreationTime": "2026-11-03T10:00:00Z",
         "params": {"Identity": "CEO@contoso.com\\."}},
        {"Id": "3", "Operation": "New-InboxRule", "CreationTime": "2026-11-04T10:00:00Z",
         "params": {"Name": "."}},
        {"Id": "4", "Operation": "New-InboxRule", "CreationTime": "2026-11-05T10:00:00Z",
         "params": {"Mailbox": "cfo@contoso.com", "Name": "."}},
    ]
    got = creating_record(".", "ceo@contoso.com", recs)
    assert got is not None and got["Id"] == "2"
    assert creating_record("old rule", "ceo@contoso.com", recs) is None
    assert "predates" in unexplained_reason(True)
    assert "incomplete" in unexplained_reason(False)
