"""The SQL pieces of the normalised record: cheaper forms must give what the plain ones give."""

from __future__ import annotations

import pytest

from report.engine import Engine
from report.engine_sql import _prop, _trim, distinct_keys

NBSP, IDEOGRAPHIC_SPACE, EM_SPACE = "\u00a0", "\u3000", "\u2003"
TEXTS = ["alice@contoso.com", " alice", "alice ", "  ", "", "\talice\t", "a\u00e9", f"{NBSP}alice",
         f"alice{IDEOGRAPHIC_SPACE}", f"{EM_SPACE}x{EM_SPACE}", "x\u200b", "\u00e9 ", "ALICE\n", None]


@pytest.mark.parametrize("text", TEXTS)
def test_guarded_trim_is_trim(text):
    with Engine() as e:
        guarded, plain = e.rows(f"SELECT {_trim('s')}, trim(s) FROM (SELECT ?::VARCHAR AS s)", [text])[0]
    assert guarded == plain


def test_property_is_the_first_pair_with_the_name_at_any_position():
    pairs = [{"Name": f"P{n}", "Value": str(n)} for n in range(8)] + [{"Name": "P6", "Value": "again"}]
    with Engine() as e:
        e.execute("CREATE TABLE t (l STRUCT(Name VARCHAR, Value VARCHAR)[])")
        e.execute("INSERT INTO t VALUES (?), (?), (NULL)", [pairs, [{"Name": "Other", "Value": "x"}]])
        got = e.rows(f"SELECT {_prop('l', 'P0')}, {_prop('l', 'P6')}, {_prop('l', 'Missing')} FROM t")
    assert got == [("0", "6", None), (None, None, None), (None, None, None)]


def test_distinct_keys_reads_only_the_kinds_asked_for():
    with Engine() as e:
        e.execute("CREATE TABLE events AS SELECT * FROM (VALUES ('203.0.113.7', NULL, NULL, 'a1', NULL, NULL, "
                  "'s1', NULL, NULL, 'ua', NULL)) t(client_ip, client_ip_address, actor_ip, app_id, client_app_id, "
                  "aac_client_app_id, session_id, aad_session_id, device_session_id, client_info, user_agent)")
        assert e.rows(distinct_keys([])) == []
        assert e.rows(f"{distinct_keys(['ip'])} ORDER BY ALL") == [("ip", "203.0.113.7")]
        assert e.rows(f"{distinct_keys(['session', 'app'])} ORDER BY ALL") == [("app", "a1"), ("session", "s1")]
