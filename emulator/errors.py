"""The emulator's one error hierarchy: library code raises these, only cli.py maps them to exit codes."""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class; `exit_status` follows the evkit CLI contract (1 failed, 2 usage)."""

    exit_status = 1


class UsageError(EmulatorError):
    """Bad command-line or option input (unknown scenario, malformed fault spec)."""

    exit_status = 2


class FaultSpecError(UsageError):
    """A --faults item that does not parse; the message names the item."""


class StartupError(EmulatorError):
    """The server could not start (port in use, workdir not writable)."""

    exit_status = 1


class UnknownScenarioError(UsageError):
    """`--scenario NAME` names no known scenario (raised by emulator.scenarios.build_scenario)."""
