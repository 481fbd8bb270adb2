"""Helpers shared by every subcommand's CLI module: docopt parsing and secret input.

docopt is confined to this module; subcommands pass their usage text and get a dict back,
or a UsageError that main() turns into exit code 2.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Sequence
from typing import Any

from docopt import DocoptExit, docopt

from evkit import __version__
from evkit.exitcodes import ExitCode


class UsageError(Exception):
    """The command line does not match the usage text, or a value in it is malformed."""


class HelpShown(Exception):
    """`--help` or `--version` was printed; the command should exit 0."""


def parse_args(doc: str, argv: Sequence[str]) -> dict[str, Any]:
    """Parse argv against a docopt usage text; raise UsageError instead of exiting."""
    try:
        return docopt(doc, argv=list(argv), version=f"evkit {__version__}", default_help=True)
    except DocoptExit as exc:
        raise UsageError(str(exc).strip() or doc.strip()) from None
    except SystemExit as exc:  # docopt prints --help / --version, then exits
        if exc.code in (None, 0):
            raise HelpShown() from None
        raise


def run_cli(doc: str, argv: Sequence[str], body: Any) -> int:
    """Parse argv, call body(args) and map UsageError to exit 2 with the usage on stderr.

    Subcommand modules map their own package errors to exit codes inside body; this keeps
    the usage path identical everywhere. `--help` prints the usage and exits 0 (docopt).
    """
    try:
        args = parse_args(doc, argv)
    except HelpShown:
        return ExitCode.OK
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.USAGE
    return int(body(args))


def read_secret(env_var: str, prompt: str, *, confirm: bool = False) -> str:
    """A passphrase or secret from an environment variable, else from a terminal prompt.

    Never from argv (it would show in `ps` and shell history). Raises UsageError when the
    variable is unset and there is no terminal to ask on.
    """
    value = os.environ.get(env_var)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"set the environment variable {env_var} (no terminal to prompt on)")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat: ") != value:
        raise UsageError("the two entries differ")
    return value


def fail(command: str, message: str, code: int = ExitCode.FAILED) -> int:
    """Print a one-line error for `evkit COMMAND` and return its exit code."""
    print(f"evkit {command}: error: {message}", file=sys.stderr)
    return code
