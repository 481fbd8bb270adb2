"""Files the emulator leaves in its workdir for the user and the tests: the app credential,
collect.toml, and connection.json (written last, atomically: its presence means ready)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evkit.emulator.certs import write_private
from evkit.emulator.state import State
from evkit.emulator.wire import iso_z


def write_workdir_files(workdir: Path, state: State) -> None:
    """app-cert.pem, app-key.pem (encrypted PKCS#8) and collect.toml; ca.pem is written by the
    server when it makes its TLS context."""
    assert state.app is not None
    (workdir / "app-cert.pem").write_bytes(state.app.cert_pem)
    write_private(workdir / "app-key.pem", state.app.key_pem_encrypted)
    (workdir / "collect.toml").write_text(collect_toml(state), encoding="utf-8")


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string


def collect_toml(state: State) -> str:
    """A ready collection config for this tenant (docs/internals.md "collect.toml")."""
    assert state.app is not None
    sc = state.scenario
    base = state.base_url
    window = f"[{_toml_str(iso_z(sc.start))}, {_toml_str(iso_z(sc.end))}]"
    return f"""# Written by `evkit emulator` for its fake tenant. Secrets are named by environment variable:
#   EVKIT_CERT_PASSPHRASE = certificate.key_passphrase from connection.json
#   EVKIT_CLIENT_SECRET   = client_secret from connection.json (method = "secret")
[case]
id = {_toml_str(f"EMU-{sc.name.upper()}-{sc.seed}")}  # the case file's id (scenarios/build.py)
examiner = "examiner@firm.example"

[tenant]
id = {_toml_str(state.tenant_id)}
domain = {_toml_str(state.tenant_domain)}
cloud = "commercial"

[tenant.endpoints]
authority_host = {_toml_str(base + "/login")}
graph = {_toml_str(base + "/graph")}
manage = {_toml_str(base + "/manage")}
exchange = {_toml_str(base + "/exchange")}
ca_bundle = "ca.pem"

[auth]
method = "certificate"
client_id = {_toml_str(state.client_id)}
certificate = "app-cert.pem"
private_key = "app-key.pem"
thumbprint = {_toml_str(state.app.thumbprint_sha1)}
private_key_passphrase_env = "EVKIT_CERT_PASSPHRASE"
client_secret_env = "EVKIT_CLIENT_SECRET"
public_client_id = {_toml_str(state.public_client_id)}

[collection]
window = {window}
sources = ["ual", "mgmt", "graph", "config", "licences", "mailbox", "signins", "apps"]
operations = []
users = []

# [signing]
# key = "examiner.key"   # or pass --key; passphrase from EVKIT_PASSPHRASE
"""


def connection_info(workdir: Path, state: State, port: int) -> dict[str, Any]:
    assert state.app is not None
    sc = state.scenario
    base = state.base_url
    wd = workdir.resolve()
    return {
        "tenant_id": state.tenant_id, "tenant_domain": state.tenant_domain, "cloud": "emulator",
        "authority_host": base + "/login", "graph": base + "/graph", "manage": base + "/manage",
        "exchange": base + "/exchange", "ca_bundle": str(wd / "ca.pem"),
        "client_id": state.client_id, "public_client_id": state.public_client_id,
        "client_secret": state.client_secret,
        "certificate": {"cert_path": str(wd / "app-cert.pem"), "key_path": str(wd / "app-key.pem"),
                        "thumbprint": state.app.thumbprint_sha1, "key_passphrase": state.app.passphrase},
        "window": {"start": iso_z(sc.start), "end": iso_z(sc.end)}, "now": iso_z(state.now),
        "url": base, "port": port, "pid": os.getpid(), "scenario": sc.name, "seed": sc.seed,
        "faults": state.options.faults or "", "collect_toml": str(wd / "collect.toml"),
        "case_toml": str(wd / "case.toml"), "ground_truth": str(wd / "ground-truth.json"),
    }


def write_connection(workdir: Path, state: State, port: int) -> dict[str, Any]:
    """Atomically (temp + rename) so a watcher never reads half a file; readable by owner only
    because it holds the fake tenant's throw-away secret."""
    info = connection_info(workdir, state, port)
    tmp = workdir / ".connection.json.tmp"
    write_private(tmp, (json.dumps(info, indent=2) + "\n").encode())
    os.replace(tmp, workdir / "connection.json")
    return info
