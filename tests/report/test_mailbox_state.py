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
