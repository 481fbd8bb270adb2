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
    return _ssh_keygen_result(proc.returncode, proc.stderr)


def _ssh_keygen_result(returncode: int, stderr: str | bytes) -> bool:
    """`ssh-keygen -Y verify` exits 0 for a good signature and 255 when it refuses one; anything
    else (127 not installed, 1 usage error, a shell error) is a broken test, not a caught forgery."""
    assert returncode in (0, 255), f"ssh-keygen did not run properly (exit {returncode}): {stderr!r}"
    return returncode == 0


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


# Markers the Linux block of VERIFY.md prints: every success line must appear, no failure line.
VERIFY_MD_SUCCESS = ("no links or special files", "hashes OK", "payload set OK",
                     'Good "evkit-evidence" signature for ', "Signature Verified Successfully")
VERIFY_MD_FAILURE = ("LINK", "BROKEN", "NOT VERIFIED", "FAILED")


def verify_md_linux(bundle: Path, examiner_pub: Path, trusted: Path, timeout: int = 60) -> tuple[bool, str]:
    """Run the Linux block of the bundle's VERIFY.md as a recipient would: EXAMINER_KEY is the key
    file they hold (never the bundle's keys/), TRUSTED their own allowed_signers file (which may
    already list other custodians). Returns (every check passed, output). Like the document says,
    it stops after step 1 when that finds a link or special file. The script text comes from a
    pristine template, not from the bundle's own (possibly edited) VERIFY.md."""
    from evkit.manifests.verifydoc import KEY_PLACEHOLDER, TRUST_PLACEHOLDER, render_verify_md
    import re
    text = render_verify_md(case_id="x", collection_id="y", signer="examiner@firm.example",
                            fingerprint="z").decode()
    block = re.search(r"## Linux.*?```sh\n(.*?)```", text, re.S).group(1)
    block = "\n".join(line for line in block.splitlines() if "pip install" not in line)
    block = block.replace(f"EXAMINER_KEY={KEY_PLACEHOLDER}", f"EXAMINER_KEY='{examiner_pub}'")
    block = block.replace(f"TRUSTED={TRUST_PLACEHOLDER}", f"TRUSTED='{trusted}'")
    setup, rest = block.split("# 1.", 1)
    first, rest = rest.split("# 2.", 1)
    output = ""
    for part in (setup + "# 1." + first, setup + "# 2." + rest):
        try:
            proc = subprocess.run(["bash", "-c", part], cwd=bundle, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False, output + "\n(timed out)"
        output += proc.stdout + proc.stderr
        assert "command not found" not in output and "syntax error" not in output, output
        if "LINK" in output:
            return False, output
    ok = all(marker in output for marker in VERIFY_MD_SUCCESS) and not any(
        marker in output for marker in VERIFY_MD_FAILURE)
    return ok, output


def ssh_keygen_verify(bundle: Path, allowed: Path, identity: str,
                      sig: str = "signatures/tagmanifest-sha256.txt.sshsig",
                      data: str = "tagmanifest-sha256.txt") -> int:
    """The exit status of `ssh-keygen -Y verify` (0 good; 255 for any refusal)."""
    with open(bundle / data, "rb") as stdin:
        proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", identity,
                               "-n", NS, "-s", str(bundle / sig)], stdin=stdin, capture_output=True,
                              check=False)
    _ssh_keygen_result(proc.returncode, proc.stderr)
    return proc.returncode


def resign(bundle: Path, key: SigningKey, *, replace_keys: bool = False, signer_name: str | None = None,
           bag_info_fingerprint: bool = False) -> None:
    """What someone holding `key` does after editing a bundle: rebuild both payload manifests
    from data/ (regular files only), optionally replace keys/ with their own key (under
    signer_name or key.signer) and bag-info's fingerprint, rebuild the tag manifests, sign."""
    import hashlib
    from evkit.manifests.layout import allowed_signers_line
    from evkit.manifests.signing import sshsig_sign

    files = sorted(p for p in (bundle / "data").rglob("*") if p.is_file() and not p.is_symlink()) \
        if (bundle / "data").is_dir() and not (bundle / "data").is_symlink() else []
    for alg in ("sha256", "sha512"):
        lines = [f"{hashlib.new(alg, p.read_bytes()).hexdigest()}  {p.relative_to(bundle).as_posix()}\n"
                 for p in files]
        (bundle / f"manifest-{alg}.txt").write_text("".join(lines))
    if replace_keys:
        name = signer_name or key.signer
        (bundle / "keys").mkdir(exist_ok=True)
        (bundle / "keys" / "signer.pub").write_text(f"{' '.join(key.openssh_line.split()[:2])} {name}\n")
        (bundle / "keys" / "signer.pub.pem").write_bytes(key.public_pem)
        (bundle / "keys" / "allowed_signers").write_text(allowed_signers_line(name, key.openssh_line) + "\n")
    if bag_info_fingerprint and (bundle / "bag-info.txt").is_file():
        info = (bundle / "bag-info.txt").read_text().splitlines()
        info = [f"Evkit-Signer-Fingerprint: {key.fingerprint}" if line.startswith("Evkit-Signer-Fingerprint:")
                else f"Evkit-Signer: {signer_name or key.signer}" if line.startswith("Evkit-Signer:") else line
                for line in info]
        (bundle / "bag-info.txt").write_text("\n".join(info) + "\n")
    names = [n for n in ("VERIFY.md", "bag-info.txt", "bagit.txt", "keys/allowed_signers", "keys/signer.pub",
                         "keys/signer.pub.pem", "manifest-sha256.txt", "manifest-sha512.txt")
             if (bundle / n).is_file()]
    for alg in ("sha256", "sha512"):
        (bundle / f"tagmanifest-{alg}.txt").write_text(
            "".join(f"{hashlib.new(alg, (bundle / n).read_bytes()).hexdigest()}  {n}\n" for n in sorted(names)))
    tag = (bundle / "tagmanifest-sha256.txt").read_bytes()
    (bundle / "signatures").mkdir(exist_ok=True)
    (bundle / "signatures" / "tagmanifest-sha256.txt.sig").write_bytes(key.sign(tag))
    (bundle / "signatures" / "tagmanifest-sha256.txt.sshsig").write_text(sshsig_sign(key, tag))


def rechain_custody(bundle: Path, key: SigningKey) -> None:
    """Rewrite every custody record for the current tag manifest and re-sign it with key (an
    attacker who re-signed the bundle must also redo the chain, or it breaks)."""
    import hashlib
    import json
    from evkit.manifests.jsonio import canonical
    from evkit.manifests.signing import sshsig_sign

    tag = hashlib.sha256((bundle / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    prev = "0" * 64
    for path in sorted((bundle / "custody").glob("[0-9][0-9][0-9][0-9].json")):
        record = json.loads(path.read_bytes())
        record["actor"] = {"signer": record["actor"]["signer"], "fingerprint": key.fingerprint,
                           "public_key": key.openssh_line}
        record["prev_record_sha256"], record["tagmanifest_sha256"] = prev, tag
        data = canonical(record)
        path.write_bytes(data)
        Path(f"{path}.sshsig").write_text(sshsig_sign(key, data))
        prev = hashlib.sha256(data).hexdigest()
