"""`make dist`: reproducible artefacts, and a portable collector that runs on a bare Python.

The `.pyz` is copied into an empty folder and run with the base interpreter in isolated mode
(`-I -S`: no virtual environment, no site-packages, no user site, no PYTHON* variables) and a
near-empty environment, against the emulator: collect, verify with a trusted key, and resume
after kill -9.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_collect_emulator import make_config, raw_records

from evkit.emulator.testing import running_emulator

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"
MAX_PYZ_BYTES = 40 * 1024 * 1024


def build(out: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Path]:
    proc = subprocess.run([sys.executable, str(REPO / "release" / "build.py"), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600, env=env or dict(os.environ),
                          check=False)
    if proc.returncode != 0 and "Could not find a version" in proc.stderr + proc.stdout:
        pytest.skip("the package index cannot be reached to assemble the portable collector")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {path.name: path for path in out.iterdir()}


@pytest.fixture(scope="module")
def dist(tmp_path_factory, signing_key):
    key, passphrase, _ = signing_key
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, EVKIT_PASSPHRASE=passphrase, SOURCE_DATE_EPOCH="1764547200")
    return build(out, "--key", str(key), env=env)


def pyz_of(files: dict[str, Path]) -> Path:
    (pyz,) = [path for name, path in files.items() if name.endswith(".pyz")]
    return pyz


def test_make_dist_calls_the_build_script() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "release/build.py" in makefile.split("\ndist:", 1)[1].split("\n\n", 1)[0]


def test_dist_twice_gives_identical_bytes(dist, tmp_path) -> None:
    again = build(tmp_path / "again", env=dict(os.environ, SOURCE_DATE_EPOCH="1764547200"))
    for name, path in again.items():
        if name.endswith(".sshsig"):
            continue
        assert path.read_bytes() == dist[name].read_bytes(), name
    assert set(again) == set(dist) - {"SHA256SUMS.sshsig"}


def test_checksums_signature_and_sbom(dist, signing_key, tmp_path) -> None:
    key, _, _ = signing_key
    sums = dist["SHA256SUMS"]
    checked = subprocess.run(["sha256sum", "-c", "--quiet", sums.name], cwd=sums.parent,
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = {line.split()[1] for line in sums.read_text().splitlines()}
    assert listed == set(dist) - {"SHA256SUMS", "SHA256SUMS.sshsig"}
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("release@firm.example " + Path(f"{key}.pub").read_text().split(" ", 2)[0] + " "
                       + Path(f"{key}.pub").read_text().split(" ", 2)[1] + "\n")
    with sums.open("rb") as data:
        verified = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "release@firm.example",
                                   "-n", "evkit-release", "-s", str(dist["SHA256SUMS.sshsig"])],
                                  stdin=data, capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    (sbom_path,) = [p for n, p in dist.items() if n.endswith(".cdx.json")]
    sbom = json.loads(sbom_path.read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    names = {c["name"].lower() for c in sbom["components"]}
    assert {"msal", "requests", "cryptography", "tqdm", "docopt-ng", "cffi"} <= names
    assert not names & {"duckdb", "reportlab"}


def test_pyz_is_small(dist) -> None:
    assert pyz_of(dist).stat().st_size < MAX_PYZ_BYTES


def _bare(pyz: Path, *args: str, home: Path, env_extra: dict[str, str] | None = None,
          popen: bool = False):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8",
           "SHIV_ROOT": str(home / "shiv"), "PIP_NO_INDEX": "1", **(env_extra or {})}
    cmd = [str(BASE_PYTHON), "-I", "-S", str(pyz.name), *args]
    if popen:
        return subprocess.Popen(cmd, cwd=pyz.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, cwd=pyz.parent, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture()
def bare(dist, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    pyz = folder / pyz_of(dist).name
    shutil.copy2(pyz_of(dist), pyz)
    return pyz, tmp_path / "home"


def test_version_prints_the_artefacts_own_digest(bare, dist) -> None:
    pyz, home = bare
    proc = _bare(pyz, "--version", home=home)
    digest = hashlib.sha256(pyz.read_bytes()).hexdigest()
    assert proc.returncode == 0 and digest in proc.stdout and pyz.name in proc.stdout, proc.stderr
    assert f"{digest}  {pyz.name}" in dist["SHA256SUMS"].read_text()


def test_report_stage_is_refused_in_one_line(bare) -> None:
    pyz, home = bare
    proc = _bare(pyz, "report", "b", "--case", "c.toml", "--out", "o", home=home)
    assert proc.returncode == 2 and "portable collector" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_collect_verify_and_resume_after_kill_with_a_bare_python(bare, tmp_path, signing_key) -> None:
    pyz, home = bare
    key, passphrase, _ = signing_key
    out = tmp_path / "bundle"
    with running_emulator(tmp_path / "emu", scenario="bec-basic", seed=1, faults="slow=0.3:0.2") as emu:
        # not `signins`: a bare `python -I -S` takes no test clock, and on its own clock the 2023
        # scenario's sign-ins are long past the log's 30 days (a gap, exit 4)
        config = make_config(emu, sources=["ual", "mgmt", "graph", "config", "licences", "mailbox", "apps"])
        conn = emu.connection
        secrets = {"EVKIT_PASSPHRASE": passphrase, "EVKIT_CERT_PASSPHRASE": conn["certificate"]["key_passphrase"],
                   "EVKIT_CLIENT_SECRET": conn["client_secret"]}
        args = ("collect", "--config", str(config), "--out", str(out), "--key", str(key), "--quiet")
        first = _bare(pyz, *args, home=home, env_extra=secrets, popen=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "data" / "raw").rglob("*.meta.json"))) < 8:
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        assert first.returncode == -signal.SIGKILL and not (out / "bagit.txt").exists()
        resumed = _bare(pyz, *args, "--resume", home=home, env_extra=secrets)
        assert resumed.returncode == 0, resumed.stderr
        truth = json.loads((emu.workdir / "ground-truth.json").read_bytes())
    assert Counter(raw_records(out)["ual"].values()) == Counter(truth["logged"]["by_operation"])
    verified = _bare(pyz, "verify", str(out), "--signer-key", f"{key}.pub", home=home)
    assert verified.returncode == 0, verified.stdout + verified.stderr  # 0 is "valid" and nothing else
    host = json.loads((out / "data" / "collection.json").read_bytes())["host"]
    assert host["tool_sha256"] == hashlib.sha256(pyz.read_bytes()).hexdigest()
    assert host["tool_artefact"] == pyz.name
