"""The "Mailbox state at collection" section: findings.json's `mailbox_state` block as a table.

Each row says what was found (a rule, forwarding, a grant, a transport rule), with its
parameters, and either the audit record that set it or why no record explains it. A source
that was not collected, or parts that could not be read, are stated above the table, so an empty
table never reads as "nothing suspicious".
"""

from __future__ import annotations

from typing import Any

from evkit.report.outputs.model import Findings
from evkit.report.pdf.common import Column, as_dict, as_rows, data_table, esc, none_found, rich, show_time

TITLE = "Mailbox state at collection"
_COLUMNS = [Column("Mailbox", 0.2), Column("What", 0.14), Column("Details (actions, addresses, conditions)", 0.36,
                                                                 limit=700),
            Column("Set by", 0.3, limit=500)]
_GAP_COLUMNS = [Column("Part not read", 0.4), Column("Status", 0.12), Column("Why", 0.48, limit=600)]


def _set_by(row: dict[str, Any]) -> str:
    record = as_dict(row.get("record"))
    if not record:
        return f"No record explains it: {row.get('unexplained') or 'reason not stated'}"
    who = record.get("actor") or "unknown account"
    by = f"attributed to the attacker ({record['indicator']})" if record.get("indicator") else "not attributed"
    return (f"{record.get('operation') or '-'} at {show_time(record.get('time_utc'), ' UTC')} by {who}, {by}; "
            f"record {record.get('id') or '-'}")


def _what(row: dict[str, Any]) -> str:
    kind = str(row.get("kind") or "-") + (", hidden" if row.get("hidden") is True else "")
    name = row.get("name")
    external = " (external)" if row.get("external") else ""
    named = bool(name) and kind.startswith(("inbox rule", "transport rule"))
    return f"{kind}{external}: {name}" if named else kind + external


def mailbox_state_section(findings: Findings) -> list[Any]:
    block = as_dict(findings.get("mailbox_state"))
    statement = block.get("statement") or ("The mailbox state was not collected: whether inbox rules, "
                                            "forwarding or permissions set by the attacker are still in place "
                                            "is unknown.")
    if block.get("status") in (None, "not collected"):
        return [rich(f"<b>{esc(statement)}</b>", "body")]
    when = show_time(block.get("collected_utc"), " UTC")
    out: list[Any] = [rich(f"What the mailboxes held when they were collected ({esc(when)}): {esc(statement)}", "body")]
    gaps = as_rows(block.get("gaps"))
    if gaps:
        out.append(rich("<b>Not read</b>, so rules, forwarding or permissions there are unknown:", "body"))
        out += data_table(_GAP_COLUMNS, [[g.get("unit"), g.get("status"), g.get("reason") or "-"] for g in gaps],
                          what="parts not read")
    rows = [[r.get("mailbox") or "(tenant)", _what(r), r.get("details") or "-", _set_by(r)]
            for r in as_rows(block.get("findings"))]
    if rows:
        out += data_table(_COLUMNS, rows, what="mailbox state findings")
    else:
        out.append(none_found("None found in what was read."))
    return out
