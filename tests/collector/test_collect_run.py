"""evkit.collector.run: the resume guard and the tool hash (no network: both act before any request)."""

from __future__ import annotations

from pathlib import Path

import pytest
from collector_fakes import StaticTokens, config_dict

from evkit.collector.config import parse_config
from evkit.collector.errors import BundleError, ConfigError
from evkit.collector.run import collect, config_fingerprint
from evkit.provenance import code_sha256, tool_identity
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
    dirs = {"evkit": tmp_path / "evkit", "evkit.manifests": tmp_path / "manifests",
            "evkit.collector": tmp_path / "collector"}
    first = code_sha256(dirs)
    assert len(first) == 64 and code_sha256(dirs) == first
    (tmp_path / "collector" / "__init__.py").write_text("x = 2\n")
    assert code_sha256(dirs) != first


def test_tool_hash_is_the_same_for_a_source_tree_and_an_installed_tree(tmp_path: Path) -> None:
    """Source folders side by side, or nested as a wheel installs them: one digest."""
    source, installed = tmp_path / "src", tmp_path / "site"
    for folder in (source / "evkit", source / "manifests", installed / "evkit" / "manifests"):
        folder.mkdir(parents=True)
    for root in (source / "evkit", installed / "evkit"):
        (root / "cli.py").write_text("main = 1\n")
    for root in (source / "manifests", installed / "evkit" / "manifests"):
        (root / "verify.py").write_text("ok = 1\n")
    assert code_sha256({"evkit": source / "evkit", "evkit.manifests": source / "manifests"}) == code_sha256(
        {"evkit": installed / "evkit", "evkit.manifests": installed / "evkit" / "manifests"})


def test_running_tree_is_identified_by_its_code() -> None:
    tool = tool_identity()
    assert tool.artefact == "source" and len(tool.sha256) == 64 and tool.sha256 in tool.describe()
