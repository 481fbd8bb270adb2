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
    assert "incomplete" in unexplained_reason(False, "2026-11-01")
    assert "no audit log was collected" in unexplained_reason(False)


def test_recipient_values_as_the_admin_api_shows_them() -> None:
    from evkit.report.rules.mailbox_state import address_of
    assert address_of('"Box" [SMTP:drop@evil.example]') == "drop@evil.example"
    assert address_of('"Rob" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=ab-rob]') == ""
    assert address_of("smtp:x@y.example") == "x@y.example" and address_of("Legacy DN") == ""
    got = external_targets(['"a" [SMTP:a@contoso.com]', '"b" [SMTP:b@evil.example]', '"c" [EX:/o=x]'],
                           ["contoso.com"])
    assert got == ('"b" [SMTP:b@evil.example]',)


def test_rule_made_in_outlook_on_the_web_is_matched_by_its_object_id() -> None:
    from evkit.report.rules.mailbox_state import creating_record
    rec = {"Id": "9", "Operation": "New-InboxRule", "CreationTime": "2026-11-02T10:00:00Z",
           "ObjectId": "alice\\.", "params": {"Name": "."}}
    assert creating_record(".", "alice@contoso.com", [rec]) is None          # alias unknown: no guess
    assert creating_record(".", "alice@contoso.com", [rec], aliases=["alice"])["Id"] == "9"


def test_change_records_and_grants() -> None:
    from evkit.report.rules.mailbox_state import change_record, is_grant_to_other, transport_actions
    recs = [{"Id": "f", "Operation": "Set-Mailbox", "CreationTime": "2026-11-02T10:00:00Z",
             "params": {"Identity": "alice@contoso.com", "ForwardingSmtpAddress": "smtp:x@evil.example"}},
            {"Id": "p", "Operation": "Add-MailboxPermission", "CreationTime": "2026-11-02T11:00:00Z",
             "params": {"Identity": "finance@contoso.com", "User": "alice@contoso.com", "AccessRights": "FullAccess"}},
            {"Id": "t", "Operation": "New-TransportRule", "CreationTime": "2026-11-02T12:00:00Z",
             "params": {"Name": "Bcc out"}}]
    assert change_record("forwarding", ["alice@contoso.com"], "smtp:X@evil.example", recs)["Id"] == "f"
    assert change_record("forwarding", ["bob@contoso.com"], "smtp:x@evil.example", recs) is None
    assert change_record("mailbox_permission", ["finance", "finance@contoso.com"], "alice@contoso.com", recs)["Id"] == "p"
    assert change_record("recipient_permission", ["finance@contoso.com"], "alice@contoso.com", recs) is None
    assert change_record("transport_rule", [], "bcc out", recs)["Id"] == "t"
    assert is_grant_to_other("bob@contoso.com", ["FullAccess"], "FullAccess", ["finance@contoso.com"])
    assert not is_grant_to_other("NT AUTHORITY\\SELF", ["FullAccess"], "FullAccess", [])
    assert not is_grant_to_other("bob@contoso.com", ["FullAccess"], "FullAccess", [], inherited=True)
    assert not is_grant_to_other("bob@contoso.com", ["ReadPermission"], "FullAccess", [])
    assert transport_actions({"BlindCopyTo": ["j@v.example"], "PrependSubject": "x"}) == (("blind copy", ("j@v.example",)),)


def _state(kind: str, *, external: bool = False, indicator: str | None = None, record: bool = True) -> dict:
    rec = {"id": "r", "time_utc": "2026-11-02T10:00:00Z", "operation": "New-InboxRule", "actor": "a",
           "indicator": indicator} if record else None
    return {"kind": kind, "external": ["x@evil.example"] if external else [], "record": rec}


def test_page_one_sentence_counts_kinds_outside_forwarding_attacker_and_unexplained() -> None:
    from evkit.report.rules.mailbox_state import still_in_place
    found = [_state("inbox rule", external=True, indicator="ip 203.0.113.7"), _state("inbox rule", record=False),
             _state("forwarding", external=True, record=False)]
    text = still_in_place(found, 13, 0)
    assert text.startswith("2 inbox rules and 1 forwarding setting of the kinds an attacker leaves behind were "
                           "still in place in the 13 mailboxes read"), text
    assert "2 sending mail outside the organisation; 1 set by the attacker; 2 that no audit record explains" in text
    assert "could not be read" not in text


def test_page_one_sentence_never_says_none_for_parts_not_read() -> None:
    from evkit.report.rules.mailbox_state import still_in_place
    assert still_in_place([], 1, 0) == ("None of the inbox rules, forwarding or permissions an attacker leaves "
                                        "behind was found in the 1 mailbox read.")
    partial = still_in_place([], 4, 2)
    assert partial.endswith("2 parts could not be read: more may be in place there.")
    one = still_in_place([_state("send as")], 4, 1)
    assert one.startswith("1 SendAs grant of the kinds an attacker leaves behind was still in place")
    assert "none tied to the attacker by an audit record" in one and "1 part could not be read" in one


def test_page_one_sentence_with_many_kinds_stays_short() -> None:
    from evkit.report.rules.mailbox_state import still_in_place
    found = [_state(k) for k in ("inbox rule", "forwarding", "full access", "send as", "transport rule")]
    assert still_in_place(found, 5, 0).startswith("5 rules, forwarding settings and grants of the kinds an attacker "
                                                  "leaves behind were still in place in the 5 mailboxes read")


def test_folder_permissions_that_let_others_read_mail() -> None:
    from evkit.report.rules.mailbox_state import folder_read_grant
    owner = ["finance@contoso.com", "finance", "finance team"]
    assert folder_read_grant("Inbox", "Default", ["Reviewer"], owner) == "everyone in the organisation"
    assert folder_read_grant("\\", "Anonymous", ["ReadItems", "FolderVisible"], owner) == "anyone, without signing in"
    assert folder_read_grant("Inbox", "Bob Kent", ["Editor"], owner) == "Bob Kent"
    assert folder_read_grant("Calendar", "Erin Lee", ["Editor"], owner) is None          # a calendar delegate
    assert folder_read_grant("\\", "Bob Kent", ["FolderVisible"], owner) is None        # sees the folder, no mail
    assert folder_read_grant("Inbox", "Bob Kent", ["Contributor"], owner) is None       # may add, not read
    assert folder_read_grant("Inbox", "Default", ["None"], owner) is None
    assert folder_read_grant("Inbox", "Finance Team", ["Owner"], owner) is None         # the owner's own entry
    assert folder_read_grant("Inbox", "NT AUTHORITY\\SELF", ["Owner"], owner) is None
