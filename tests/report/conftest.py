"""Fixtures for report tests: a session signing key and small sealed bundles."""

from __future__ import annotations

import pytest

PASSPHRASE = "report-tests-passphrase"


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory):
    from manifests.keys import generate_key, load_signing_key

    path = tmp_path_factory.mktemp("key") / "examiner.key"
    generate_key(path, "examiner@firm.example", PASSPHRASE)
    return load_signing_key(path, PASSPHRASE)


@pytest.fixture(scope="session")
def key_path(signing_key, tmp_path_factory):
    from manifests.keys import generate_key

    path = tmp_path_factory.mktemp("key2") / "analyst.key"
    generate_key(path, "analyst@firm.example", PASSPHRASE)
    return path
