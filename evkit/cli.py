"""evkit: evidence collection, verification and breach-scope reports for Microsoft 365.

Usage:
  evkit keygen   --out PATH --signer EMAIL
  evkit collect  --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit import   --case ID --out DIR --key KEY [--provided-by TEXT] FILE...
  evkit verify   BUNDLE [--signer-key PUB | --allowed-signers FILE] [--json]
  evkit custody  BUNDLE --event EVENT --key KEY [--to TEXT] [--note TEXT]
  evkit report   BUNDLE... --case FILE --out DIR [--key KEY] [--allow-invalid]
  evkit sql      BUNDLE... [QUERY]
  evkit readiness BUNDLE... --out DIR
  evkit emulator --workdir DIR [--scenario NAME] [--seed N] [--port N] [--faults SPEC]
                 [--service current|legacy]
  evkit demo     [--out DIR]
  evkit (-h | --help)
  evkit --version

Run `evkit COMMAND --help` for one command's options.
Exit codes: 0 success/valid, 1 invalid evidence or failed operation, 2 usage error,
3 cannot verify, 4 collection finished incomplete.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from evkit import __version__
from evkit.exitcodes import ExitCode

# Each subcommand lives in the package that owns it; its module exposes main(argv) -> int
# and keeps its own docopt usage text. Imported lazily so `evkit verify` never loads
# reportlab, duckdb or the network stack.
COMMANDS: dict[str, str] = {
    "keygen": "evkit.manifests.cli_keygen",
    "collect": "evkit.collector.cli_collect",
    "import": "evkit.collector.cli_import",
    "verify": "evkit.manifests.cli_verify",
    "custody": "evkit.manifests.cli_custody",
    "report": "evkit.report.cli.report",
    "sql": "evkit.report.cli.sql",
    "readiness": "evkit.report.cli.readiness",
    "emulator": "evkit.emulator.cli",
    "demo": "evkit.demo",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return ExitCode.OK if args else ExitCode.USAGE
    if args[0] == "--version":
        print(f"evkit {__version__}")
        return ExitCode.OK
    command = args[0]
    module_name = COMMANDS.get(command)
    if module_name is None:
        print(f"evkit: unknown command {command!r}; run `evkit --help` for the list.", file=sys.stderr)
        return ExitCode.USAGE
    module = importlib.import_module(module_name)
    try:
        return int(module.main(args))
    except KeyboardInterrupt:
        print(f"evkit {command}: interrupted.", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
