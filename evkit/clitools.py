"""Helpers shared by every subcommand's CLI module: docopt parsing, secret input, and the one
place where errors become exit codes and one-line messages.

docopt is confined to this module; subcommands pass their usage text and get a dict back,
or a UsageError that run_cli turns into exit code 2. A subcommand's body parses nothing else,
calls its library function and prints; whatever the library raises is mapped by run_cli:

- an EvkitError: `evkit COMMAND: error: MESSAGE` and the error's exit status, its detail lines
  (verification findings, for instance) printed indented before it;
- an OSError (a file the user named cannot be read or written): `evkit COMMAND: error: FILE:
  REASON`, exit 1;
- Ctrl-C: `evkit COMMAND: interrupted`, exit 130; a broken stdout pipe (`| head`): exit 1, quietly;
- anything else is a bug and is not caught: in the `evkit` program, install_bug_hook turns it
  into exit 1 and one line (the traceback with EVKIT_DEBUG=1).

Messages are escaped (evkit.terminal.safe_text): a file name or evidence string never reaches
the terminal with raw control characters. A subcommand may add a hint, for instance how to
resume, after any of these messages.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from docopt import DocoptExit, docopt

from evkit import __version__
from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode
from evkit.terminal import safe_text

# (parsed arguments, the exception) -> text appended to the one-line message ("" for none)
Hint = Callable[[dict[str, Any], BaseException], str]


class UsageError(EvkitError):
    """The command line does not match the usage text, or a value in it is malformed."""

    exit_status = ExitCode.USAGE


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


def run_cli(doc: str, argv: Sequence[str], body: Callable[[dict[str, Any]], int], *,
            hint: Hint | None = None) -> int:
    """Parse argv, call body(args) and map whatever it raises to an exit code and one line.

    A usage mismatch prints the usage text and exits 2; `--help` prints it and exits 0.
    argv[0] is the command name, as evkit's dispatcher passes it.
    """
    try:
        args = parse_args(doc, argv)
    except HelpShown:
        return ExitCode.OK
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.USAGE
    command = argv[0] if argv else "?"
    try:
        return int(body(args))
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.FAILED
    except (EvkitError, OSError, KeyboardInterrupt) as exc:
        return report_failure(command, exc, hint(args, exc) if hint else "")


def report_failure(command: str, exc: EvkitError | OSError | KeyboardInterrupt, hint: str = "") -> int:
    """Print what went wrong for `evkit COMMAND` (escaped, one line) and return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print(safe_text(f"evkit {command}: interrupted{hint or '.'}"), file=sys.stderr)
        return ExitCode.INTERRUPTED
    if isinstance(exc, EvkitError):
        for line in exc.details:
            print(f"  {safe_text(line)}", file=sys.stderr)
        return fail(command, f"{exc}{hint}", exc.exit_status)
    return fail(command, f"{describe_os_error(exc)}{hint}", ExitCode.FAILED)


DEBUG_ENV = "EVKIT_DEBUG"


def install_bug_hook(command: str) -> None:
    """For the `evkit` process: an exception nothing maps (a bug in evkit) ends the run with exit 1
    and one line saying so, not a traceback; with EVKIT_DEBUG=1 the traceback is shown as well."""
    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if os.environ.get(DEBUG_ENV) or not issubclass(exc_type, Exception):
            sys.__excepthook__(exc_type, exc, tb)
            return
        print(safe_text(f"evkit {command}: internal error ({exc_type.__name__}: {exc}); this is a bug "
                        f"in evkit: run again with {DEBUG_ENV}=1 to see where it happened, and report it"),
              file=sys.stderr)
    sys.excepthook = hook


def describe_os_error(exc: OSError) -> str:
    """`FILE: reason` for an OSError about a file (both files for a rename), else the reason."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [_filename(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _filename(name: object) -> str:
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout (tests) has no descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


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
    """Print a one-line error for `evkit COMMAND` (escaped) and return its exit code."""
    print(f"evkit {command}: error: {safe_text(message)}", file=sys.stderr)
    return code
