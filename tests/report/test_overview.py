"""Page 1 as data (report.outputs.overview): the answer, cards that add up, reasons grouped."""

from __future__ import annotations

from datetime import UTC, datetime

from evkit.report.coverage.assess import explain
from evkit.report.outputs.overview import answer, mailbox_cards, plain_reason, unknown_groups

WINDOW = ("2023-06-08T00:00:00Z", "2023-06-15T00:00:00Z")
WINDOW_DT = (datetime(2023, 6, 8, tzinfo=UTC), datetime(2023, 6, 15, tzinfo=UTC))
ORG_OFF = f"{explain('org-audit-disabled')} (any access not logged)"


def mailbox(name: str, verdict: str, *gaps: tuple[str, str, str]) -> dict:
    return {"mailbox": name, "verdict": verdict,
            "unknown": [{"start": s, "end": e, "reason": r} for s, e, r in gaps]}


def test_cards_partition_the_mailboxes_in_the_evidence():
    rows = [mailbox("a", "accessed", (*WINDOW, ORG_OFF)), mailbox("b", "presumed accessed"),
            mailbox("c", "cannot be assessed", (*WINDOW, ORG_OFF)), mailbox("d", "no evidence of access")]
    cards = mailbox_cards(rows, 13)
    assert cards == {"mailboxes_total": 13, "mailboxes_affected": 2, "mailboxes_cannot_be_assessed": 1,
                     "mailboxes_no_evidence": 10, "mailboxes_affected_with_gaps": 1}
    assert mailbox_cards(rows, 0)["mailboxes_total"] == 4          # never fewer than listed


def test_groups_by_reason_with_period_most_mailboxes_first():
    bypass = f"{explain('bypass')} (owner access not logged)"
    rows = [mailbox("a", "accessed", ("2023-06-11T10:00:00Z", WINDOW[1], bypass)),
            mailbox("b", "cannot be assessed", (*WINDOW, ORG_OFF)),
            mailbox("c", "cannot be assessed", (*WINDOW, ORG_OFF))]
    first, second = unknown_groups(rows, WINDOW)
    assert (first["count"], first["mailboxes"], first["whole_window"]) == (2, ["b", "c"], True)
    assert first["plain"] == "auditing was switched off for the whole organisation"
    assert (second["start"], second["whole_window"]) == ("2023-06-11T10:00:00Z", False)
    assert second["plain"] == "the account was exempted from auditing (audit bypass); owner access only"


def test_unknown_reasons_are_kept_as_stated():
    assert plain_reason("collection window capped (ual)") == "collection window capped (ual)"


def test_auditing_off_for_the_whole_tenant_leads_with_what_cannot_be_known():
    rows = [mailbox(n, "cannot be assessed", (*WINDOW, ORG_OFF)) for n in "abc"]
    cards = mailbox_cards(rows, 3)
    text = answer(cards=cards, confirmed=0, inferred=0, unnamed=0, groups=unknown_groups(rows, WINDOW),
                  attributed=False, first=None, last=None, window=WINDOW_DT)
    assert text.startswith("Whether mail was read cannot be known for 3 of the 3 mailboxes in the evidence "
                           "(chiefly because auditing was switched off for the whole organisation)")
    assert "0 item" not in text


def test_auditing_off_with_attacker_sign_ins_never_leads_with_zero_items():
    rows = [mailbox(n, "cannot be assessed", (*WINDOW, ORG_OFF)) for n in "abc"]
    text = answer(cards=mailbox_cards(rows, 3), confirmed=0, inferred=0, unnamed=0,
                  groups=unknown_groups(rows, WINDOW), attributed=True, first=WINDOW_DT[0],
                  last=WINDOW_DT[1], window=WINDOW_DT)
    assert text.startswith("Whether mail was read cannot be known for 3 of the 3 mailboxes")
    assert "0 item" not in text and "0 of the" not in text
    assert text.endswith("matching the case's indicators, but no record of it names an item read.")


def test_found_access_leads_with_the_numbers_and_names_the_rest():
    rows = [mailbox("a", "accessed"), mailbox("b", "cannot be assessed", (*WINDOW, ORG_OFF)),
            mailbox("c", "no evidence of access")]
    text = answer(cards=mailbox_cards(rows, 10), confirmed=89, inferred=106, unnamed=5239, groups=[],
                  attributed=True, first=WINDOW_DT[0], last=WINDOW_DT[1], window=WINDOW_DT)
    assert text == ("Between 8 June 2023, 00:00 UTC and 15 June 2023, 00:00 UTC, 89 items were confirmed "
                    "read or handled by the attacker and 5,345 more must be presumed read, in 1 of the 10 "
                    "mailboxes in the evidence; for 1 more mailboxes access cannot be assessed.")


def test_a_group_says_when_each_mailbox_s_period_began():
    """An audit bypass added during the incident (alice) beside one always there (svc): the
    group spans the window, and says alice's began later."""
    bypass = f"{explain('bypass')} (owner access not logged)"
    rows = [mailbox("alice", "accessed", ("2023-06-11T10:00:00Z", WINDOW[1], bypass)),
            mailbox("svc", "cannot be assessed", (*WINDOW, bypass))]
    [group] = unknown_groups(rows, WINDOW)
    assert (group["start"], group["whole_window"]) == (WINDOW[0], False)
    assert group["mailbox_start"] == {"alice": "2023-06-11T10:00:00Z", "svc": WINDOW[0]}
