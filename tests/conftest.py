"""Fixtures shared by every test package. Package-specific fixtures live beside their tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def evkit_cli():
    """Run the real `evkit` console entry in a subprocess; returns CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,  # noqa: A002 - the same name as subprocess.run's input=
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "evkit", *args], capture_output=True, text=True,
            env=env, input=input, cwd=cwd, timeout=timeout, check=False,
        )

    return run


EXAMINER = "examiner@firm.example"
EXAMINER_PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory):
    """A session-wide examiner key made by manifests.keys.generate_key.

    Returns (path, passphrase, fingerprint); PATH.pub / PATH.pub.pem sit beside it and the
    signer is examiner@firm.example. Load it with manifests.keys.load_signing_key(path, passphrase).
    """
    from evkit.manifests.keys import generate_key

    path = tmp_path_factory.mktemp("examiner-key") / "examiner.key"
    fingerprint = generate_key(path, EXAMINER, EXAMINER_PASSPHRASE)
    return path, EXAMINER_PASSPHRASE, fingerprint


@pytest.fixture(autouse=True, scope="session")
def _table_cache_of_the_session(tmp_path_factory):
    """`evkit report` run by tests keeps its table cache (docs/report-cache.md) in the session's
    temporary folder, never in the user's cache folder."""
    before = os.environ.get("EVKIT_CACHE_DIR")
    os.environ["EVKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("table-cache"))
    yield
    if before is None:
        os.environ.pop("EVKIT_CACHE_DIR", None)
    else:
        os.environ["EVKIT_CACHE_DIR"] = before
