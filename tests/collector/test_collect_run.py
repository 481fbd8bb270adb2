"""evkit.collector.run: the resume guard and the tool hash (no network: both act before any request)."""

from __future__ import annotations

from pathlib import Path

import pytest
from collector_fakes import StaticTokens, config_dict

from evkit.collector.config import parse_config
from evkit.collector.errors import BundleError, ConfigError
from evkit.collector.run import collect, config_fingerprint, tool_sha256
from evkit.manifests.bundle import BundleWriter
from evkit.manifests.keys import load_signing_key


def test_resume_with_a_different_config_is_refused(tmp_path: Path, signing_key) -> None:
    cfg = parse_config(config_dict(), tmp_path / "collect.toml")
    other = parse_config(config_dict(window=["2023-06-01T00:00:00Z", "2023-06-09T00:00:00Z"]), tmp_path / "c.toml")
    assert config_fingerprint(cfg) != config_fingerprint(other)
    writer = BundleWriter.create(tmp_path / "b", case_id="IR-1", collection_id="c1")
    writer.write_state({"config_fingerprint": config_fingerprint(other), "runs": 1})
    key = load_signing_key(signing_key[0], signing_key[1])
    with pytest.raises(ConfigError, match="differ from the run being resumed"):
        collect(cfg, tmp_path / "b", key=key, tokens=StaticTokens(), resume=True, quiet=True)


def test_resume_of_a_missing_or_sealed_bundle_is_a_bundle_error(tmp_path: Path, signing_key) -> None:
    cfg = parse_config(config_dict(), tmp_path / "collect.toml")
    key = load_signing_key(signing_key[0], signing_key[1])
    (tmp_path / "plain").mkdir()
    with pytest.raises(BundleError):
        collect(cfg, tmp_path / "plain", key=key, tokens=StaticTokens(), resume=True, quiet=True)


def test_tool_hash_changes_with_the_source(tmp_path: Path) -> None:
    for package in ("evkit", "manifests", "collector"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("x = 1\n")
    first = tool_sha256(tmp_path)
    assert len(first) == 64 and tool_sha256(tmp_path) == first
    (tmp_path / "collector" / "__init__.py").write_text("x = 2\n")
    assert tool_sha256(tmp_path) != first
