"""Append a signed chain-of-custody record to a sealed bundle.

Usage:
  evkit custody BUNDLE --event EVENT --key KEY [--to TEXT] [--note TEXT]

Options:
  --event EVENT   sealed is written by sealing; append one of: transferred, received,
                  verified, report-generated, note
  --key KEY       your private key (from `evkit keygen`); passphrase from EVKIT_PASSPHRASE or a prompt
  --to TEXT       the recipient (for transferred)
  --note TEXT     free text: method of transfer, container hash, remarks

Writes custody/NNNN.json and NNNN.json.sshsig, chained to the previous record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evkit.clitools import UsageError, read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.manifests.custody import EVENTS, append_custody
from evkit.manifests.keys import load_signing_key

PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def _body(args: dict[str, Any]) -> int:
    event = args["--event"]
    if event not in EVENTS or event == "sealed":
        allowed = ", ".join(e for e in EVENTS if e != "sealed")
        raise UsageError(f"--event {event!r} is not one of: {allowed}")
    bundle = Path(args["BUNDLE"])
    if not bundle.is_dir():
        raise UsageError(f"{bundle} is not a bundle directory")
    passphrase = read_secret(PASSPHRASE_ENV, f"Passphrase for {args['--key']}: ")
    key = load_signing_key(Path(args["--key"]), passphrase)
    path = append_custody(bundle, event=event, key=key, to=args["--to"], note=args["--note"])
    print(f"wrote {path} and {path.name}.sshsig ({event}, signed by {key.signer} {key.fingerprint})")
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
