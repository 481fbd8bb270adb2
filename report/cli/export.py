"""evkit export: the verified evidence's normalised tables as Parquet (or CSV) for other engines.

Usage:
  evkit export BUNDLE... --out DIR [--format FMT] [--case FILE]
               [--signer-key PUB | --allowed-signers FILE] [--key KEY]
               [--allow-untrusted] [--allow-invalid] [--allow-mixed-tenants]
               [--cache-dir DIR | --no-cache]
  evkit export (-h | --help)

Options:
  --out DIR                where the tables, timeline.csv and export.json are written; must be new
                           or empty (an export is never overwritten)
  --format FMT             parquet (hive partitions day=YYYY-MM-DD/) or csv [default: parquet]
  --case FILE              the case file (TOML): classify the timeline as `evkit report` does
  --signer-key PUB         the examiner's public key, as you received it out of band
  --allowed-signers FILE   an OpenSSH allowed_signers file of the examiners you trust
  --key KEY                sign an `export-generated` custody record with export.json's hash into
                           each bundle (only when every bundle verified against your trusted key);
                           passphrase from EVKIT_PASSPHRASE or a prompt
  --allow-untrusted        export bundles not verified against a key you trust; every row and
                           export.json say so
  --allow-invalid          export bundles that fail verification; every row and export.json say so
  --allow-mixed-tenants    export bundles from more than one tenant together (refused otherwise)
  --cache-dir DIR          where the normalised-table cache lives (the one `evkit report` uses);
                           without it $EVKIT_CACHE_DIR, else $XDG_CACHE_HOME/evkit/tables, else
                           ~/.cache/evkit/tables
  --no-cache               parse every bundle, read and store no cache

Every bundle is verified first, exactly as `evkit report` verifies it: a bundle that fails is
refused (exit 1), one not signed by a trusted key (or given no key) is refused (exit 3), unless
explicitly allowed. The tables and their columns: docs/export.md.

Like `evkit report`, the export reads a bundle verified valid against your key from the table
cache when an earlier report or export stored it there, instead of parsing every page again, and
stores it there when it parsed it; the files are the same bytes either way. An entry that does
not match in every respect is never used (docs/report-cache.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from evkit.clitools import UsageError, run_cli
from evkit.exitcodes import ExitCode
from evkit.report.cli.cache_options import cache_dir
from evkit.report.cli.report import custody_signer
from evkit.terminal import safe_text

COMMAND = "export"


def _body(args: dict[str, Any]) -> int:
    from evkit.report.export.run import MANIFEST, run_export  # noqa: PLC0415 - keeps --help fast
    from evkit.report.intake import Trust  # noqa: PLC0415

    if args["--format"] not in ("parquet", "csv"):
        raise UsageError(f"--format must be parquet or csv, not {args['--format']!r}")
    sign = custody_signer(Path(args["--key"]), "export-generated") if args["--key"] else None
    out = Path(args["--out"])
    result = run_export([Path(b) for b in args["BUNDLE"]], out, trust=Trust.from_args(args),
                        fmt=str(args["--format"]), case_path=Path(args["--case"]) if args["--case"] else None,
                        allow_mixed_tenants=bool(args["--allow-mixed-tenants"]), sign=sign,
                        cache_dir=cache_dir(args))
    for name, rows in result.tables.items():
        print(f"  {name}: {rows} rows")
    print(f"  timeline.csv: {result.timeline_rows} rows")
    print(safe_text(f"{out / MANIFEST}  sha256 {result.manifest_sha256}"))
    for note in result.cache_notes:
        print(f"cache: {safe_text(note)}")
    for warning in result.warnings:
        print(f"evkit export: warning: {safe_text(warning)}", file=sys.stderr)
    if result.custody_skipped:
        print(f"evkit export: warning: {result.custody_skipped}", file=sys.stderr)
    if result.problems:
        print(f"evkit export: warning: {result.problems} problem(s) reading the evidence; "
              "see the `problems` table", file=sys.stderr)
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
