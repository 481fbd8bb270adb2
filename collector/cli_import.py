"""Seal files handed over by a client into a new, signed evidence bundle.

Usage:
  evkit import --case ID --out DIR --key KEY [--provided-by TEXT] FILE...

Options:
  --case ID           the case (matter) id, recorded as the bag's External-Identifier
  --out DIR           the bundle directory to create (must not exist)
  --key KEY           your signing key (from `evkit keygen`); passphrase from EVKIT_PASSPHRASE or a prompt
  --provided-by TEXT  who handed the files over (free text, recorded in every sidecar)

Every FILE is copied byte for byte under data/imports/ with a sidecar, then the bundle is sealed.
"""

from __future__ import annotations

from pathlib import Path

from evkit.collector.importer import import_files
from evkit.clitools import UsageError, read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.manifests.keys import load_signing_key
from evkit.terminal import safe_text

PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def _body(args: dict) -> int:
    out = Path(args["--out"])
    if out.exists() or out.is_symlink():
        raise UsageError(f"{out} already exists; give a new --out directory")
    case_id = args["--case"]
    if not case_id.strip() or any(c in case_id for c in "\r\n\t"):
        raise UsageError("--case must be a one-line case id")
    passphrase = read_secret(PASSPHRASE_ENV, f"Passphrase for {args['--key']}: ")
    key = load_signing_key(Path(args["--key"]), passphrase)
    bundle = import_files(out, case_id=case_id, key=key, files=[Path(f) for f in args["FILE"]],
                          provided_by=args["--provided-by"])
    print(safe_text(f"sealed {bundle}: {len(args['FILE'])} file(s), signed by {key.signer} {key.fingerprint}"))
    print(safe_text(f"check it with: evkit verify {bundle} --signer-key {args['--key']}.pub"))
    return ExitCode.OK


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
