"""The manifests package's error hierarchy: library code raises these, evkit.clitools.run_cli maps them
to exit codes (the root is evkit.errors.EvkitError)."""

from __future__ import annotations

from evkit.errors import EvkitError
from evkit.exitcodes import ExitCode


class ManifestsError(EvkitError):
    """Base of every manifests failure; `exit_status` is the CLI exit code it maps to (default 1)."""


class KeyFileError(ManifestsError):
    """A key file is missing, unreadable, malformed, or its passphrase is wrong."""


class KeyExistsError(KeyFileError):
    """keygen refuses to overwrite an existing key file."""

    exit_status = ExitCode.USAGE


class TrustOptionError(KeyFileError):
    """The verifier's trusted-key option is wrong: both given, or a key file that cannot be used."""

    exit_status = ExitCode.USAGE


class WeakPassphraseError(KeyFileError):
    """keygen refuses a passphrase that is too short."""

    exit_status = ExitCode.USAGE


class SignatureError(ManifestsError):
    """A signature blob is malformed or does not verify."""


class BundleExistsError(ManifestsError):
    """BundleWriter.create was pointed at a path that already exists."""

    exit_status = ExitCode.USAGE


class UnsafeNameError(ManifestsError):
    """A payload path breaks the safe-name policy (docs/bundle.md)."""

    exit_status = ExitCode.USAGE


class BundleStateError(ManifestsError):
    """The bundle is not in the state the operation needs (sealed vs open, torn files, ...)."""


class BundleSealedError(BundleStateError):
    """The bundle is already sealed (resume and writes refused; nothing is lost)."""


class CustodyError(ManifestsError):
    """A custody record cannot be appended."""
