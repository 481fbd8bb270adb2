"""Errors raised while building a scenario; they join the emulator's one hierarchy."""

from __future__ import annotations

from evkit.emulator.errors import UsageError


class UnknownScenarioError(UsageError, ValueError):
    """The scenario name is not one of SCENARIOS; the message lists the valid names."""


class ScenarioParamError(UsageError, ValueError):
    """A scenario parameter is unknown or out of range; the message names it."""
