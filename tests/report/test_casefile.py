"""Case file parsing (DESIGN 5.2): the documented shape, and errors that name the key."""

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
