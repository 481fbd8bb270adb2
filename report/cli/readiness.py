"""evkit readiness: could a mailbox breach be investigated from this tenant's logging today?

Usage:
  evkit readiness BUNDLE... --out DIR [--days N] [--signer-key PUB | --allowed-signers FILE]
                  [--allow-untrusted] [--allow-invalid] [--force]
  evkit readiness (-h | --help)

Options:
  --out DIR                where readiness.pdf and readiness.json are written; must be new or
                           empty unless --force
  --days N                 the investigation window the logs must cover, in days [default: 90]
  --signer-key PUB         the examiner's public key, as you received it out of band
  --allowed-signers FILE   an OpenSSH allowed_signers file of the examiners you trust
  --allow-untrusted        report on bundles not verified against a key you trust; every page,
                           readiness.json and the console say UNTRUSTED EVIDENCE
  --allow-invalid          report on bundles that fail verification; every page says INVALID EVIDENCE
  --force                  overwrite the outputs in a folder that already holds files

Reads the `config` and `licences` evidence of one or more bundles (a readiness collection is
`evkit collect` with only those two sources). Every bundle is verified first against the key you
trust: an invalid bundle is refused (exit 1), one not signed by a trusted key (or given no key)
is refused (exit 3), unless explicitly allowed; a bundle that cannot be read at all exits 3. When a configuration or
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
    from evkit.report.intake import Trust  # noqa: PLC0415 - keeps --help fast
    model, status = run_readiness([Path(b) for b in args["BUNDLE"]], Path(args["--out"]),
                                  days=days, trust=Trust.from_args(args), force=bool(args["--force"]))
    summary = model["summary"]
    print(safe_text(summary["headline"]))
    print(f"investigable {summary['investigable']}, partly {summary['partly']}, blind {summary['blind']} "
          f"of {summary['mailboxes']} mailboxes; {len(model['fixes'])} fix(es)")
    for name in OUTPUTS:
        print(f"  {Path(args['--out']) / name}")
    for warning in model["evidence_warnings"]:
        print(f"evkit readiness: warning: {warning}", file=sys.stderr)
    if model["missing_evidence"]:
        print(safe_text(f"evkit readiness: warning: not collected: {', '.join(model['missing_evidence'])}"),
              file=sys.stderr)
    return status
