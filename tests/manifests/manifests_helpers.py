"""Helpers for the manifests tests: stock-tool runners and a quick bundle builder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evkit.manifests.bundle import BundleWriter
from evkit.manifests.keys import SigningKey

NS = "evkit-evidence"


def sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell command line with bash (VERIFY.md uses bash process substitution)."""
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, check=False)


def stock_sha256_tag(bundle: Path) -> bool:
    return sh("sha256sum --quiet -c tagmanifest-sha256.txt", bundle).returncode == 0


def stock_sha256_payload(bundle: Path) -> bool:
    return sh("sha256sum --quiet -c manifest-sha256.txt", bundle).returncode == 0


def stock_payload_set(bundle: Path) -> bool:
    return sh('diff <(find data -type f | sort) <(cut -c67- manifest-sha256.txt | sort)', bundle).returncode == 0


def stock_sshsig(bundle: Path, signer: str, allowed: Path | None = None,
                 sig: str = "signatures/tagmanifest-sha256.txt.sshsig",
                 data: str = "tagmanifest-sha256.txt") -> bool:
    allowed = allowed or Path("keys/allowed_signers")
    proc = sh(f"ssh-keygen -Y verify -f {allowed} -I {signer} -n {NS} -s {sig} < {data}", bundle)
    return proc.returncode == 0


def stock_openssl(bundle: Path, pem: Path | None = None) -> bool:
    pem = pem or Path("keys/signer.pub.pem")
    proc = sh(f"openssl pkeyutl -verify -pubin -inkey {pem} -rawin -in tagmanifest-sha256.txt "
              "-sigfile signatures/tagmanifest-sha256.txt.sig", bundle)
    return proc.returncode == 0


def stock_bagit(bundle: Path) -> bool:
    proc = subprocess.run([sys.executable, "-m", "bagit", "--validate", "."], cwd=bundle,
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0


def stock_custody_chain(bundle: Path) -> str:
    """The custody loop of VERIFY.md (Linux), verbatim logic; returns its output."""
    script = r'''
prev=0000000000000000000000000000000000000000000000000000000000000000
tag=$(sha256sum < tagmanifest-sha256.txt | cut -c1-64)
for f in custody/[0-9][0-9][0-9][0-9].json; do
  grep -q "\"prev_record_sha256\":\"$prev\"" "$f" && grep -q "\"tagmanifest_sha256\":\"$tag\"" "$f" \
    && echo "$f: chain OK" || echo "$f: chain BROKEN"
  prev=$(sha256sum < "$f" | cut -c1-64)
done'''
    return sh(script, bundle).stdout


def make_bundle(root: Path, key: SigningKey, files: dict[str, bytes] | None = None) -> Path:
    """A small sealed bundle written through the library (fast path for unit tests)."""
    files = files if files is not None else {"imports/a.csv": b"a,b\n1,2\n", "raw/ual/u1/p000001.json": b"{}"}
    writer = BundleWriter.create(root, case_id="IR-TEST", collection_id="C-1")
    for rel, data in files.items():
        writer.write(rel, data)
        writer.log_event("wrote", file=rel)
    writer.seal(key, bag_info={"Source-Organization": "Test Firm"},
                collection={"schema": "evkit.collection/1", "kind": "import"})
    return root


def passphrase_env(passphrase: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EVKIT_PASSPHRASE"] = passphrase
    return env
