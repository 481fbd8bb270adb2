"""The evidence package's error hierarchy: reading sealed evidence raises these;
`evkit.clitools.run_cli` maps them to exit codes through `exit_status`."""

from __future__ import annotations

from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode


class EvidenceError(EvkitError):
    """Base of every evidence-reading failure; `exit_status` is the CLI exit code it maps to.

    Raised as such when a bundle cannot be read at all (not a directory, no data/); the message
    names it."""

    exit_status: int = ExitCode.FAILED


class ImportInputError(EvidenceError):
    """A client export (a file handed to `evkit import`) cannot be read; the message names the file."""


class RawPageError(EvidenceError):
    """A stored raw API page does not hold the records its kind promises; the message names the
    page and the element."""
