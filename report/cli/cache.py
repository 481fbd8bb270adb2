"""evkit cache: list or remove the report's table cache.

Usage:
  evkit cache list [--cache-dir DIR]
  evkit cache clear [--cache-dir DIR]
  evkit cache (-h | --help)

Options:
  --cache-dir DIR   the cache folder; without it $EVKIT_CACHE_DIR, else
                    $XDG_CACHE_HOME/evkit/tables, else ~/.cache/evkit/tables

The cache holds rows parsed from the bundles you reported on (addresses, subjects): not
evidence, but derived from it. `list` shows each entry (the bundle it was made from, its size and
when it was written); `clear` removes every entry, for example at the end of a case or before
leaving a client's machine. Only folders evkit writes there are removed; a symbolic link is never
followed, and anything else in the folder is named and left (docs/report-cache.md).
"""

from __future__ import annotations

from typing import Any

from evkit.clitools import run_cli
from evkit.exitcodes import ExitCode
from evkit.report.cli.cache_options import chosen_cache_dir
from evkit.terminal import safe_text

COMMAND = "cache"


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def _entries(count: int, size: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'} ({_size(size)})"


def _body(args: dict[str, Any]) -> int:
    from evkit.report.engine.cache_folder import cache_contents, clear_cache  # noqa: PLC0415

    folder = chosen_cache_dir(args)
    if args["clear"]:
        found, freed = clear_cache(folder)
        print(f"evkit cache: removed {_entries(len(found.entries), freed)} from {safe_text(folder)}")
    else:
        found = cache_contents(folder)
        for e in found.entries:
            bundle = f"{safe_text(e.bundle)} ({safe_text(e.root)})" if e.bundle else "(meta.json unreadable: an " \
                "entry evkit would not use)"
            print(f"{e.name[:16]}  {e.written_utc or '-':20}  {_size(e.size):>12}  {bundle}")
        print(f"evkit cache: {_entries(len(found.entries), sum(e.size for e in found.entries))} in {safe_text(folder)}")
    if found.other:
        print(f"evkit cache: left {len(found.other)} name(s) evkit did not write: "
              f"{', '.join(safe_text(n) for n in found.other[:10])}{' ...' if len(found.other) > 10 else ''}")
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
