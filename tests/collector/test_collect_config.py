"""collect.toml parsing: presets, overrides, relative paths, and one clear error per bad field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from collector_fakes import config_dict

from evkit.collector.config import CLOUDS, DEFAULT_OPERATIONS, load_config, parse_config
from evkit.collector.errors import ConfigError


def test_valid_config_resolves_overrides_and_defaults(tmp_path: Path) -> None:
    cfg = parse_config(config_dict(operations=[], users=["alice@contoso.com"]), tmp_path / "c.toml")
    assert cfg.endpoints.exchange == "https://fake/exchange"
    assert cfg.endpoints.exchange_scope == "https://outlook.office365.com/.default"  # audiences never move
    assert cfg.operations == DEFAULT_OPERATIONS
    assert cfg.users == ("alice@contoso.com",)
    assert cfg.authority == "https://fake/login/00000000-0000-0000-0000-0000000000aa"
    assert cfg.window_start.tzinfo is not None


@pytest.mark.parametrize("cloud,manage,scope", [
    ("commercial", "https://manage.office.com", "https://graph.microsoft.com/.default"),
    ("gcc", "https://manage-gcc.office.com", "https://graph.microsoft.com/.default"),
    ("gcc-high", "https://manage.office365.us", "https://graph.microsoft.us/.default"),
    ("dod", "https://manage.protection.apps.mil", "https://dod-graph.microsoft.us/.default"),
])
def test_cloud_presets(tmp_path: Path, cloud: str, manage: str, scope: str) -> None:
    data = config_dict()
    data["tenant"] = {"id": data["tenant"]["id"], "domain": "x.example", "cloud": cloud}
    cfg = parse_config(data, tmp_path / "c.toml")
    assert cfg.endpoints.manage == manage and cfg.endpoints.graph_scope == scope
    assert cfg.endpoints.authority_host == CLOUDS[cloud].authority_host


@pytest.mark.parametrize("cloud,exchange", [
    ("commercial", "https://outlook.office365.com"), ("gcc-high", "https://outlook.office365.us"),
    ("dod", "https://outlook-dod.office365.us"),
])
def test_exchange_host_and_token_scope_per_cloud(tmp_path: Path, cloud: str, exchange: str) -> None:
    data = config_dict()
    data["tenant"] = {"id": data["tenant"]["id"], "domain": "x.example", "cloud": cloud}
    cfg = parse_config(data, tmp_path / "c.toml")
    assert cfg.endpoints.exchange == exchange and cfg.endpoints.exchange_scope == exchange + "/.default"


def test_mgmt_subscriptions_are_not_started_unless_asked_and_publisher_defaults_to_tenant(tmp_path: Path) -> None:
    cfg = parse_config(config_dict(), tmp_path / "c.toml")
    assert cfg.mgmt_start_subscriptions is False and cfg.publisher_id == cfg.tenant_id
    data = config_dict(mgmt_start_subscriptions=True)
    data["tenant"]["publisher_id"] = "22222222-2222-2222-2222-222222222222"
    cfg = parse_config(data, tmp_path / "c.toml")
    assert cfg.mgmt_start_subscriptions is True and cfg.publisher_id == "22222222-2222-2222-2222-222222222222"
    with pytest.raises(ConfigError, match="collection.mgmt_start_subscriptions"):
        parse_config(config_dict(mgmt_start_subscriptions="yes"), tmp_path / "c.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "app-cert.pem").write_text("x")
    (tmp_path / "app-key.pem").write_text("x")
    data = config_dict()
    data["tenant"]["endpoints"]["ca_bundle"] = "ca.pem"
    data["auth"] = {"method": "certificate", "client_id": data["auth"]["client_id"],
                    "certificate": "app-cert.pem", "private_key": "app-key.pem", "thumbprint": "ab" * 20}
    data["signing"] = {"key": "examiner.key"}
    cfg = parse_config(data, tmp_path / "collect.toml")
    assert cfg.endpoints.ca_bundle == tmp_path / "ca.pem"
    assert cfg.auth.private_key == tmp_path / "app-key.pem"
    assert cfg.auth.thumbprint == "AB" * 20
    assert cfg.signing_key == tmp_path / "examiner.key"


def _set(data: dict, dotted: str, value: object) -> dict:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize("dotted,value,field", [
    ("case.id", KeyError, "case.id"),
    ("case.examiner", "", "case.examiner"),
    ("tenant.id", "contoso", "tenant.id"),
    ("tenant.cloud", "mooncake", "tenant.cloud"),
    ("tenant.endpoints.graph", "http://plain", "tenant.endpoints.graph"),
    ("tenant.endpoints.ca_bundle", "missing.pem", "tenant.endpoints.ca_bundle"),
    ("auth.method", "password", "auth.method"),
    ("auth.client_id", "nope", "auth.client_id"),
    ("auth.client_secret_env", KeyError, "auth.client_secret_env"),
    ("auth.client_secret_env", "not a name", "auth.client_secret_env"),
    ("auth.client_secret", "hunter2", "auth"),
    ("collection.window", ["2023-06-02T00:00:00Z", "2023-06-01T00:00:00Z"], "collection.window"),
    ("collection.window", ["2023-06-01T00:00:00Z", "2023-06-02T00:00:00"], "collection.window[1]"),
    ("collection.window", "2023", "collection.window"),
    ("collection.sources", ["ual", "evtx"], "collection.sources"),
    ("collection.operations", [1], "collection.operations"),
    ("collection.surprise", 1, "collection.surprise"),
    ("tuning.concurrency", 0, "tuning.concurrency"),
    ("tuning.retry_budget", 2.5, "tuning.retry_budget"),
])
def test_bad_fields_are_named(tmp_path: Path, dotted: str, value: object, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_set(config_dict(), dotted, value), tmp_path / "c.toml")
    assert str(err.value).startswith(field), str(err.value)


def test_certificate_needs_thumbprint(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    data = config_dict()
    data["auth"] = {"method": "certificate", "client_id": data["auth"]["client_id"], "certificate": "c.pem"}
    with pytest.raises(ConfigError, match="auth.thumbprint: missing"):
        parse_config(data, tmp_path / "c.toml")


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[case\nid=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_example_config_parses_and_shows_every_endpoint_key(tmp_path: Path) -> None:
    import re
    import shutil

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "examples" / "collect.toml").read_text(encoding="utf-8")
    for key in ("authority_host", "graph", "manage", "exchange", "ca_bundle", "mgmt_start_subscriptions",
                "publisher_id"):
        assert re.search(rf"(?m)^#? ?{key} = ", text), key
    shutil.copy(repo / "examples" / "collect.toml", tmp_path / "collect.toml")
    for name in ("evkit-app.crt.pem", "evkit-app.key.pem"):
        (tmp_path / name).write_text("x")
    assert load_config(tmp_path / "collect.toml").mgmt_start_subscriptions is False
    uncommented = re.sub(r"(?m)^# (authority_host|graph|manage|exchange) = ", r"\1 = ", text)
    uncommented = uncommented.replace("# [tenant.endpoints]", "[tenant.endpoints]")
    (tmp_path / "collect.toml").write_text(uncommented, encoding="utf-8")
    assert load_config(tmp_path / "collect.toml").endpoints.exchange == "https://outlook.office365.com"
