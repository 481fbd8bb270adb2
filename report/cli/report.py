"""evkit report: the breach-scope report (PDF, items.csv, findings.json) from verified bundles.

Usage:
  evkit report BUNDLE... --case FILE --out DIR [--signer-key PUB | --allowed-signers FILE] [--key KEY]
               [--allow-untrusted] [--allow-invalid] [--allow-mixed-tenants] [--force]
               [--redact-subjects] [--cache-dir DIR | --no-cache]
  evkit report (-h | --help)

Options:
  --case FILE              the case file (TOML; see examples/case.toml): window and indicators
  --out DIR                where report.pdf, items.csv and findings.json are written; must be new
                           or empty unless --force
  --signer-key PUB         the examiner's public key, as you received it out of band
  --allowed-signers FILE   an OpenSSH allowed_signers file of the examiners you trust
  --key KEY                sign a `report-generated` custody record with the outputs' hashes into
                           each bundle (only when every bundle verified against your trusted key);
                           passphrase from EVKIT_PASSPHRASE or a prompt
  --allow-untrusted        report on bundles not verified against a key you trust; every page,
                           findings.json and the console say UNTRUSTED EVIDENCE
  --allow-invalid          report on bundles that fail verification; every page says INVALID EVIDENCE
  --allow-mixed-tenants    report on bundles from more than one tenant together (refused otherwise)
  --force                  overwrite the outputs in a folder that already holds files
  --redact-subjects        leave message subjects (of the items looked up by `evkit resolve` and
                           of the attacker's sent messages) out of items.csv, findings.json and
                           the PDF, for distribution; senders and counts stay
  --cache-dir DIR          where the normalised-table cache lives; without it $EVKIT_CACHE_DIR,
                           else $XDG_CACHE_HOME/evkit/tables, else ~/.cache/evkit/tables
  --no-cache               parse every bundle, read and store no cache

Every bundle is verified first against the key you trust: a bundle that fails is refused
(exit 1), one not signed by a trusted key (or given no key) is refused (exit 3), unless
explicitly allowed. Same bundles and case file give byte-identical outputs.

The first report over a bundle verified valid against your key stores the records it parsed
(Parquet) in the cache, outside the bundle, keyed by the bundle's tag-manifest SHA-256 and the
evkit version. A later report verifies the bundle in full as always, then reads that cache
instead of parsing every page again; the outputs are the same bytes. A cache entry that does not
match in every respect is never used: the report parses the bundle and says why. The cache is not
evidence; delete it whenever you like (docs/report-cache.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from evkit.clitools import read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.terminal import safe_text

COMMAND = "report"
PASSPHRASE_ENV = "EVKIT_PASSPHRASE"
CACHE_ENV = "EVKIT_CACHE_DIR"


def custody_signer(key_path: Path, event: str = "report-generated"):
    """sign(bundle, hashes): append a custody record of `event` naming the outputs' hashes."""
    from evkit.manifests.custody import append_custody  # noqa: PLC0415
    from evkit.manifests.keys import load_signing_key  # noqa: PLC0415

    key = load_signing_key(key_path, read_secret(PASSPHRASE_ENV, f"Passphrase for {key_path}: "))

    def sign(root: Path, hashes: dict[str, str]) -> None:
        append_custody(root, event=event, key=key,
                       details={"outputs": {name: {"sha256": h} for name, h in sorted(hashes.items())}})
    return sign


def _body(args: dict[str, Any]) -> int:
    from evkit.report.intake import Trust  # noqa: PLC0415 - keeps --help fast
    from evkit.report.pipeline import run_report  # noqa: PLC0415

    sign = custody_signer(Path(args["--key"])) if args["--key"] else None
    result = run_report([Path(b) for b in args["BUNDLE"]], Path(args["--case"]), Path(args["--out"]),
                        trust=Trust.from_args(args), force=bool(args["--force"]), sign=sign,
                        allow_mixed_tenants=bool(args["--allow-mixed-tenants"]),
                        redact_subjects=bool(args["--redact-subjects"]), cache_dir=cache_dir_of(args))
    s = result.findings["summary"]
    out = Path(args["--out"])
    print(safe_text(s["headline"]))
    print(f"confirmed {s['confirmed_items']}, inferred {s['inferred_items']} "
          f"(+{s['inferred_unnamed_items']} unnamed), mailboxes unknown {s['mailboxes_unknown']}")
    meta = result.findings.get("item_metadata")
    if meta:
        print(f"item metadata: {meta['found']} found, {meta['gone']} gone, {meta['not_looked_up']} not looked up "
              f"of {meta['named_items']} named item(s)")
    for name in sorted(result.outputs):
        print(f"  {out / name}  sha256 {result.outputs[name]}")
    for note in result.cache_notes:
        print(f"cache: {safe_text(note)}")
    if result.pdf_skipped:
        print(f"evkit report: warning: {result.pdf_skipped}", file=sys.stderr)
    for warning in result.warnings:
        print(f"evkit report: warning: {warning}", file=sys.stderr)
    if result.custody_skipped:
        print(f"evkit report: warning: {result.custody_skipped}", file=sys.stderr)
    if result.findings["problems"]:
        print(f"evkit report: warning: {len(result.findings['problems'])} problem(s) reading the evidence; "
              "see findings.json \"problems\"", file=sys.stderr)
    return ExitCode.OK


def cache_dir_of(args: dict[str, Any]) -> Path | None:
    """--cache-dir, else $EVKIT_CACHE_DIR, else the user cache folder; None with --no-cache."""
    from evkit.report.engine.cache import default_cache_dir  # noqa: PLC0415 - keeps --help fast

    if args["--no-cache"]:
        return None
    chosen = args["--cache-dir"] or os.environ.get(CACHE_ENV)
    return Path(chosen) if chosen else default_cache_dir()


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
