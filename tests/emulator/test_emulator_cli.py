"""`evkit emulator`: bad input gets one line and the contract's exit code; a real run writes
the workdir (connection.json last), serves, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import tomllib

import pytest
import requests

from evkit.emulator.cli import main


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("args,fragment", [
    ([], "--workdir"),
    (["--scenario", "no-such-scenario"], "no-such-scenario"),
    (["--faults", "429=0.1,bogus=1"], "bogus=1"),
    (["--faults", "slow=0.5"], "slow=0.5"),
    (["--seed", "abc"], "--seed"),
    (["--withhold", "Mail.Send"], "Mail.Send"),
    (["--param", "records"], "records"),
    (["--now", "tomorrow"], "tomorrow"),
    (["--port", "70000"], "70000"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, args, fragment):
    argv = ["emulator"] + (["--workdir", str(tmp_path / "w")] if args else []) + args
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("evkit emulator: ") and fragment in line
    assert not (tmp_path / "w" / "connection.json").exists()


def test_port_in_use_exits_1_with_one_line(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--workdir", str(tmp_path), "--port", str(port)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"port {port} is already in use" in line


def test_unwritable_workdir_exits_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["emulator", "--workdir", str(blocker / "sub")]) == 1
    assert "workdir" in _one_line(capsys.readouterr().err)


def test_foreground_run_writes_workdir_and_stops_on_sigterm(tmp_path):
    workdir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "evkit", "emulator", "--workdir", str(workdir), "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (workdir / "connection.json").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        conn = json.loads((workdir / "connection.json").read_text())
        for name in ("ca.pem", "app-cert.pem", "app-key.pem", "collect.toml", "case.toml", "ground-truth.json"):
            assert (workdir / name).is_file(), name
        assert b"ENCRYPTED PRIVATE KEY" in (workdir / "app-key.pem").read_bytes()
        assert (workdir / "app-key.pem").stat().st_mode & 0o077 == 0
        assert conn["scenario"] == "bec-basic" and conn["seed"] == 3 and conn["pid"] == proc.pid
        assert set(conn) >= {"tenant_id", "tenant_domain", "cloud", "authority_host", "graph", "manage", "exchange",
                             "ca_bundle", "client_id", "public_client_id", "client_secret", "certificate", "window",
                             "now"}
        cfg = tomllib.loads((workdir / "collect.toml").read_text())
        assert cfg["tenant"]["id"] == conn["tenant_id"] and cfg["auth"]["client_id"] == conn["client_id"]
        assert cfg["auth"]["thumbprint"] == conn["certificate"]["thumbprint"]
        assert cfg["tenant"]["endpoints"]["graph"] == conn["graph"] and cfg["tenant"]["endpoints"]["ca_bundle"] == "ca.pem"
        assert cfg["collection"]["window"] == [conn["window"]["start"], conn["window"]["end"]]
        assert sorted(cfg["collection"]["sources"]) == ["apps", "config", "graph", "licences", "mailbox", "mgmt",
                                                        "signins", "ual"]
        assert "signing" not in cfg and conn["client_secret"] not in (workdir / "collect.toml").read_text()
        r = requests.get(f"{conn['authority_host']}/{conn['tenant_id']}/v2.0/.well-known/openid-configuration",
                         verify=conn["ca_bundle"], timeout=30)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "evkit emulator: stopped."
    assert not (workdir / "connection.json").exists()


def test_help_exits_0(capsys):
    assert main(["emulator", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--faults" in out and "cap-window" in out and "--latency-ms" in out
