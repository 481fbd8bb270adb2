"""The items `evkit resolve` asks about, read from a report folder as input from another party."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from evkit.collector.errors import ConfigError
from evkit.collector.itemlist import read_request
from evkit.collector.sources.items import lookup_url

HEADER = "mailbox,internet_message_id,folder,classification,reason,first_access_utc,last_access_utc,record_ids\n"


def _report(tmp: Path, rows: list[str], findings: dict | None = None) -> Path:
    (tmp / "items.csv").write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    doc = findings if findings is not None else {"schema": "evkit.findings/1", "case": {"id": "IR-1"},
                                                 "generated_utc": "2023-06-15T00:00:00Z"}
    (tmp / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp


def test_only_named_confirmed_and_inferred_items_are_asked_once_each(tmp_path):
    req = read_request(_report(tmp_path, [
        "alice@contoso.com,<a@x>,\\Inbox,confirmed,,,,r1",
        "Alice@Contoso.com,<a@x>,\\Inbox,inferred,,,,r2",
        "alice@contoso.com,<b@x>,\\Inbox,inferred,,,,r3",
        "alice@contoso.com,<c@x>,\\Inbox,unknown,,,,r4",
        "bob@contoso.com,<d@x>,\\Inbox,no-evidence,,,,r5"]))
    assert [(i.mailbox, i.internet_message_id) for i in req.items] == [("alice@contoso.com", "<a@x>"),
                                                                        ("alice@contoso.com", "<b@x>")]
    assert req.case_id == "IR-1" and req.refused_count == 0 and len(req.findings_sha256) == 64


def test_hostile_rows_are_counted_and_named_never_asked(tmp_path):
    req = read_request(_report(tmp_path, [
        "../../users/x@y,<a@x>,,confirmed,,,,r1",
        "a@b.com?$expand=x,<a@x>,,confirmed,,,,r2",
        "alice@contoso.com,not-an-id,,confirmed,,,,r3",
        'alice@contoso.com,"<a\x01b@x>",,confirmed,,,,r4',
        '"al\x00ice@contoso.com",<a@x>,,confirmed,,,,r5',
        "alice@contoso.com,<ok@x>,,confirmed,,,,r6"]))
    assert [i.internet_message_id for i in req.items] == ["<ok@x>"]
    assert req.refused_count == 5 and [r.split(":")[0] for r in req.refused_rows] == ["row 2", "row 3", "row 4",
                                                                                       "row 5", "row 6"]


def test_a_cell_beyond_the_csv_field_limit_is_a_one_line_error(tmp_path):
    huge = "a" * (csv.field_size_limit() + 1)  # 128 KiB in `evkit resolve`, more where an importer raised it
    with pytest.raises(ConfigError, match="not a report's item list"):
        read_request(_report(tmp_path, [f"alice@contoso.com,<{huge}@x>,,confirmed,,,,r1"]))


def test_a_cell_the_report_neutralised_is_read_as_it_was(tmp_path):
    req = read_request(_report(tmp_path, ["alice@contoso.com,<x@y>,'=HYPERLINK(1),confirmed,,,,r1",
                                          "alice@contoso.com,'-<x@y>,,confirmed,,,,r1"]))
    assert [i.internet_message_id for i in req.items] == ["<x@y>"] and req.refused_count == 1


@pytest.mark.parametrize("findings", [{}, {"schema": "other/1"}, []])
def test_a_folder_that_is_not_an_evkit_report_is_refused(tmp_path, findings):
    with pytest.raises(ConfigError, match="not the findings of an evkit report"):
        read_request(_report(tmp_path, [], findings))


def test_a_symlinked_items_csv_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    _report(real, ["alice@contoso.com,<a@x>,,confirmed,,,,r1"])
    link = tmp_path / "link"
    link.mkdir()
    (link / "items.csv").symlink_to(real / "items.csv")
    (link / "findings.json").write_bytes((real / "findings.json").read_bytes())
    with pytest.raises(ConfigError, match="not a regular file"):
        read_request(link)


def test_the_lookup_url_carries_the_id_as_one_odata_literal():
    imid = "<a'b+c/d&e=f#g@x.example>"
    url = lookup_url("alice@contoso.com", imid)
    parts = urlsplit(url)
    assert parts.path == "/users/alice@contoso.com/messages"
    assert parse_qs(parts.query)["$filter"] == ["internetMessageId eq '<a''b+c/d&e=f#g@x.example>'"]


def test_a_large_items_csv_is_read_as_a_stream(tmp_path):
    import tracemalloc

    row = "alice@contoso.com,<x@y>,\\Inbox,unknown,," + "z" * 200 + ",,r\n"
    _report(tmp_path, ["alice@contoso.com,<named@x>,\\Inbox,confirmed,,,,r1"])
    with (tmp_path / "items.csv").open("a", encoding="utf-8") as fh:
        for _ in range(8):
            fh.write(row * 25_000)  # about 40 MiB of items the report did not name
    tracemalloc.start()
    try:
        req = read_request(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [i.internet_message_id for i in req.items] == ["<named@x>"]
    assert peak < 8 << 20, f"{peak / 2 ** 20:.0f} MiB held for a 40 MiB items.csv"
