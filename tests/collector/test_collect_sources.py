"""graph, mgmt, config and licences sources against scripted fake services (no network)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collector_fakes import MemoryBundle, make_ctx

from evkit.collector.client import RawReply
from evkit.collector.evidence import subject_name
from evkit.collector.sources import config as config_source
from evkit.collector.sources import graph, licences, mgmt


def ok(obj: Any, status: int = 200, **headers: str) -> RawReply:
    return RawReply(status, headers, json.dumps(obj).encode())


def entries(bundle: MemoryBundle, source: str) -> dict[str, dict]:
    return {e["unit"]: e for e in bundle.state["ledger"].values() if e["source"] == source}


class FakeGraph:
    def __init__(self, pages: int = 3, limit_exceeded: bool = False) -> None:
        self.polls = 0
        self.pages = pages
        self.limit_exceeded = limit_exceeded
        self.created = 0
        self.fail_page: int | None = None

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        path = urlsplit(url).path
        if method == "POST":
            self.created += 1
            return ok({"id": f"q{self.created}", "status": "notStarted"}, 201)
        if path.endswith("/records"):
            page = int(parse_qs(urlsplit(url).query).get("page", ["1"])[0])
            if page == self.fail_page:
                self.fail_page = None
                raise KeyboardInterrupt  # the process dies here
            body = {"value": [{"id": f"r{page}-{i}", "auditData": {"Id": f"r{page}-{i}"}} for i in range(2)]}
            if page < self.pages:
                body["@odata.nextLink"] = f"https://fake/graph/beta/security/auditLog/queries/q1/records?page={page + 1}"
            return ok(body)
        self.polls += 1
        status = "succeeded" if self.polls >= 2 else "running"
        return ok({"id": "q1", "status": status, "approximateReturnedRecordCount": 2 * self.pages,
                   "isRecordCountLimitExceeded": self.limit_exceeded, "recordCountLimit": 6})


def test_graph_query_is_polled_and_paged() -> None:
    fake = FakeGraph()
    ctx, bundle = make_ctx(fake, sources=["graph"])
    graph.collect(ctx)
    entry = entries(bundle, "graph")["q1"]
    assert entry["status"] == "complete" and entry["unique_ids"] == 6 and entry["expected"] == 6
    assert "raw/graph/q1/create.json" in bundle.files and "raw/graph/q1/poll-0002.json" in bundle.files
    assert "raw/graph/q1/records-000003.json" in bundle.files


def test_graph_limit_exceeded_is_capped() -> None:
    ctx, bundle = make_ctx(FakeGraph(limit_exceeded=True), sources=["graph"])
    graph.collect(ctx)
    assert entries(bundle, "graph")["q1"]["status"] == "capped"


def test_graph_resume_reuses_the_query_and_continues_paging(tmp_path) -> None:
    fake = FakeGraph(pages=4)
    fake.fail_page = 3
    bundle = MemoryBundle(disk=tmp_path)
    ctx, _ = make_ctx(fake, bundle=bundle, sources=["graph"])
    try:
        graph.collect(ctx)
    except KeyboardInterrupt:
        pass
    ctx2, _ = make_ctx(fake, bundle=bundle, sources=["graph"])
    graph.collect(ctx2)
    assert fake.created == 1
    entry = entries(bundle, "graph")["q1"]
    assert entry["status"] == "complete" and entry["received"] == 8 and entry["unique_ids"] == 8


class FakeManage:
    def __init__(self) -> None:
        self.blob_failures = 0

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.path.endswith("/subscriptions/start"):
            return ok({"error": {"code": "AF20024", "message": "already enabled"}}, 400)
        if parts.path.endswith("/subscriptions/content"):
            ct = query["contentType"][0]
            if "nextPage" not in query:
                return ok([{"contentId": f"{ct}$a", "contentUri": f"https://fake/manage/audit/{ct}$a"}],
                          NextPageUri=url + "&nextPage=2")
            return ok([{"contentId": f"{ct}$b", "contentUri": f"https://fake/manage/audit/{ct}$b"}])
        if "Audit.General$b" in url:
            self.blob_failures += 1
            return ok({"error": {"code": "AF20051", "message": "expired"}}, 400)
        blob = parts.path.rsplit("/", 1)[-1]
        return ok([{"Id": f"{blob}-1"}, {"Id": f"{blob}-2"}, {"Id": "shared"}])


def test_mgmt_lists_with_next_page_uri_and_fetches_blobs() -> None:
    ctx, bundle = make_ctx(FakeManage(), sources=["mgmt"],
                           window=["2023-06-01T00:00:00Z", "2023-06-01T12:00:00Z"])
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    exchange = got["Audit.Exchange/20230601T000000Z_20230601T120000Z"]
    assert exchange["status"] == "complete" and exchange["blobs_fetched"] == 2 and exchange["unique_ids"] == 5
    general = got["Audit.General/20230601T000000Z_20230601T120000Z"]
    assert general["status"] == "failed" and "AF20051" in general["reason"]
    assert any(k.startswith("raw/mgmt/Audit.Exchange/blob-Audit.Exchange_a") for k in bundle.files)


def test_mgmt_window_older_than_seven_days_is_skipped_without_ual() -> None:
    ctx, bundle = make_ctx(FakeManage(), sources=["mgmt"], window=["2023-05-01T00:00:00Z", "2023-06-01T00:00:00Z"])
    mgmt.collect(ctx)
    skipped = [e for e in entries(bundle, "mgmt").values() if e["status"] == "skipped"]
    assert len(skipped) == 3 and all("7 days" in e["reason"] for e in skipped)


class FakeExchange:
    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        cmd = json.loads(data)["CmdletInput"]
        name, params = cmd["CmdletName"], cmd["Parameters"]
        if name == "Get-Mailbox":
            assert params["ResultSize"] == "Unlimited" and "Audit" in params["PropertySets"]
            if "skiptoken" not in url:
                return ok({"value": [{"PrimarySmtpAddress": "alice@x"}],
                           "@odata.nextLink": "https://fake/exchange/InvokeCommand?%24skiptoken=2"})
            return ok({"value": [{"PrimarySmtpAddress": "shared@x", "RecipientTypeDetails": "SharedMailbox"}]})
        if name == "Get-MailboxFolderStatistics":
            if params["Identity"] == "shared@x":
                return RawReply(403, {}, b"\x00" * 8)
            return ok({"value": [{"Name": "Inbox", "ItemsInFolder": 3}]})
        return ok({"value": [{"Identity": name}]})


def test_config_follows_next_link_and_asks_folder_statistics_per_mailbox() -> None:
    ctx, bundle = make_ctx(FakeExchange(), sources=["config"])
    config_source.collect(ctx)
    ctx.state.flush()  # per-mailbox units are persisted in batches (the run flushes after each source)
    got = entries(bundle, "config")
    assert got["Get-Mailbox"]["received"] == 2
    alice, shared = (f"Get-MailboxFolderStatistics/{subject_name(m)}" for m in ("alice@x", "shared@x"))
    assert got[alice]["status"] == "complete" and got[shared]["status"] == "failed"
    assert alice.startswith("Get-MailboxFolderStatistics/alice_x-")
    assert {"Get-OrganizationConfig", "Get-AdminAuditLogConfig", "Get-MailboxAuditBypassAssociation"} <= set(got)
    assert "raw/config/Get-Mailbox/p000002.json" in bundle.files


def test_licences_collects_skus_users_and_details() -> None:
    def fake(method, url, headers, data, timeout):
        path = urlsplit(url).path
        if path.endswith("/subscribedSkus"):
            return ok({"value": [{"skuId": "s1", "servicePlans": [{"servicePlanName": "M365_ADVANCED_AUDITING"}]}]})
        if path.endswith("/users"):
            return ok({"value": [{"id": "u1", "userPrincipalName": "alice@x", "assignedPlans": []},
                                 {"id": "u2", "userPrincipalName": "bob@x", "assignedPlans": []}]})
        return ok({"value": [{"skuId": "s1"}]})
    ctx, bundle = make_ctx(fake, sources=["licences"], users=["alice@x"])
    licences.collect(ctx)
    ctx.state.flush()
    got = entries(bundle, "licences")
    assert set(got) == {"subscribedSkus", "users", f"licenseDetails/{subject_name('alice@x')}"}
    assert all(e["status"] == "complete" for e in got.values())
