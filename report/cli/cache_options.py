"""Where the table cache lives, one rule for every command that reads or writes it
(docs/report-cache.md): --cache-dir, else $EVKIT_CACHE_DIR, else the user cache folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CACHE_ENV = "EVKIT_CACHE_DIR"


def cache_dir(args: dict[str, Any]) -> Path | None:
    """The cache folder the options name; None with --no-cache (where the command has it)."""
    return None if args.get("--no-cache") else chosen_cache_dir(args)


def chosen_cache_dir(args: dict[str, Any]) -> Path:
    """--cache-dir, else $EVKIT_CACHE_DIR, else the user cache folder."""
    from evkit.report.engine.cache import default_cache_dir  # noqa: PLC0415 - keeps --help fast

    chosen = args.get("--cache-dir") or os.environ.get(CACHE_ENV)
    return Path(chosen) if chosen else default_cache_dir()
