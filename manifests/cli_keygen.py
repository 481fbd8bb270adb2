"""Create an examiner signing key (Ed25519, encrypted at rest).

Usage:
  evkit keygen --out PATH --signer EMAIL

Options:
  --out PATH       private key file to create (PATH.pub and PATH.pub.pem are written beside it)
  --signer EMAIL   who signs with this key (goes into PATH.pub and every allowed_signers line)

The passphrase comes from the environment variable EVKIT_PASSPHRASE, or a prompt.
Existing files are never overwritten. Prints the fingerprint to publish out of band.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evkit.clitools import read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.manifests.keys import generate_key

PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def _body(args: dict[str, Any]) -> int:
    out = Path(args["--out"])
    passphrase = read_secret(PASSPHRASE_ENV, f"Passphrase for {out}: ", confirm=True)
    fp = generate_key(out, args["--signer"], passphrase)
    print(f"{fp} {args['--signer']}")
    print(f"wrote {out} (encrypted, mode 0600), {out}.pub, {out}.pub.pem; "
          "publish the fingerprint above out of band (see keys/README.md)")
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
