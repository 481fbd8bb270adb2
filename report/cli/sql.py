"""evkit sql: query the report's tables over one or more bundles.

Usage:
  evkit sql BUNDLE... [--query SQL]
  evkit sql (-h | --help)

Options:
  --query SQL   run one query, print the table and exit; without it, an interactive prompt
                (end each statement with `;`, `.tables` lists the tables, `.quit` leaves)

The positional form `evkit sql BUNDLE QUERY` also works when the last argument is not a
directory. Tables: events, record_sources, duplicate_sources, accessed_items, synced_folders,
item_mentions, searches, sends, event_keys, sessions, gaps, bundles, problems (docs/internals.md).
Bundles are read as they are; run `evkit verify` first to know they are intact.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from evkit.clitools import run_cli
from evkit.exitcodes import ExitCode
from evkit.report.errors import QueryError
from evkit.terminal import safe_text

COMMAND = "sql"
MAX_CELL = 60


def format_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A plain fixed-width table; long cells are cut so a row stays on one line."""
    def cell(v: Any) -> str:
        text = "" if v is None else safe_text(v)
        return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"
    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in body]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _run(engine, sql: str, out: TextIO) -> bool:
    try:
        result = engine.query(sql)
    except QueryError as exc:
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return False
    if result.columns:
        print(format_table(result.columns, result.rows), file=out)
    return True


def _interactive(engine) -> int:
    from evkit.report.engine.loader import TABLES  # noqa: PLC0415
    print(f"evkit sql: tables: {', '.join(TABLES)}. End statements with ';', .quit to leave.")
    buffer = ""
    while True:
        try:
            line = input("evkit> " if not buffer else "  ...> ")
        except EOFError:
            print()
            return ExitCode.OK
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit", "\\q"):
            return ExitCode.OK
        if not buffer and stripped == ".tables":
            print(", ".join(TABLES))
            continue
        buffer += line + "\n"
        if stripped.endswith(";"):
            _run(engine, buffer, sys.stdout)
            buffer = ""


def _body(args: dict[str, Any]) -> int:
    from evkit.report.engine.loader import Engine, needs_disk  # noqa: PLC0415
    from evkit.evidence.inventory import scan_bundles  # noqa: PLC0415
    from evkit.report.engine.mailbox_state import load_mailbox_state  # noqa: PLC0415

    paths = list(args["BUNDLE"])
    query = args["--query"]
    if query is None and len(paths) > 1 and not Path(paths[-1]).is_dir():
        query = paths.pop()
    inventories = scan_bundles(Path(p) for p in paths)
    with Engine(on_disk=needs_disk(inventories)) as engine:
        engine.load(inventories)
        load_mailbox_state(engine, inventories)
        if query is None:
            return _interactive(engine)
        return ExitCode.OK if _run(engine, query, sys.stdout) else ExitCode.FAILED


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
