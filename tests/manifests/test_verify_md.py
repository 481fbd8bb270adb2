"""VERIFY.md's stock route trusts the recipient's own copy of the examiner's key, never the
bundle's keys/, checks every custody record's signature, and covers Linux, macOS and Windows."""

from __future__ import annotations

import re
import shutil

from evkit.manifests.verifydoc import KEY_PLACEHOLDER, TRUST_PLACEHOLDER, WINDOWS_KEY_PLACEHOLDER, render_verify_md

import manifests_helpers as h
from manifests_helpers import make_bundle

TEXT = render_verify_md(case_id="IR-1", collection_id="C-1", signer="examiner@firm.example",
                        fingerprint="SHA256:abc").decode()


def _block(title: str, fence: str) -> str:
    return re.search(rf"## {title}.*?```{fence}\n(.*?)```", TEXT, re.S).group(1)


def test_commands_never_trust_the_bundles_own_keys():
    linux, windows = _block("Linux", "sh"), _block("Windows", "powershell")
    for block in (linux, windows):
        commands = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#"))
        assert "keys/" not in commands and "keys\\" not in commands
    assert f"EXAMINER_KEY={KEY_PLACEHOLDER}" in linux and f"TRUSTED={TRUST_PLACEHOLDER}" in linux
    assert WINDOWS_KEY_PLACEHOLDER in windows
    assert 'ssh-keygen -lf "$EXAMINER_KEY"' in linux and "ssh-keygen -lf $ExaminerKey" in windows
    assert '-f "$TRUSTED"' in linux and '-f `"$Trusted`"' in windows


def test_every_custody_record_and_each_platform_is_covered():
    linux, windows = _block("Linux", "sh"), _block("Windows", "powershell")
    assert "sha256sum -c --quiet tagmanifest-sha256.txt" in linux
    assert "sha256sum -c --quiet manifest-sha256.txt" in linux
    assert "shasum -a 256 -c --quiet" in TEXT                   # macOS
    assert "Get-FileHash -Algorithm SHA256" in windows          # Windows
    # the signature check sits inside the loop over every record, not on record 0001 only
    loop = linux[linux.index("for f in custody/"):linux.index("done")]
    assert '-s "$f.sshsig" < "$f"' in loop
    assert "0001" not in linux and "0001" not in windows
    wloop = windows[windows.index("Get-ChildItem custody"):]
    assert "ssh-keygen -Y verify" in wloop and "$($_.Name).sshsig" in wloop


def test_a_bundle_re_signed_with_its_keys_replaced_fails_the_stock_route(tmp_path, examiner_key, signing_key):
    """With the old instructions (trusting keys/allowed_signers) this forgery printed "Good signature"."""
    from evkit.manifests.keys import SigningKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    attacker = SigningKey(signer="examiner@firm.example", public_key=private.public_key(), _private=private)
    bundle = make_bundle(tmp_path / "b", examiner_key)
    pub = signing_key[0].with_name(signing_key[0].name + ".pub")
    assert h.verify_md_linux(bundle, pub, tmp_path / "trusted")[0]
    (bundle / "data" / "imports" / "a.csv").write_bytes(b"a,b\n9,9\n")
    h.resign(bundle, attacker, replace_keys=True, bag_info_fingerprint=True)
    h.rechain_custody(bundle, attacker)
    assert h.stock_sshsig(bundle, "examiner@firm.example")      # the bundle's own copies agree with it
    ok, output = h.verify_md_linux(bundle, pub, tmp_path / "trusted")
    assert not ok and "Could not verify signature" in output and "NOT VERIFIED" in output
    shutil.rmtree(tmp_path / "b")
