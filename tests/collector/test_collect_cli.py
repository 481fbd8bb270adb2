"""`evkit collect` pre-flight: every check that needs no network fails fast with one line and
the right exit code, before any request is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from collector_fakes import config_dict

from evkit.collector import cli_collect


def write_toml(path: Path, data: dict) -> Path:
    def value(v):
        return json.dumps(v)
    lines = []
    for table, body in data.items():
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        lines.append(f"[{table}]")
        lines += [f"{k} = {value(v)}" for k, v in scalars.items()]
        for sub, inner in body.items():
            if isinstance(inner, dict):
                lines.append(f"[{table}.{sub}]")
                lines += [f"{k} = {value(v)}" for k, v in inner.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = config_dict()
    data["tenant"]["endpoints"] = {k: "https://127.0.0.1:9/x" for k in ("authority_host", "graph", "manage",
                                                                          "exchange")}
    return write_toml(tmp_path / "collect.toml", data)


def run(capsys, *args: str) -> tuple[int, str]:
    code = cli_collect.main(["collect", *args])
    return code, capsys.readouterr().err


def test_usage_error(capsys) -> None:
    code, err = run(capsys, "--out", "x")
    assert code == 2


def test_bad_config_names_the_field(tmp_path, capsys) -> None:
    data = config_dict()
    data["tenant"]["id"] = "contoso"
    cfg = write_toml(tmp_path / "c.toml", data)
    code, err = run(capsys, "--config", str(cfg), "--out", str(tmp_path / "b"), "--key", "k")
    assert code == 2 and "tenant.id" in err and err.count("\n") == 1


def test_existing_out_needs_resume(config, tmp_path, capsys, monkeypatch, signing_key) -> None:
    (tmp_path / "b").mkdir()
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "b"), "--key", str(signing_key[0]))
    assert code == 2 and "already exists" in err
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "none"), "--key", str(signing_key[0]),
                    "--resume")
    assert code == 2 and "nothing to resume" in err


def test_secrets_must_be_in_the_environment(config, tmp_path, capsys, monkeypatch, signing_key) -> None:
    monkeypatch.delenv("SECRET", raising=False)
    monkeypatch.setenv("EVKIT_PASSPHRASE", signing_key[1])
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "b"), "--key", str(signing_key[0]))
    assert code == 2 and "SECRET" in err
    monkeypatch.setenv("SECRET", "s3cret")
    monkeypatch.delenv("EVKIT_PASSPHRASE")
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "b"), "--key", str(signing_key[0]))
    assert code == 2 and "EVKIT_PASSPHRASE" in err
    monkeypatch.setenv("EVKIT_PASSPHRASE", "wrong")
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "b"), "--key", str(signing_key[0]))
    assert code == 1 and "s3cret" not in err
    assert not (tmp_path / "b").exists()  # nothing created before the checks pass


def test_unreachable_tenant_fails_cleanly_and_leaves_a_resumable_bundle(config, tmp_path, capsys, monkeypatch,
                                                                      signing_key) -> None:
    monkeypatch.setenv("SECRET", "s3cret")
    monkeypatch.setenv("EVKIT_PASSPHRASE", signing_key[1])
    data = config_dict()
    data["tenant"]["endpoints"] = {k: "https://127.0.0.1:9/x" for k in ("authority_host", "graph", "manage",
                                                                          "exchange")}
    data["tuning"].update(retry_budget=1, timeout_seconds=2)
    write_toml(config, data)
    code, err = run(capsys, "--config", str(config), "--out", str(tmp_path / "b"), "--key", str(signing_key[0]))
    assert code == 1 and err.count("\n") == 1 and "127.0.0.1" in err, err
    assert not (tmp_path / "b").exists()  # MSAL's discovery fails before the bundle is opened
