"""Suggested indicators: each rule on its own, and the combination."""

from __future__ import annotations

import pytest

from evkit.report.rules.suggest import (ValueStats, changing_session, many_mailboxes, new_mail_app, suggest,
                            used_by_attributed_session)


@pytest.mark.parametrize("stats, baseline, fires", [
    (ValueStats("app", "x", 5, 0, 1), True, True),
    (ValueStats("app", "x", 5, 2, 1), True, True),
    (ValueStats("app", "x", 5, 40, 1), True, False),
    (ValueStats("app", "x", 5, 0, 1), False, False),
    (ValueStats("app", "x", 0, 0, 0), True, False),
    (ValueStats("ip", "x", 5, 0, 1), True, False),
])
def test_new_mail_app(stats, baseline, fires):
    assert bool(new_mail_app(stats, has_baseline=baseline)) is fires


@pytest.mark.parametrize("stats, fires", [
    (ValueStats("ip", "1.2.3.4", 3, 0, 2), True), (ValueStats("ip", "1.2.3.4", 3, 0, 1), False),
    (ValueStats("session", "s", 3, 0, 3), True), (ValueStats("app", "a", 3, 0, 5), False),
])
def test_many_mailboxes(stats, fires):
    assert bool(many_mailboxes(stats)) is fires


@pytest.mark.parametrize("stats, fires", [
    (ValueStats("session", "s", 3, 0, 1, addresses=2), True),
    (ValueStats("session", "s", 3, 0, 1, client_strings=2), True),
    (ValueStats("session", "s", 3, 0, 1, addresses=1, client_strings=1), False),
    (ValueStats("ip", "s", 3, 0, 1, addresses=2), False),
])
def test_changing_session(stats, fires):
    assert bool(changing_session(stats)) is fires


def test_known_values_are_never_suggested_and_ids_are_capped():
    stats = [ValueStats("ip", "203.0.113.7", 3, 0, 2), ValueStats("ip", "192.0.2.9", 80, 0, 3,
                                                                   record_ids=tuple(f"r{i:03d}" for i in range(80)))]
    out = suggest(stats, known={("ip", "203.0.113.7")}, has_baseline=True)
    assert [s.value for s in out] == ["192.0.2.9"]
    assert len(out[0].record_ids) == 50 and out[0].record_count == 80


@pytest.mark.parametrize("stats, fires", [
    (ValueStats("ip", "198.51.100.23", 0, 0, 0, in_attributed_sessions=4), True),
    (ValueStats("app", "x", 0, 0, 0, in_attributed_sessions=1), True),
    (ValueStats("app", "owa", 0, 500, 0, in_attributed_sessions=1), False),
    (ValueStats("session", "s", 0, 0, 0, in_attributed_sessions=3), False),
    (ValueStats("ip", "198.51.100.23", 5, 0, 0), False),
])
def test_used_by_attributed_session(stats, fires):
    assert bool(used_by_attributed_session(stats)) is fires


GRAPH, EXO, CALLER = "00000003-0000-0000-c000-000000000000", "00000002-0000-0FF1-CE00-000000000000", \
    "4f2c9d8e-1111-4222-9333-444455556666"


def test_microsoft_first_party_apps_are_never_suggested_the_calling_app_is():
    """A new app reading mail through Graph: its records carry Graph's AppId and the caller's
    ClientAppId, both new to the tenant. Only the caller is a lead."""
    stats = [ValueStats("app", GRAPH, 40, 0, 0), ValueStats("app", EXO, 40, 0, 0, in_attributed_sessions=3),
             ValueStats("app", CALLER, 40, 0, 0)]
    found = suggest(stats, known=set(), has_baseline=True)
    assert [(s.kind, s.value) for s in found] == [("app", CALLER)]
