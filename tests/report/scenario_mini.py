"""A small hand-made breach, in the collector's raw layout, whose right answers are known.

alice: the owner reads <o1> and <o2> from the office; the attacker signs in from the indicator
IP (Entra session aad10000-...), then reads <o2> through an app whose records carry only that
session (attributed by session expansion), syncs \\Archive from the indicator IP, searches for
"invoice" and sends a message. bob: Bind logging throttled, and the attacker signs in to bob's
account inside the throttled window. One UAL window was capped by the collector.
"""

from __future__ import annotations

import json

from bundlekit import mia, page_files, record

A, B = "alice@contoso.com", "bob@contoso.com"
WINDOW = ("2023-06-01T00:00:00Z", "2023-06-10T00:00:00Z")
EVIDENCE_WINDOW = ("2023-05-20T00:00:00Z", "2023-06-10T00:00:00Z")
ATTACKER_IP = "203.0.113.7"

CASE_TOML = f"""
[case]
id = "IR-MINI"
client = "Contoso <Ltd>"
window = ["{WINDOW[0]}", "{WINDOW[1]}"]

[indicators]
accounts = ["{A}", "{B}"]
ips = ["{ATTACKER_IP}"]
"""

EXPECTED = {
    (A, "<o2>"): "confirmed",      # attacker Bind via session expansion
    (A, "<sent>"): "confirmed",    # attacker Send
    (A, "<a1>"): "inferred",       # in \\Archive before the attacker's sync
    (A, "<o4>"): "inferred",       # subject matches the attacker's search
    (A, "<o1>"): "unknown",        # owner only; a capped window leaves alice partly blind
    (A, "<late>"): "unknown",      # reached \\Archive only after the sync: not inferred by it
    (B, "<b1>"): "inferred",       # throttled window with attacker activity
}


def records() -> list[dict]:
    owner = dict(ip="192.0.2.10", session="0e0e0000-0000-4000-8000-000000000001")
    return [
        mia("m-own-1", "2023-05-25T09:00:00", A, folders={"\\Inbox": ["<o1>", "<o2>", "<o4>"]},
            subjects={"<o4>": "Invoice 7 from supplier"}, **owner),
        mia("m-own-2", "2023-05-26T09:00:00", A, folders={"\\Archive": ["<a1>"]}, **owner),
        record("s-in", "2023-06-02T08:00:00", "UserLoggedIn", A, RecordType=15, ActorIpAddress=ATTACKER_IP,
               DeviceProperties=[{"Name": "SessionId", "Value": "AAD10000-0000-4000-8000-000000000001"}],
               ExtendedProperties=[{"Name": "UserAgent", "Value": "python-requests/2.31"}]),
        mia("m-att-bind", "2023-06-02T08:05:00", A, folders={"\\Inbox": ["<o2>"]}, ip="198.51.100.50",
            session="e0000000-0000-4000-8000-000000000009", client="Client=REST;Client=RESTSystem;;",
            AppAccessContext={"AADSessionId": "aad10000-0000-4000-8000-000000000001",
                              "ClientAppId": "4f2c9d8e-1111-2222-3333-444455556666"}),
        mia("m-att-sync", "2023-06-02T08:10:00", A, access="Sync", folders={"\\Archive": []}, ip=ATTACKER_IP,
            session="e0000000-0000-4000-8000-000000000010", client="Client=MSExchangeRPC"),
        record("q-1", "2023-06-02T08:12:00", "SearchQueryInitiatedExchange", A, RecordType=101,
               QueryText="invoice", ClientIPAddress=ATTACKER_IP, MailboxOwnerUPN=A),
        record("send-1", "2023-06-02T08:15:00", "Send", A, ClientIPAddress=ATTACKER_IP, MailboxOwnerUPN=A,
               Item={"InternetMessageId": "<sent>", "Subject": "Updated bank details",
                     "ParentFolder": {"Path": "\\Drafts"}}),
        mia("m-own-3", "2023-06-03T09:00:00", A, folders={"\\Archive": ["<late>"]}, **owner),
        mia("m-bob-t", "2023-06-04T10:00:00", B, throttled=True, folders={"\\Inbox": ["<b1>"]},
            ip="192.0.2.20", session="b0b00000-0000-4000-8000-000000000001"),
        record("s-bob", "2023-06-04T12:00:00", "UserLoggedIn", B, RecordType=15, ActorIpAddress=f"{ATTACKER_IP}:5555"),
    ]


def ledger() -> list[dict]:
    def entry(start, end, status, reason=""):
        return {"source": "ual", "unit": f"{start}_{end}", "window": {"start": start, "end": end},
                "expected": 10, "received": 10 if status == "complete" else 5, "unique_ids": 10, "retries": 0,
                "status": status, "reason": reason}
    return [entry("2023-05-20T00:00:00Z", "2023-06-05T00:00:00Z", "complete"),
            entry("2023-06-05T00:00:00Z", "2023-06-06T00:00:00Z", "capped", "50,000 results at a 1-minute split"),
            entry("2023-06-06T00:00:00Z", "2023-06-10T00:00:00Z", "complete")]


def folder_stats_files() -> dict[str, bytes]:
    body = {"@odata.context": "x", "value": [
        {"Identity": f"{A}\\Inbox", "FolderPath": "/Inbox", "ItemsInFolder": 40},
        {"Identity": f"{A}\\Archive", "FolderPath": "/Archive", "ItemsInFolder": 10}]}
    return page_files("Get-MailboxFolderStatistics/alice_contoso.com", "p000001",
                      json.dumps(body).encode(), kind="config.Get-MailboxFolderStatistics", source="config",
                      context={"cmdlet": "Get-MailboxFolderStatistics", "mailbox": A})
