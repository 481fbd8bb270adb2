"""evkit: evidence collection, verification and breach-scope reports for Microsoft 365.

Usage:
  evkit keygen   --out PATH --signer EMAIL
  evkit collect  --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit collect  --config FILE --check
  evkit import   --case ID --out DIR --key KEY [--provided-by TEXT] FILE...
  evkit verify   BUNDLE [--signer-key PUB | --allowed-signers FILE] [--json]
  evkit custody  BUNDLE --event EVENT --key KEY [--to TEXT] [--note TEXT]
  evkit report   BUNDLE... --case FILE --out DIR [--signer-key PUB | --allowed-signers FILE]
                 [--key KEY] [--allow-untrusted] [--allow-invalid] [--allow-mixed-tenants] [--force]
                 [--redact-subjects] [--cache-dir DIR | --no-cache]
  evkit resolve  REPORT_DIR --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit sql      BUNDLE... [QUERY]
  evkit readiness BUNDLE... --out DIR [--signer-key PUB | --allowed-signers FILE]
                 [--allow-untrusted] [--allow-invalid] [--force]
  evkit export   BUNDLE... --out DIR [--format parquet|csv] [--case FILE]
                 [--signer-key PUB | --allowed-signers FILE] [--key KEY] [--allow-untrusted]
                 [--allow-invalid] [--allow-mixed-tenants]
  evkit cache    (list | clear) [--cache-dir DIR]
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

from evkit.clitools import install_bug_hook
from evkit.exitcodes import ExitCode
from evkit.provenance import portable_artefact, tool_identity

# Each subcommand lives in the package that owns it; its module exposes main(argv) -> int
# and keeps its own docopt usage text; errors become exit codes in evkit.clitools.run_cli
# (the emulator, which imports no product code, maps its own). Imported lazily so `evkit verify` never loads
# reportlab, duckdb or the network stack.
COMMANDS: dict[str, str] = {
    "keygen": "evkit.manifests.cli_keygen",
    "collect": "evkit.collector.cli_collect",
    "import": "evkit.collector.cli_import",
    "verify": "evkit.manifests.cli_verify",
    "custody": "evkit.manifests.cli_custody",
    "resolve": "evkit.collector.cli_resolve",
    "report": "evkit.report.cli.report",
    "sql": "evkit.report.cli.sql",
    "readiness": "evkit.report.cli.readiness",
    "emulator": "evkit.emulator.cli",
    "demo": "evkit.demo",
    "export": "evkit.report.cli.export",
    "cache": "evkit.report.cli.cache",
}


# What the portable collector (`make dist`'s .pyz, release/README.md) can do; the report stage
# needs duckdb and reportlab and stays in the full install.
PORTABLE_COMMANDS = frozenset({"keygen", "collect", "import", "verify", "custody"})


def portable_refusal(command: str) -> str | None:
    """Why the portable collector cannot run `command` here, or None when it can (or is not one)."""
    label = portable_artefact()
    if label is None:
        return None
    if command not in PORTABLE_COMMANDS:
        return (f"not part of the portable collector {label.get('name', '')}; run it from a full "
                "installation of evkit (pip install evkit).")
    built_for = str(label.get("python", ""))
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if built_for and built_for != running:
        return (f"this portable collector was built for Python {built_for} and this is Python {running}; "
                f"run it with python{built_for}, or build one for this Python with `make dist`.")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return ExitCode.OK if args else ExitCode.USAGE
    if args[0] == "--version":
        print(tool_identity().describe())
        return ExitCode.OK
    command = args[0]
    module_name = COMMANDS.get(command)
    if module_name is None:
        print(f"evkit: unknown command {command!r}; run `evkit --help` for the list.", file=sys.stderr)
        return ExitCode.USAGE
    refusal = portable_refusal(command)
    if refusal:
        print(f"evkit {command}: {refusal}", file=sys.stderr)
        return ExitCode.USAGE
    if argv is None:  # running as the `evkit` program, not called from Python
        install_bug_hook(command)
    module = importlib.import_module(module_name)
    return int(module.main(args))  # each command maps its own errors through evkit.clitools.run_cli


if __name__ == "__main__":
    sys.exit(main())
