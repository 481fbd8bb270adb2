"""evkit readiness: could a mailbox breach be investigated from this tenant's logging today?

Usage:
  evkit readiness BUNDLE... --out DIR [--days N] [--signer-key PUB | --allowed-signers FILE]
  evkit readiness (-h | --help)

Options:
  --out DIR                where readiness.pdf and readiness.json are written
  --days N                 the investigation window the logs must cover, in days [default: 90]
  --signer-key PUB         verify the bundles against the examiner's published key
  --allowed-signers FILE   verify against an OpenSSH allowed_signers file

Reads the `config` and `licences` evidence of one or more bundles (a readiness collection is
`evkit collect` with only those two sources). Every bundle is verified first; an invalid bundle
is refused (exit 1); a bundle that cannot be read at all exits 3. When a configuration or
licence piece was not collected, both outputs are still written, say what is missing, and the
exit code is 4 (evidence incomplete). Same bundles, same bytes out.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.clitools import fail, run_cli
from evkit.exitcodes import ExitCode
from evkit.terminal import safe_text

COMMAND = "readiness"


def main(argv: Sequence[str]) -> int:
    return run_cli(__doc__, list(argv), _body)


def _body(args: dict[str, Any]) -> int:
    from evkit.report.readiness.run import OUTPUTS, run_readiness  # noqa: PLC0415 - keeps --help fast

    try:
        days = int(args["--days"])
        if days <= 0:
            raise ValueError
    except ValueError:
        return fail(COMMAND, f"--days must be a positive whole number of days, not {args['--days']!r}",
                    ExitCode.USAGE)
    key = Path(args["--signer-key"]) if args["--signer-key"] else None
    allowed = Path(args["--allowed-signers"]) if args["--allowed-signers"] else None
    model, status = run_readiness([Path(b) for b in args["BUNDLE"]], Path(args["--out"]),
                                  days=days, signer_key=key, allowed_signers=allowed)
    summary = model["summary"]
    print(safe_text(summary["headline"]))
    print(f"investigable {summary['investigable']}, partly {summary['partly']}, blind {summary['blind']} "
          f"of {summary['mailboxes']} mailboxes; {len(model['fixes'])} fix(es)")
    for name in OUTPUTS:
        print(f"  {Path(args['--out']) / name}")
    if model["missing_evidence"]:
        print(safe_text(f"evkit readiness: warning: not collected: {', '.join(model['missing_evidence'])}"),
              file=sys.stderr)
    return status
