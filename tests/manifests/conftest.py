"""Fixtures of the manifests tests: the loaded examiner key and a second, foreign key."""

from __future__ import annotations

import pytest

from evkit.manifests.keys import generate_key, load_signing_key


@pytest.fixture(scope="session")
def examiner_key(signing_key):
    path, passphrase, _ = signing_key
    return load_signing_key(path, passphrase)


@pytest.fixture(scope="session")
def other_key_path(tmp_path_factory):
    """Another custodian's key (a receiving lawyer): (path, passphrase)."""
    path = tmp_path_factory.mktemp("lawyer-key") / "lawyer.key"
    generate_key(path, "lawyer@counsel.example", "lawyer passphrase")
    return path, "lawyer passphrase"


@pytest.fixture(scope="session")
def other_key(other_key_path):
    return load_signing_key(*other_key_path)
