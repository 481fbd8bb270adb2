"""Look up the items a report named (subject, sender, recipients, received time, importance,
whether they carry attachments) into a sealed, signed bundle of their own.

Usage:
  evkit resolve REPORT_DIR --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit resolve (-h | --help)

Options:
  --config FILE   the collect.toml of the case (tenant, cloud, auth, signing key); the app needs
                  the Graph application permission Mail.ReadBasic.All (no message bodies)
  --out DIR       the bundle directory to create (must not exist unless --resume)
  --key KEY       signing key (overrides [signing] key); passphrase from EVKIT_PASSPHRASE
  --resume        continue a run that was interrupted, in the same DIR, for the same report
  --quiet         no progress bars (the final summary line is still printed)

REPORT_DIR is the output folder of `evkit report`: every item items.csv lists as confirmed or
inferred is looked up by its InternetMessageId in its mailbox. Items a mailbox no longer holds are
recorded as gone. Give the bundle to `evkit report` with the evidence bundles to add the metadata
to items.csv, findings.json and the PDF (`--redact-subjects` for distribution).
Exit codes: 0 every item answered, 4 finished but some mailbox could not be looked up (summary on
stderr), 1 failed, 2 usage or configuration error, 130 interrupted (resume with --resume).
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.clitools import run_cli
from evkit.collector.cli_collect import preflight
from evkit.collector.errors import ConfigError
from evkit.exitcodes import ExitCode
from evkit.manifests.sealstate import SealState, seal_state
from evkit.terminal import safe_text

COMMAND = "resolve"


def main(argv: Sequence[str]) -> int:
    return run_cli(__doc__, argv, _body, hint=resume_hint)


def resume_hint(args: dict[str, Any], exc: BaseException) -> str:
    if not args["--out"] or isinstance(exc, ConfigError) or seal_state(Path(args["--out"])) is not SealState.OPEN:
        return ""
    command = ["evkit", "resolve", args["REPORT_DIR"], "--config", args["--config"], "--out", args["--out"]]
    command += ["--key", args["--key"]] if args["--key"] else []
    return f"; the bundle in {args['--out']} stays open: continue with `{shlex.join([*command, '--resume'])}`"


def _body(args: dict[str, Any]) -> int:
    from evkit.collector.auth import make_tokens  # noqa: PLC0415 - keeps `--help` start-up light
    from evkit.collector.itemlist import read_request  # noqa: PLC0415
    from evkit.collector.run import RunKind, collect  # noqa: PLC0415

    request = read_request(Path(args["REPORT_DIR"]))
    cfg, credentials, key = preflight(args)
    cfg = dataclasses.replace(cfg, sources=("items",))
    out = Path(args["--out"])
    for line in request.refused_rows:
        print(f"evkit resolve: not looked up: {safe_text(line)}", file=sys.stderr)
    run = RunKind("resolve", {"resolve": request}, request.digest(),
                  {"resolve": {"report_files": {"items.csv": request.items_csv_sha256,
                                                "findings.json": request.findings_sha256},
                               "items": len(request.items), "refused_rows": request.refused_count}})
    outcome = collect(cfg, out, key=key, tokens=make_tokens(cfg, credentials), resume=bool(args["--resume"]),
                      quiet=bool(args["--quiet"]), run=run)
    if outcome.complete and not request.refused_count:
        print(f"evkit resolve: {len(request.items)} item(s) looked up; sealed {out}", file=sys.stderr)
        return ExitCode.OK
    print(f"evkit resolve: finished INCOMPLETE; sealed {out}.", file=sys.stderr)
    if request.refused_count:
        print(f"  {request.refused_count} row(s) of items.csv were not looked up (named above)", file=sys.stderr)
    for line in outcome.incomplete:
        print(f"  {safe_text(line)}", file=sys.stderr)
    return ExitCode.INCOMPLETE
