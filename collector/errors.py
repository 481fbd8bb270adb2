"""The collector's error hierarchy: library code raises these, evkit.clitools.run_cli maps them
to exit codes (the root is evkit.errors.EvkitError)."""

from __future__ import annotations

from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode


class CollectorError(EvkitError):
    """Base of every collector failure; `exit_status` is the CLI exit code it maps to (default 1)."""


class ConfigError(CollectorError):
    """The collection config or the command line is wrong; the message names the field."""

    exit_status = ExitCode.USAGE


class AuthError(CollectorError):
    """A token could not be obtained, or the API refused it (401/403: `status` and `url` say which)."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.code = code  # the service's error code, when the body names one


class NetworkError(CollectorError):
    """Connection failures and timeouts that outlived the retry budget."""


class ApiError(CollectorError):
    """An API answered with an error we cannot retry, or with a body we cannot read."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "",
                 request_id: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.request_id = request_id
        self.code = code  # the service's error code (e.g. AF20055), when the body names one


class ThrottledError(ApiError):
    """Throttling (429/503) outlasted the retry budget."""


class BundleError(CollectorError):
    """The output bundle cannot be created, resumed or written."""
