"""Fixtures for report tests: a session signing key and small sealed bundles."""

from __future__ import annotations

import pytest

PASSPHRASE = "report-tests-passphrase"   # the analyst key's (key_path)


@pytest.fixture(scope="session")
def signing_key(signing_key):
    """The session's examiner key (tests/conftest.py), loaded, as report tests sign with it."""
    from evkit.manifests.keys import load_signing_key

    path, passphrase, _ = signing_key
    return load_signing_key(path, passphrase)


@pytest.fixture(scope="session")
def analyst_passphrase():
    """The passphrase of `key_path` (tests use it instead of importing conftest, whose module
    name pytest shares between folders)."""
    return PASSPHRASE


@pytest.fixture(scope="session")
def key_path(signing_key, tmp_path_factory):
    from evkit.manifests.keys import generate_key

    path = tmp_path_factory.mktemp("key2") / "analyst.key"
    generate_key(path, "analyst@firm.example", PASSPHRASE)
    return path


@pytest.fixture(scope="session")
def examiner_pub(signing_key, tmp_path_factory):
    """The session examiner's public key as the analyst received it out of band: --signer-key."""
    path = tmp_path_factory.mktemp("trusted") / "examiner.pub"
    path.write_text(signing_key.openssh_line + "\n", encoding="utf-8")
    return path
