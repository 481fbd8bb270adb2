"""Seal files handed over by a client into a new, signed evidence bundle.

Usage:
  evkit import --case ID --out DIR --key KEY [--provided-by TEXT] FILE...

Options:
  --case ID           the case (matter) id, recorded as the bag's External-Identifier
  --out DIR           the bundle directory to create (must not exist)
  --key KEY           your signing key (from `evkit keygen`); passphrase from EVKIT_PASSPHRASE or a prompt
  --provided-by TEXT  who handed the files over (free text, recorded in every sidecar)

Every FILE is copied byte for byte under data/imports/ with a sidecar, then the bundle is sealed.
One line per file says its format, records, rejected rows and lossy cells. A file in no format
evkit knows is sealed all the same (it is evidence) but named in a warning, and the run exits 4:
no record was read from it, and every report over the bundle lists it as a problem.
"""

from __future__ import annotations

import codecs
import sys
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
    unknown: list[str] = []

    def summary(source: Path, sidecar: dict) -> None:
        print(safe_text(file_line(source, sidecar)))
        if sidecar["format"] == "unknown":
            unknown.append(source.name)
            print(safe_text(f"evkit import: warning: {source}: {unknown_reason(source, sidecar)}; sealed byte for "
                            "byte, but no record was read from it and reports over this bundle will "
                            "list it as a problem"), file=sys.stderr)

    bundle = import_files(out, case_id=case_id, key=key, files=[Path(f) for f in args["FILE"]],
                          provided_by=args["--provided-by"], on_file=summary)
    print(safe_text(f"sealed {bundle}: {len(args['FILE'])} file(s), signed by {key.signer} {key.fingerprint}"))
    print(safe_text(f"check it with: evkit verify {bundle} --signer-key {args['--key']}.pub"))
    if unknown:
        print(safe_text(f"evkit import: {len(unknown)} file(s) in no known format: {', '.join(unknown)}"),
              file=sys.stderr)
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def file_line(source: Path, sidecar: dict) -> str:
    """`NAME: FORMAT, N record(s), N rejected row(s), N lossy cell(s)` (FORMAT followed by
    `(gzip)` for a compressed file, which is stored as given and read inflated)."""
    compressed = f" ({sidecar['compression']})" if sidecar.get("compression") else ""
    return (f"{source.name}: {sidecar['format']}{compressed}, {sidecar['record_count']} record(s), "
            f"{sidecar['error_count']} rejected row(s), {sidecar['lossy_count']} lossy cell(s)")


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ZIP = (b"PK\x03\x04", "a zip archive (extract it and import the files inside)")


def unknown_reason(source: Path, sidecar: dict | None = None) -> str:
    """What evkit can say about a file in no format it knows."""
    try:
        with open(source, "rb") as handle:
            head = handle.read(4)
    except OSError:
        head = b"?"
    if not head:
        return "the file is empty"
    if head in _BOMS:           # the whole file is one byte-order mark (head holds up to 4 bytes)
        return "the file is empty (a byte-order mark and nothing else)"
    if head.startswith(_ZIP[0]):
        return f"in no format evkit knows: {_ZIP[1]}"
    if sidecar and sidecar.get("compression"):
        errors = sidecar.get("errors") or []
        if errors:
            return f"gzip-compressed and unreadable: {errors[0].get('reason')}"
        return "gzip-compressed, and what it holds is in no format evkit knows"
    return ("in no format evkit knows (not an audit-log export from Purview, Search-UnifiedAuditLog, "
            "the Management API, Graph or Sentinel)")


def main(argv: list[str]) -> int:
    return run_cli(__doc__, argv, _body)
