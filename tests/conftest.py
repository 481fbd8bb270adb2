"""Fixtures shared by every test package. Package-specific fixtures live beside their tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def evkit_cli():
    """Run the real `evkit` console entry in a subprocess; returns CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "evkit", *args], capture_output=True, text=True,
            env=env, input=input, cwd=cwd, timeout=timeout, check=False,
        )

    return run
