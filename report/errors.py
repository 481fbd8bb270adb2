"""The report's error hierarchy: library code raises these, evkit.clitools.run_cli maps them
to exit codes (the root is evkit.errors.EvkitError)."""

from __future__ import annotations

from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode


class ReportError(EvkitError):
    """Base of every report failure; `exit_status` is the CLI exit code it maps to (default 1)."""


class CaseFileError(ReportError):
    """The case file is unreadable or a value in it is wrong; the message names the key."""

    exit_status = ExitCode.USAGE


class InvalidEvidenceError(ReportError):
    """A bundle failed verification (or could not be verified) and is refused; `findings` are
    printed, one per line, before the message. The exit status is 1, or the one given (3: cannot
    verify)."""

    def __init__(self, message: str, findings: list[str], exit_status: int | None = None) -> None:
        super().__init__(message, exit_status=exit_status, details=findings)
        self.findings = findings


class QueryError(ReportError):
    """An `evkit sql` query failed; the message is the engine's own."""


class RenderError(ReportError):
    """An output file (CSV, JSON, PDF) could not be written."""


class TrustOptionError(ReportError):
    """The trusted key options are wrong (missing or unreadable key file, both given)."""

    exit_status = ExitCode.USAGE


class OutputExistsError(ReportError):
    """The output folder already holds files and --force was not given."""

    exit_status = ExitCode.USAGE


class MixedTenantsError(ReportError):
    """The bundles come from more than one tenant and mixing them was not allowed."""

    exit_status = ExitCode.USAGE


class CacheFolderError(ReportError):
    """The table cache's folder cannot be listed or cleared as it is (a link, not a folder)."""
