"""The SQL pieces of the normalised record: cheaper forms must give what the plain ones give."""

from __future__ import annotations

import pytest

from bundlekit import mia, record, write_bundle
from evkit.report.analysis import load_sightings
from evkit.report.engine.loader import Engine
from evkit.evidence.inventory import scan_bundle
from evkit.report.engine.sql import _prop, _trim, distinct_keys

WINDOW = ("2023-06-01T00:00:00Z", "2023-06-02T00:00:00Z")
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


SID = "51000000-0000-4000-8000-000000000001"          # session ids count only as GUIDs


def test_distinct_keys_reads_only_the_kinds_asked_for():
    with Engine() as e:
        e.execute("CREATE TABLE events AS SELECT * FROM (VALUES ('203.0.113.7', NULL, NULL, 'a1', NULL, NULL, "
                  f"'{SID}', NULL, NULL, 'ua', NULL)) t(client_ip, client_ip_address, actor_ip, app_id, "
                  "client_app_id, "
                  "aac_client_app_id, session_id, aad_session_id, device_session_id, client_info, user_agent)")
        assert e.rows(distinct_keys([])) == []
        assert e.rows(f"{distinct_keys(['ip'])} ORDER BY ALL") == [("ip", "203.0.113.7")]
        assert e.rows(f"{distinct_keys(['session', 'app'])} ORDER BY ALL") == [("app", "a1"), ("session", SID)]


def test_item_mentions_and_sightings_list_every_named_item(tmp_path):
    a, b = "alice@contoso.com", "bob@contoso.com"
    recs = [
        mia("m1", "2023-06-01T10:00:00", a, folders={"\\Inbox": ["<i1@x>", "<i2@x>"], "\\Empty": [],
                                                      "\\Archive": ["<i3@x>", ""]}),
        mia("m2", "2023-06-01T09:00:00", a, folders={"\\Inbox": ["<i1@x>"]}),
        record("d1", "2023-06-01T11:00:00", "HardDelete", a, MailboxOwnerUPN=a, Folder={"Path": "\\Deleted"},
               AffectedItems=[{"InternetMessageId": "<i4@x>", "ParentFolder": {"Path": "\\Inbox"}},
                              {"InternetMessageId": "<i5@x>"}, {"Subject": "no id"}]),
        record("s1", "2023-06-01T12:00:00", "Send", a, MailboxOwnerUPN=a,
               Item={"InternetMessageId": "<i6@x>", "ParentFolder": {"Path": "\\Sent Items"}}),
        mia("m3", "2023-06-01T08:00:00", b, folders={"\\Inbox": ["<b1@x>"]}),
    ]
    with Engine() as e:
        e.load([scan_bundle(write_bundle(tmp_path / "B", recs, window=WINDOW, page_size=3))])
        mentions = e.rows("SELECT record_id, operation, folder, internet_message_id FROM item_mentions ORDER BY ALL")
        sightings = load_sightings(e, [a])
    assert mentions == [
        ("d1", "HardDelete", "\\Deleted", "<i5@x>"), ("d1", "HardDelete", "\\Inbox", "<i4@x>"),
        ("m1", "MailItemsAccessed", "\\Archive", "<i3@x>"), ("m1", "MailItemsAccessed", "\\Inbox", "<i1@x>"),
        ("m1", "MailItemsAccessed", "\\Inbox", "<i2@x>"), ("m2", "MailItemsAccessed", "\\Inbox", "<i1@x>"),
        ("m3", "MailItemsAccessed", "\\Inbox", "<b1@x>"), ("s1", "Send", "\\Sent Items", "<i6@x>")]
    # alice only; an item seen twice in one folder keeps its first sighting
    assert [(s.imid, s.folder, s.record_id) for s in sightings] == [
        ("<i1@x>", "\\Inbox", "m2"), ("<i2@x>", "\\Inbox", "m1"), ("<i3@x>", "\\Archive", "m1"),
        ("<i4@x>", "\\Inbox", "d1"), ("<i5@x>", "\\Deleted", "d1"), ("<i6@x>", "\\Sent Items", "s1")]
