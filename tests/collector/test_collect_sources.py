"""graph, mgmt, config and licences sources against scripted fake services (no network)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collector_fakes import MemoryBundle, make_ctx

from evkit.collector.client import RawReply
from evkit.collector.evidence import subject_name
from evkit.collector.ledger import LedgerEntry, notes, summarise
from evkit.collector.sources import config as config_source
from evkit.collector.sources import graph, licences, mailbox, mgmt


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
        self.v1_404 = False
        self.posted: list[tuple[str, dict]] = []

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        path = urlsplit(url).path
        if method == "POST":
            self.posted.append((path, json.loads(data)))
            if self.v1_404 and path.startswith("/graph/v1.0/"):
                return ok({"error": {"code": "UnknownError", "message": ""}}, 404)
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


def test_graph_query_read_soon_after_its_window_leaves_the_unsettled_part_pending() -> None:
    # window 2023-06-01..03, read at 06-03 10:00: events after 06-02 10:00 may not be in the log yet
    ctx, bundle = make_ctx(FakeGraph(), sources=["graph"])
    ctx.now = lambda: datetime(2023, 6, 3, 10, tzinfo=timezone.utc)
    graph.collect(ctx)
    got = entries(bundle, "graph")
    assert got["q1"]["status"] == "complete" and got["q1"]["unique_ids"] == 6
    assert got["q1"]["window"] == {"start": "2023-06-01T00:00:00Z", "end": "2023-06-02T10:00:00Z"}
    pending = got["q1/unsettled"]
    assert pending["status"] == "pending" and "may not be in the audit log yet" in pending["reason"]
    assert pending["window"] == {"start": "2023-06-02T10:00:00Z", "end": "2023-06-03T00:00:00Z"}


def test_graph_query_on_v1_without_user_filter_even_when_users_are_scoped() -> None:
    """userPrincipalNameFilters matches the actor, not the mailbox: it would drop delegate access."""
    fake = FakeGraph()
    ctx, bundle = make_ctx(fake, sources=["graph"], users=["alice@x"])
    graph.collect(ctx)
    assert [p for p, _ in fake.posted] == ["/graph/v1.0/security/auditLog/queries"]
    assert "userPrincipalNameFilters" not in fake.posted[0][1]
    assert entries(bundle, "graph")["q1"]["api_version"] == "v1.0"


def test_graph_falls_back_to_beta_when_v1_answers_404_and_says_so() -> None:
    fake = FakeGraph()
    fake.v1_404 = True
    ctx, bundle = make_ctx(fake, sources=["graph"])
    graph.collect(ctx)
    assert [p for p, _ in fake.posted] == ["/graph/v1.0/security/auditLog/queries",
                                          "/graph/beta/security/auditLog/queries"]
    entry = entries(bundle, "graph")["q1"]
    assert entry["status"] == "complete" and entry["api_version"] == "beta"
    assert "raw/graph/create/create.a1.json" in bundle.files and "raw/graph/q1/create-beta.json" in bundle.files


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
    """Management API with subscriptions already enabled (or not), checking PublisherIdentifier."""

    def __init__(self, subscribed: bool = True, start_status: int = 400) -> None:
        self.blob_failures = 0
        self.subscribed = subscribed
        self.start_status = start_status
        self.calls: list[str] = []

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        self.calls.append(url)
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert query.get("PublisherIdentifier") == ["00000000-0000-0000-0000-0000000000aa"], url
        if parts.path.endswith("/subscriptions/start"):
            if self.start_status == 200:
                self.subscribed = True
                return ok({"contentType": query["contentType"][0], "status": "enabled"})
            return ok({"error": {"code": "AF20024", "message": "already enabled"}}, 400)
        if parts.path.endswith("/subscriptions/content"):
            if not self.subscribed:
                return ok({"error": {"code": "AF20022", "message": "No subscription found"}}, 400)
            ct = query["contentType"][0]
            if "nextPage" not in query:
                # a next link without PublisherIdentifier: the collector adds it back
                return ok([{"contentId": f"{ct}$a", "contentUri": f"https://fake/manage/audit/{ct}$a"}],
                          NextPageUri=url.split("&PublisherIdentifier")[0] + "&nextPage=2")
            return ok([{"contentId": f"{ct}$b", "contentUri": f"https://fake/manage/audit/{ct}$b"}])
        if "Audit.General$b" in url:
            self.blob_failures += 1
            return ok({"error": {"code": "AF20051", "message": "expired"}}, 400)
        blob = parts.path.rsplit("/", 1)[-1]
        return ok([{"Id": f"{blob}-1"}, {"Id": f"{blob}-2"}, {"Id": "shared"}])


SETTLED = datetime(2023, 6, 2, 12, tzinfo=timezone.utc)  # window end + more than the 12 h settle


def mgmt_ctx(fake, now=SETTLED, **collection):
    collection.setdefault("window", ["2023-06-01T00:00:00Z", "2023-06-01T12:00:00Z"])
    ctx, bundle = make_ctx(fake, sources=["mgmt"], **collection)
    ctx.now = lambda: now
    return ctx, bundle


def test_mgmt_lists_by_availability_with_next_page_uri_and_publisher_and_never_starts() -> None:
    fake = FakeManage()
    ctx, bundle = mgmt_ctx(fake)
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    # listing runs by availability from the window start to 12 h after its end (now): one 24 h window
    exchange = got["Audit.Exchange/20230601T000000Z_20230602T000000Z"]
    assert exchange["status"] == "complete" and exchange["blobs_fetched"] == 2 and exchange["unique_ids"] == 5
    assert exchange["listing"] == "contentCreated"
    general = got["Audit.General/20230601T000000Z_20230602T000000Z"]
    assert general["status"] == "failed" and "AF20051" in general["reason"]
    assert not any("/subscriptions/start" in u for u in fake.calls)  # a write to the tenant, never unasked
    assert not any(e["status"] == "pending" for e in got.values())


def test_mgmt_without_subscription_fails_naming_the_config_key_and_starts_nothing() -> None:
    fake = FakeManage(subscribed=False)
    ctx, bundle = mgmt_ctx(fake)
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    assert got and all(e["status"] == "failed" and "mgmt_start_subscriptions" in e["reason"] for e in got.values())
    assert not any("/subscriptions/start" in u for u in fake.calls)


def test_mgmt_fresh_start_is_pending_never_complete() -> None:
    fake = FakeManage(subscribed=False, start_status=200)
    ctx, bundle = mgmt_ctx(fake, mgmt_start_subscriptions=True)
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    assert got and all(e["status"] == "pending" and "started by this collection" in e["reason"]
                       for e in got.values())
    assert sum("/subscriptions/start" in u for u in fake.calls) == 3


def test_mgmt_start_allowed_and_already_enabled_is_collected() -> None:
    fake = FakeManage(start_status=400)
    ctx, bundle = mgmt_ctx(fake, mgmt_start_subscriptions=True)
    mgmt.collect(ctx)
    assert entries(bundle, "mgmt")["Audit.Exchange/20230601T000000Z_20230602T000000Z"]["status"] == "complete"


def test_mgmt_content_not_yet_available_is_a_pending_gap() -> None:
    now = datetime(2023, 6, 1, 14, tzinfo=timezone.utc)  # 2 h after the window's end
    ctx, bundle = mgmt_ctx(FakeManage(), now=now)
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    pending = got["Audit.Exchange/pending-20230601T020000Z_20230601T120000Z"]
    assert pending["status"] == "pending" and "may not be available yet" in pending["reason"]
    listed = got["Audit.Exchange/20230601T000000Z_20230601T140000Z"]
    assert listed["status"] == "complete" and listed["listing_window"]["end"] == "2023-06-01T14:00:00Z"
    # the listing vouches only for events that had their settle time: it must not cover the pending part
    assert listed["window"] == {"start": "2023-06-01T00:00:00Z", "end": "2023-06-01T02:00:00Z"}


def test_mgmt_window_older_than_seven_days_is_skipped_without_ual() -> None:
    ctx, bundle = mgmt_ctx(FakeManage(), now=datetime(2023, 6, 1, tzinfo=timezone.utc),
                           window=["2023-05-01T00:00:00Z", "2023-06-01T00:00:00Z"])
    mgmt.collect(ctx)
    skipped = [e for e in entries(bundle, "mgmt").values() if e["status"] == "skipped"]
    assert len(skipped) == 3 and all("7 days" in e["reason"] for e in skipped)


def test_mgmt_window_wholly_older_than_seven_days_is_ledgered_even_when_ual_covers_it() -> None:
    """A 2023 window collected in 2026 (`make demo`): mgmt can fetch nothing, and says so per
    content type; `ual` covers the period, so the run stays complete but the reader sees mgmt looked."""
    fake = FakeManage(subscribed=False, start_status=200)
    ctx, bundle = make_ctx(fake, sources=["ual", "mgmt"], window=["2023-06-01T00:00:00Z", "2023-06-01T12:00:00Z"],
                           mgmt_start_subscriptions=True)
    ctx.now = lambda: datetime(2026, 12, 4, tzinfo=timezone.utc)
    mgmt.collect(ctx)
    got = entries(bundle, "mgmt")
    assert sorted(got) == [f"{t}/20230601T000000Z_20230601T120000Z" for t in sorted(mgmt.CONTENT_TYPES)]
    for e in got.values():
        assert e["status"] == "skipped" and e["covered_by"] == "ual" and "keeps only the last 7 days" in e["reason"]
        assert e["window"] == {"start": "2023-06-01T00:00:00Z", "end": "2023-06-01T12:00:00Z"}
    assert fake.calls == []  # nothing to list, and no subscription started (a write) for nothing
    ledger_entries = [LedgerEntry.from_json(e) for e in bundle.state["ledger"].values()]
    assert summarise(ledger_entries) == [] and len(notes(ledger_entries)) == 3


def test_mgmt_older_part_without_ual_is_a_skip_that_keeps_the_collection_incomplete() -> None:
    ctx, bundle = mgmt_ctx(FakeManage(), now=datetime(2026, 12, 4, tzinfo=timezone.utc))
    mgmt.collect(ctx)
    ledger_entries = [LedgerEntry.from_json(e) for e in bundle.state["ledger"].values()]
    assert len(ledger_entries) == 3 and not any(e.extra.get("covered_by") for e in ledger_entries)
    assert all("no other collected source covers it" in e.reason for e in ledger_entries)
    assert len(summarise(ledger_entries)) == 3 and notes(ledger_entries) == []


def test_mgmt_resumed_later_keeps_the_planned_windows_and_lists_no_finished_one_again() -> None:
    fake = FakeManage()
    bundle = MemoryBundle()
    window = ["2023-06-01T00:00:00Z", "2023-06-03T00:00:00Z"]
    ctx, _ = mgmt_ctx(fake, bundle=bundle, now=datetime(2023, 6, 3, 10, 0, 7, tzinfo=timezone.utc), window=window)
    mgmt.collect(ctx)
    first = entries(bundle, "mgmt")
    assert sum(e["status"] == "complete" for e in first.values()) == 6  # Exchange and AAD, 3 windows each
    fake.calls.clear()
    # resumed an hour later: the units are the windows planned at first, finished ones are not listed again
    ctx2, _ = mgmt_ctx(fake, bundle=bundle, now=datetime(2023, 6, 3, 11, 0, 41, tzinfo=timezone.utc), window=window)
    mgmt.collect(ctx2)
    assert set(entries(bundle, "mgmt")) == set(first)
    listings = [u for u in fake.calls if "/subscriptions/content" in u]
    assert listings and all("contentType=Audit.General" in u for u in listings)  # only the failed ones


class FakeExchange:
    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        cmd = json.loads(data)["CmdletInput"]
        name, params = cmd["CmdletName"], cmd["Parameters"]
        if name == "Get-Mailbox":
            # Get-Mailbox has no -PropertySets (docs/emulator-fidelity.md); the full object has the audit set
            assert params == {"ResultSize": "Unlimited"}
            if "skiptoken" not in url:
                return ok({"value": [{"PrimarySmtpAddress": "alice@x"}],
                           "@odata.nextLink": "https://fake/exchange/InvokeCommand?%24skiptoken=2"})
            return ok({"value": [{"PrimarySmtpAddress": "shared@x", "RecipientTypeDetails": "SharedMailbox"}]})
        if name == "Get-MailboxFolderStatistics":
            assert params["ResultSize"] == "Unlimited"  # the default stops at 1,000 folders
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


def test_config_reads_adminapi_warnings_and_caps_a_truncated_answer() -> None:
    more = ("There are more results available than are currently displayed. To view them, increase the value "
            "for the ResultSize parameter.")

    def fake(method, url, headers, data, timeout):
        name = json.loads(data)["CmdletInput"]["CmdletName"]
        if name == "Get-Mailbox":
            return ok({"value": [{"PrimarySmtpAddress": "alice@x"}], "@adminapi.warnings": []})
        if name == "Get-MailboxFolderStatistics":
            return ok({"value": [{"Name": f"f{i}"} for i in range(3)], "@adminapi.warnings": [more]})
        if name == "Get-OrganizationConfig":
            return ok({"value": [{"Identity": name}], "@adminapi.warnings": ["The audit log search is slow."]})
        return ok({"value": [{"Identity": name}]})
    ctx, bundle = make_ctx(fake, sources=["config"])
    config_source.collect(ctx)
    ctx.state.flush()
    got = entries(bundle, "config")
    folders = got[f"Get-MailboxFolderStatistics/{subject_name('alice@x')}"]
    assert folders["status"] == "capped" and "more results" in folders["reason"] and folders["warnings"] == [more]
    org = got["Get-OrganizationConfig"]
    assert org["status"] == "complete" and org["warnings"] == ["The audit log search is slow."]


def test_licences_reads_skus_and_users_plans_never_per_user_license_details() -> None:
    """licenseDetails has no application permission (docs/emulator-fidelity.md): never asked."""
    asked = []

    def fake(method, url, headers, data, timeout):
        path = urlsplit(url).path
        asked.append(path)
        if path.endswith("/subscribedSkus"):
            return ok({"value": [{"skuId": "s1", "servicePlans": [{"servicePlanName": "M365_ADVANCED_AUDITING"}]}]})
        if path.endswith("/users"):
            assert "assignedPlans" in parse_qs(urlsplit(url).query)["$select"][0]
            return ok({"value": [{"id": "u1", "userPrincipalName": "alice@x", "assignedPlans": []},
                                 {"id": "u2", "userPrincipalName": "bob@x", "assignedPlans": []}]})
        return ok({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}, 403)
    ctx, bundle = make_ctx(fake, sources=["licences"], users=["alice@x"])
    licences.collect(ctx)
    ctx.state.flush()
    got = entries(bundle, "licences")
    assert set(got) == {"subscribedSkus", "users"} and all(e["status"] == "complete" for e in got.values())
    assert not any("licenseDetails" in p for p in asked)


def test_licences_missing_permission_fails_its_unit_with_the_fix_and_the_other_goes_on() -> None:
    def fake(method, url, headers, data, timeout):
        if urlsplit(url).path.endswith("/subscribedSkus"):
            return ok({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}, 403)
        return ok({"value": [{"id": "u1", "userPrincipalName": "alice@x"}]})
    ctx, bundle = make_ctx(fake, sources=["licences"])
    licences.collect(ctx)
    got = entries(bundle, "licences")
    assert got["users"]["status"] == "complete"
    reason = got["subscribedSkus"]["reason"]
    assert got["subscribedSkus"]["status"] == "failed" and "Organization.Read.All" in reason
    assert "grant admin consent" in reason


class EmptyTenant:
    """Exchange whose Get-Mailbox lists no mailbox (or refuses with a 500); every other cmdlet answers empty."""

    def __init__(self, list_status: int = 200) -> None:
        self.list_status = list_status
        self.cmdlets: list[str] = []

    def __call__(self, method, url, headers, data, timeout) -> RawReply:
        name = json.loads(data)["CmdletInput"]["CmdletName"]
        self.cmdlets.append(name)
        if name == "Get-Mailbox" and self.list_status != 200:
            return ok({"error": {"code": "InternalServerError", "message": "boom"}}, self.list_status)
        return ok({"value": []})


def test_mailbox_with_no_mailbox_to_read_says_so_in_the_ledger() -> None:
    for fake, why in ((EmptyTenant(), "Get-Mailbox listed no mailbox"),
                      (EmptyTenant(list_status=500), "the mailbox list (Get-Mailbox) was not collected")):
        ctx, bundle = make_ctx(fake, sources=["mailbox"], users=[], tuning={"retry_budget": 1})
        mailbox.collect(ctx)
        skipped = entries(bundle, "mailbox")["per-mailbox"]
        assert skipped["status"] == "skipped" and why in skipped["reason"] and "`users`" in skipped["reason"]
        assert not any(c in fake.cmdlets for c in ("Get-InboxRule", "Get-MailboxPermission"))


def test_mailbox_skip_is_resolved_when_a_resume_lists_the_mailboxes() -> None:
    fake = EmptyTenant(list_status=500)
    ctx, bundle = make_ctx(fake, sources=["mailbox"], users=[], tuning={"retry_budget": 1})
    mailbox.collect(ctx)
    assert entries(bundle, "mailbox")["per-mailbox"]["status"] == "skipped"

    asked: list[str] = []

    def listed(method, url, headers, data, timeout) -> RawReply:
        asked.append(json.loads(data)["CmdletInput"]["CmdletName"])
        if asked[-1] == "Get-Mailbox":
            return ok({"value": [{"PrimarySmtpAddress": "alice@x"}]})
        return ok({"value": []})
    ctx2, _ = make_ctx(listed, bundle=bundle, sources=["mailbox"], users=[])
    mailbox.collect(ctx2)
    got = entries(bundle, "mailbox")
    assert got["per-mailbox"]["status"] == "complete" and got["per-mailbox"]["mailboxes"] == 1
    assert "Get-InboxRule" in asked  # the mailbox's own units ran


def test_graph_in_a_national_cloud_states_its_skip_and_asks_nothing() -> None:
    for sources, covered in ((["ual", "graph"], "ual"), (["graph"], None)):
        fake = FakeGraph()
        ctx, bundle = make_ctx(fake, sources=sources)
        ctx.config = dataclasses.replace(ctx.config, cloud="gcc-high")
        graph.collect(ctx)
        [entry] = entries(bundle, "graph").values()
        assert entry["status"] == "skipped" and "commercial cloud only, not in gcc-high" in entry["reason"]
        assert entry["window"] == {"start": "2023-06-01T00:00:00Z", "end": "2023-06-03T00:00:00Z"}
        assert entry.get("covered_by") == covered and not fake.posted and fake.polls == 0
