"""Case file parsing (docs/methodology.md §1-2): the documented shape, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from evkit.report.casefile import load_case, parse_case
from evkit.report.errors import CaseFileError

REPO = Path(__file__).resolve().parents[2]
GOOD = {"case": {"id": "IR-1", "client": "Contoso", "window": ["2023-05-15T00:00:00Z", "2023-07-16T00:00:00Z"]},
        "indicators": {"accounts": ["Alice@Contoso.com"], "ips": ["203.0.113.7", "198.51.100.0/24", "[2001:db8::1]:443"],
                       "app_ids": ["{ABC}"], "session_ids": ["S1"], "user_agents": ["python"]}}


def _with(section: str, key: str, value) -> dict:
    doc = {"case": dict(GOOD["case"]), "indicators": dict(GOOD["indicators"])}
    doc[section][key] = value
    return doc


def test_example_case_file_parses():
    case = load_case(REPO / "examples" / "case.toml")
    assert case.case_id == "IR-2023-042"
    assert case.window_start < case.window_end


def test_values_are_normalised():
    case = parse_case(GOOD)
    assert case.indicators.accounts == ("alice@contoso.com",)
    assert [str(n) for n in case.indicators.ips] == ["198.51.100.0/24", "203.0.113.7/32", "2001:db8::1/128"]
    assert case.to_json()["indicators"]["ips"] == ["198.51.100.0/24", "203.0.113.7", "2001:db8::1"]
    assert case.indicators.session_ids == ("s1",)


@pytest.mark.parametrize("doc, names", [
    (_with("indicators", "ip", ["1.2.3.4"]), "indicators.ip"),
    (_with("case", "title", "x"), "case.title"),
    ({**GOOD, "extra": {}}, "extra"),
    (_with("indicators", "ips", ["300.1.1.1"]), "indicators.ips[0]"),
    (_with("indicators", "ips", ["10.0.0.0/33"]), "indicators.ips[0]"),
    (_with("case", "window", ["2023-07-16T00:00:00Z", "2023-05-15T00:00:00Z"]), "case.window"),
    (_with("case", "window", ["2023-05-15T00:00:00", "2023-07-16T00:00:00Z"]), "case.window[0]"),
    (_with("case", "window", ["yesterday", "2023-07-16T00:00:00Z"]), "case.window[0]"),
    (_with("case", "window", ["2023-05-15T00:00:00Z"]), "case.window"),
    (_with("case", "id", ""), "case.id"),
    (_with("indicators", "accounts", "alice@contoso.com"), "indicators.accounts"),
    (_with("indicators", "user_agents", [""]), "indicators.user_agents[0]"),
    ({"indicators": {}}, "[case]"),
])
def test_bad_values_name_the_key(doc, names):
    with pytest.raises(CaseFileError, match=__import__("re").escape(names)):
        parse_case(doc)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "case.toml"
    path.write_text("[case\nid=", encoding="utf-8")
    with pytest.raises(CaseFileError, match="case.toml: not valid TOML"):
        load_case(path)


def test_missing_file(tmp_path):
    with pytest.raises(CaseFileError, match="cannot read case file"):
        load_case(tmp_path / "nope.toml")


def test_indicator_addresses_are_normalised_as_records_are():
    """`::ffff:203.0.113.7` is the IPv4 address a record would carry; brackets, ports and case
    are stripped as they are from recorded addresses, so indicator and record meet."""
    case = parse_case(_with("indicators", "ips", ["::FFFF:203.0.113.7", "[2001:DB8::1]:443",
                                                  "::ffff:198.51.100.0/120"]))
    assert [str(n) for n in case.indicators.ips] == ["198.51.100.0/24", "203.0.113.7/32", "2001:db8::1/128"]
    from evkit.report.rules.attribution import match_ip
    assert match_ip("203.0.113.7:51234", case.indicators.ips) == "ip 203.0.113.7"


@pytest.mark.parametrize("value, words", [
    ("0.0.0.0/0", "wider than /8"), ("10.0.0.0/7", "wider than /8"), ("::/0", "wider than /32"),
    ("2001:db8::/31", "wider than /32"), ("::ffff:0.0.0.0/96", "wider than /8"),
    ("fe80::1%eth0", "zone id"), ("[fe80::1%25]:443", "zone id"),
])
def test_over_wide_networks_and_zone_ids_are_errors(value, words):
    with pytest.raises(CaseFileError, match=r"indicators\.ips\[0\].*" + words):
        parse_case(_with("indicators", "ips", [value]))


def test_networks_at_the_limit_are_accepted():
    case = parse_case(_with("indicators", "ips", ["10.0.0.0/8", "2001:db8::/32"]))
    assert [n.prefixlen for n in case.indicators.ips] == [8, 32]


@pytest.mark.parametrize("value", ["a", "Mo", "okh"])
def test_short_user_agent_substrings_are_errors(value):
    with pytest.raises(CaseFileError, match=r"indicators\.user_agents\[1\].*shorter than 4"):
        parse_case(_with("indicators", "user_agents", ["python", value]))
