"""evkit report: the breach-scope report (PDF, items.csv, findings.json) from verified bundles.

Usage:
  evkit report BUNDLE... --case FILE --out DIR [--key KEY] [--allow-invalid] [--allow-mixed-tenants]
  evkit report (-h | --help)

Options:
  --case FILE       the case file (TOML; see examples/case.toml): window and indicators
  --out DIR         where report.pdf, items.csv and findings.json are written
  --key KEY         sign a `report-generated` custody record with the outputs' hashes into
                    each bundle; passphrase from EVKIT_PASSPHRASE or a prompt
  --allow-invalid   report on bundles that fail verification; every page says INVALID EVIDENCE
  --allow-mixed-tenants  report on bundles from more than one tenant together (refused otherwise)

Every bundle is verified first; a bundle that fails is refused (exit 1) unless the
invalid evidence is explicitly allowed. Same bundles and case file give byte-identical outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from evkit.clitools import UsageError, fail, read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.report.errors import InvalidEvidenceError, ReportError

COMMAND = "report"
PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def _signer(key_path: Path):
    from evkit.manifests.custody import append_custody  # noqa: PLC0415
    from evkit.manifests.keys import load_signing_key  # noqa: PLC0415

    key = load_signing_key(key_path, read_secret(PASSPHRASE_ENV, f"Passphrase for {key_path}: "))

    def sign(root: Path, hashes: dict[str, str]) -> None:
        append_custody(root, event="report-generated", key=key,
                       details={"outputs": {name: {"sha256": h} for name, h in sorted(hashes.items())}})
    return sign


def _body(args: dict[str, Any]) -> int:
    from evkit.report.pipeline import run_report  # noqa: PLC0415 - keeps --help fast

    try:
        sign = _signer(Path(args["--key"])) if args["--key"] else None
    except UsageError as exc:
        return fail(COMMAND, str(exc), ExitCode.USAGE)
    except Exception as exc:  # noqa: BLE001 - manifests key errors carry their own message
        return fail(COMMAND, f"cannot use the signing key: {exc}", getattr(exc, "exit_status", ExitCode.FAILED))
    try:
        result = run_report([Path(b) for b in args["BUNDLE"]], Path(args["--case"]), Path(args["--out"]),
                            allow_invalid=bool(args["--allow-invalid"]), sign=sign,
                            allow_mixed_tenants=bool(args["--allow-mixed-tenants"]))
    except InvalidEvidenceError as exc:
        for line in exc.findings:
            print(f"  {line}", file=sys.stderr)
        return fail(COMMAND, str(exc), exc.exit_status)
    except ReportError as exc:
        return fail(COMMAND, str(exc), exc.exit_status)
    except Exception as exc:  # noqa: BLE001 - the single top-level handler: a line, never a traceback
        return fail(COMMAND, f"{type(exc).__name__}: {exc}"[:500])
    for warning in result.warnings:
        print(f"evkit report: warning: {warning}", file=sys.stderr)
    s = result.findings["summary"]
    out = Path(args["--out"])
    print(f"{s['headline']}")
    print(f"confirmed {s['confirmed_items']}, inferred {s['inferred_items']} "
          f"(+{s['inferred_unnamed_items']} unnamed), mailboxes unknown {s['mailboxes_unknown']}")
    for name in sorted(result.outputs):
        print(f"  {out / name}  sha256 {result.outputs[name]}")
    if result.pdf_skipped:
        print(f"evkit report: warning: {result.pdf_skipped}", file=sys.stderr)
    if not result.findings["evidence_valid"]:
        print("evkit report: warning: INVALID EVIDENCE (reported with --allow-invalid)", file=sys.stderr)
    if result.findings["problems"]:
        print(f"evkit report: warning: {len(result.findings['problems'])} problem(s) reading the evidence; "
              "see findings.json \"problems\"", file=sys.stderr)
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
