"""Exit codes of the CLI contract (docs/design.md, Errors and exit codes), in one place."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success, or bundle valid
    FAILED = 1  # invalid evidence or failed operation
    USAGE = 2  # usage error
    CANNOT_VERIFY = 3  # verification impossible (no key, unreadable bundle)
    INCOMPLETE = 4  # collection finished, but not every window is complete
    INTERRUPTED = 130
