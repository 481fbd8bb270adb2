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
    """A bundle failed verification and --allow-invalid was not given."""

    def __init__(self, message: str, findings: list[str]) -> None:
        super().__init__(message)
        self.findings = findings


class QueryError(ReportError):
    """An `evkit sql` query failed; the message is the engine's own."""


class RenderError(ReportError):
    """An output file (CSV, JSON, PDF) could not be written."""
