"""The root of evkit's error hierarchy.

Library code raises subclasses of `EvkitError` (each package has its own base: ManifestsError,
CollectorError, ReportError); the CLI layer (`evkit.clitools.run_cli`) is the one place that
turns them into an exit status and a one-line message. The emulator is a separate program and
keeps its own errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from evkit.exitcodes import ExitCode


class EvkitError(Exception):
    """A failure the user can act on: a one-line message and the CLI exit status it maps to.

    `details` are extra lines (verification findings, for instance) printed indented before
    the one-line error. A class sets its default `exit_status`; an instance may override it.
    """

    exit_status: int = ExitCode.FAILED
    details: tuple[str, ...] = ()

    def __init__(self, message: str = "", *, exit_status: int | None = None,
                 details: Sequence[str] = ()) -> None:
        super().__init__(message)
        if exit_status is not None:
            self.exit_status = exit_status
        if details:
            self.details = tuple(details)
