"""Verify a sealed evidence bundle.

Usage:
  evkit verify BUNDLE [--signer-key PUB | --allowed-signers FILE] [--json]

Options:
  --signer-key PUB         the examiner's published public key (OpenSSH .pub or PEM)
  --allowed-signers FILE   an OpenSSH allowed_signers file of trusted keys (examiner, recipients)
  --json                   print the result as JSON

Prints a one-line verdict, then every finding. Exit status: 0 valid, 1 invalid,
3 cannot verify (no trusted key given, unknown custodian key, unreadable bundle).
The keys/ copies inside a bundle are never trusted on their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evkit.clitools import run_cli
from evkit.manifests.errors import TrustOptionError
from evkit.manifests.verify import verify_bundle
from evkit.terminal import safe_text


def _body(args: dict[str, Any]) -> int:
    signer_key = Path(args["--signer-key"]) if args["--signer-key"] else None
    allowed = Path(args["--allowed-signers"]) if args["--allowed-signers"] else None
    try:
        result = verify_bundle(Path(args["BUNDLE"]), signer_key=signer_key, allowed_signers=allowed)
    except TrustOptionError as exc:
        if args["--json"]:   # --json output stays JSON: the error, then the usual one line on stderr
            print(json.dumps({"schema": "evkit.verify/1", "bundle": args["BUNDLE"], "verdict": None,
                              "error": str(exc), "exit_status": int(exc.exit_status)}, indent=2))
        raise
    if args["--json"]:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        print(safe_text(result.summary()))
        for finding in result.findings:
            print(f"  {safe_text(finding)}")
    return result.exit_status


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
