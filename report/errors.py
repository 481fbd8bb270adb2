"""The report's error hierarchy: library code raises these, CLI modules map them to exit codes."""

from __future__ import annotations

from evkit.exitcodes import ExitCode


class ReportError(Exception):
    """Base of every report failure; `exit_status` is the CLI exit code it maps to."""

    exit_status: int = ExitCode.FAILED


class CaseFileError(ReportError):
    """The case file is unreadable or a value in it is wrong; the message names the key."""

    exit_status = ExitCode.USAGE


class EvidenceError(ReportError):
    """A bundle cannot be read at all (not a directory, no data/); the message names it."""


class InvalidEvidenceError(ReportError):
    """A bundle failed verification (or could not be verified) and is refused; `findings` are
    printed under the message. The exit status is 1, or the one given (3: cannot verify)."""

    def __init__(self, message: str, findings: list[str], exit_status: int | None = None) -> None:
        super().__init__(message)
        self.findings = findings
        if exit_status is not None:
            self.exit_status = exit_status


class QueryError(ReportError):
    """An `evkit sql` query failed; the message is the engine's own."""


class RenderError(ReportError):
    """An output file (CSV, JSON, PDF) could not be written."""


class MixedTenantsError(ReportError):
    """The bundles come from more than one tenant and mixing them was not allowed."""

    exit_status = ExitCode.USAGE
