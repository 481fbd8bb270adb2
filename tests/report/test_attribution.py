"""Attribution rules: value normalisation and matching, one row per quirk seen in the wild."""

from __future__ import annotations

import ipaddress

import pytest

from evkit.report.rules.attribution import (indicator_hits, kinds_sought, match_app, match_ip, match_session,
                                match_user_agent, match_value, normalise_ip, session_label)
from evkit.report.casefile import Indicators

NETS = (ipaddress.ip_network("203.0.113.7/32"), ipaddress.ip_network("198.51.100.0/24"),
        ipaddress.ip_network("2001:db8:bad::/48"))


@pytest.mark.parametrize("raw, expected", [
    ("203.0.113.7", "203.0.113.7"),
    ("203.0.113.7:51234", "203.0.113.7"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("fe80::1%eth0", "fe80::1"),
    (" 2001:DB8::1 ", "2001:db8::1"),
    ("", None), ("<null>", None), ("not-an-ip", None),
])
def test_normalise_ip(raw, expected):
    got = normalise_ip(raw)
    assert (str(got) if got else None) == expected


@pytest.mark.parametrize("raw, label", [
    ("203.0.113.7", "ip 203.0.113.7"),
    ("203.0.113.7:443", "ip 203.0.113.7"),
    ("198.51.100.200", "ip 198.51.100.0/24"),
    ("::ffff:198.51.100.1", "ip 198.51.100.0/24"),
    ("[2001:db8:bad:1::9]:8080", "ip 2001:db8:bad::/48"),
    ("203.0.113.8", None),
    ("2001:db8:bae::1", None),
])
def test_match_ip(raw, label):
    assert match_ip(raw, NETS) == label


@pytest.mark.parametrize("fn, value, known, label", [
    (match_app, "{4F2C9D8E-1111}", ("4f2c9d8e-1111",), "app 4f2c9d8e-1111"),
    (match_app, "other", ("4f2c9d8e-1111",), None),
    (match_session, " S-1 ", ("s-1",), "session s-1"),
    (match_session, "", ("s-1",), None),
    (match_user_agent, "Client=REST;python-requests/2.31", ("Python-Requests",), "user agent 'Python-Requests'"),
    (match_user_agent, "Client=OWA", ("python",), None),
])
def test_value_rules(fn, value, known, label):
    assert fn(value, known) == label


def test_indicator_hits_are_sorted_and_typed():
    ind = Indicators(ips=NETS, session_ids=("evil",), user_agents=("curl",))
    values = [("ip", "203.0.113.7:1"), ("ip", "192.0.2.1"), ("session", "evil"), ("ua", "curl/8"),
              ("app", "x")]
    assert indicator_hits(values, ind) == [
        ("ip", "203.0.113.7:1", "ip 203.0.113.7"), ("session", "evil", "session evil"),
        ("ua", "curl/8", "user agent 'curl'")]


def test_session_label_names_the_leading_indicator():
    assert session_label("abc", "ip 203.0.113.7") == "session abc (led there by ip 203.0.113.7)"


def test_only_the_kinds_some_indicator_seeks_are_read():
    assert kinds_sought(Indicators(accounts=("a@x",))) == ()
    assert kinds_sought(Indicators(ips=NETS[:1], user_agents=("python",))) == ("ip", "ua")
    everything = Indicators(ips=NETS, app_ids=("a",), session_ids=("s",), user_agents=("u",))
    assert kinds_sought(everything) == ("ip", "app", "session", "ua")
    # a kind left out could never match: match_value finds nothing without its indicators
    nothing = Indicators(accounts=("a@x",))
    assert all(match_value(kind, value, nothing) is None
               for kind, value in [("ip", "203.0.113.7"), ("app", "a"), ("session", "s"), ("ua", "u")])
