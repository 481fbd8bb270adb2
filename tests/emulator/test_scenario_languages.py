"""A tenant whose mailboxes are not in English (bec-basic, non_latin=true): alice's mailbox is
Russian and bob's Japanese. Exchange names default folders in the mailbox's language, and audit
records and folder statistics carry those names; the scenario's keys stay English."""

from __future__ import annotations

import json

import pytest

from evkit.emulator.scenarios import build_scenario
from evkit.emulator.scenarios.model import FOLDER_PATHS, LOCAL_FOLDERS

INBOX_RU, INBOX_JA = "\\Входящие", "\\受信トレイ"


@pytest.fixture(scope="module")
def sc(tmp_path_factory):
    return build_scenario("bec-basic", 1, tmp_path_factory.mktemp("intl"), {"non_latin": True})


def folder_paths(sc, mailbox: str) -> set[str]:
    """Every folder path the scenario's MailItemsAccessed and send/move records write for a mailbox."""
    out: set[str] = set()
    for rec in sc.records(sc.start, sc.end):
        if rec.get("MailboxOwnerUPN") != mailbox:
            continue
        out |= {f["Path"] for f in rec.get("Folders", [])}
        out |= {i["ParentFolder"]["Path"] for i in rec.get("AffectedItems", [])}
        if "Item" in rec:
            out.add(rec["Item"]["ParentFolder"]["Path"])
    return out


def test_every_language_names_every_default_folder():
    for names in LOCAL_FOLDERS.values():
        assert set(names) == set(FOLDER_PATHS)


def test_records_carry_the_mailbox_s_own_folder_names(sc):
    alice, bob = folder_paths(sc, "alice@contoso.com"), folder_paths(sc, "bob@contoso.com")
    assert INBOX_RU in alice and alice <= set(LOCAL_FOLDERS["ru"].values())
    assert INBOX_JA in bob and bob <= set(LOCAL_FOLDERS["ja"].values())
    assert "\\Inbox" in folder_paths(sc, "erin@contoso.com")


def test_folder_statistics_and_display_names_follow_the_language(sc):
    rows = sc.folder_statistics("alice@contoso.com")
    inbox = [r for r in rows if r.get("FolderType") == "Inbox"]
    assert [(r["Name"], r["FolderPath"]) for r in inbox] == [("Входящие", "/Входящие")]
    names = {m["UserPrincipalName"]: m["DisplayName"] for m in sc.mailboxes}
    assert names["alice@contoso.com"] == "Алиса Уилсон" and names["bob@contoso.com"] == "陳 ボブ"


def test_ground_truth_names_folders_as_the_records_do(sc):
    truth = sc.ground_truth
    synced = {(m["mailbox"], i["folder"]) for m in truth["mailboxes"] for i in m["inferable"]
              if i["reason"] == "sync"}
    assert ("alice@contoso.com", INBOX_RU) in synced and ("bob@contoso.com", INBOX_JA) in synced
    assert "\\Inbox" not in json.dumps([f for _, f in synced], ensure_ascii=False)


def test_subjects_are_in_the_mailbox_s_language(sc):
    sends = [r for r in sc.records(sc.start, sc.end) if r["Operation"] in ("Send", "SendAs")
             and r.get("MailboxOwnerUPN") == "alice@contoso.com"]
    assert sends and all(any("\u0400" <= ch <= "\u04ff" for ch in r["Item"]["Subject"]) for r in sends)
