"""A bundle made by `evkit import` passes the stock tools of VERIFY.md; every tampering case
fails both `evkit verify` (exit 1, finding named) and the matching stock-tool check."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from evkit.manifests.custody import append_custody
from evkit.manifests.keys import load_signing_key
from evkit.manifests.layout import allowed_signers_line
from evkit.manifests.verify import verify_bundle

import manifests_helpers as h
from manifests_helpers import make_bundle, passphrase_env

EXAMINER = "examiner@firm.example"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, signing_key, other_key_path, evkit_cli_module):
    """A sealed import bundle with custody 0001 (sealed), 0002 (transferred), 0003 (received by lawyer)."""
    key_path, passphrase, _ = signing_key
    work = tmp_path_factory.mktemp("import")
    (work / "Audit search 2023-06.csv").write_bytes(b"\xef\xbb\xbfRecordId,CreationDate\r\n1,2023-06-01\r\n")
    (work / "mgmt.json").write_bytes(b'[{"Id":"x"}]')
    (work / "big.bin").write_bytes(bytes(range(256)) * 4096)
    bundle = work / "IR-1_import"
    proc = evkit_cli_module("import", "--case", "IR-1", "--out", str(bundle), "--key", str(key_path),
                            "--provided-by", "Contoso IT", str(work / "Audit search 2023-06.csv"),
                            str(work / "mgmt.json"), str(work / "big.bin"), env=passphrase_env(passphrase))
    # The three files are in no audit format evkit reads: import seals them byte for byte and
    # exits 4 (sealed, with problems) so the examiner is told; the seal is what this module tests.
    assert proc.returncode == 4, proc.stderr
    assert (bundle / "tagmanifest-sha256.txt").is_file()
    assert "3 file(s) in no known format" in proc.stderr
    examiner = load_signing_key(key_path, passphrase)
    lawyer = load_signing_key(*other_key_path)
    append_custody(bundle, event="transferred", key=examiner, to="lawyer@counsel.example", note="courier")
    append_custody(bundle, event="received", key=lawyer, note="sealed envelope intact")
    trusted = work / "allowed_signers"
    trusted.write_text(allowed_signers_line(examiner.signer, examiner.openssh_line) + "\n"
                       + allowed_signers_line(lawyer.signer, lawyer.openssh_line) + "\n")
    lawyer_allowed = work / "lawyer_allowed_signers"
    lawyer_allowed.write_text(allowed_signers_line(lawyer.signer, lawyer.openssh_line) + "\n")
    return {"bundle": bundle, "trusted": trusted, "lawyer_allowed": lawyer_allowed,
            "examiner": examiner, "lawyer": lawyer, "pub": Path(f"{key_path}.pub")}


@pytest.fixture(scope="module")
def evkit_cli_module():
    import sys

    def run(*args, env=None, cwd=None):
        return subprocess.run([sys.executable, "-m", "evkit", *args], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=300, check=False)
    return run


@pytest.fixture
def bundle(pristine, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(pristine["bundle"], copy)
    return copy


def _codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_stock_tools_accept_the_imported_bundle(pristine):
    b = pristine["bundle"]
    assert h.stock_sha256_tag(b) and h.stock_sha256_payload(b) and h.stock_payload_set(b)
    assert h.stock_sshsig(b, EXAMINER)
    assert h.stock_openssl(b)
    assert h.stock_bagit(b)
    chain = h.stock_custody_chain(b)
    assert chain.count("chain OK") == 3 and "BROKEN" not in chain
    assert h.stock_sshsig(b, EXAMINER, sig="custody/0001.json.sshsig", data="custody/0001.json")
    assert h.stock_sshsig(b, "lawyer@counsel.example", allowed=pristine["lawyer_allowed"],
                          sig="custody/0003.json.sshsig", data="custody/0003.json")
    names = sorted(p.name for p in (b / "data" / "imports").iterdir())
    assert names == ["Audit_search_2023-06.csv", "Audit_search_2023-06.csv.meta.json",
                     "big.bin", "big.bin.meta.json", "mgmt.json", "mgmt.json.meta.json"]
    meta = json.loads((b / "data" / "imports" / "Audit_search_2023-06.csv.meta.json").read_bytes())
    assert meta["original_name"] == "Audit search 2023-06.csv" and meta["provided_by"] == "Contoso IT"
    assert meta["sha256"] == hashlib.sha256((b / "data" / "imports" / "Audit_search_2023-06.csv").read_bytes()).hexdigest()


def test_verify_md_linux_block_runs_clean(pristine, tmp_path):
    """The recipient's route: their own copy of the examiner's key, their own trust file (which
    already lists the lawyer), every custody record's signature checked against it."""
    trusted = tmp_path / "my_allowed_signers"
    shutil.copy(pristine["lawyer_allowed"], trusted)
    ok, output = h.verify_md_linux(pristine["bundle"], pristine["pub"], trusted)
    assert ok, output
    assert f'Good "evkit-evidence" signature for {EXAMINER}' in output
    for n in (1, 2, 3):
        assert f"custody/000{n}.json: chain OK" in output
    assert "custody/0003.json: signed by lawyer@counsel.example with a key you trust" in output
    assert pristine["examiner"].fingerprint in output          # ssh-keygen -lf of the recipient's key
    # run twice: the trust file is extended once, not on every run
    assert h.verify_md_linux(pristine["bundle"], pristine["pub"], trusted)[0]
    assert trusted.read_text().count("examiner@firm.example") == 1


def test_pristine_is_valid(pristine, evkit_cli_module):
    result = verify_bundle(pristine["bundle"], allowed_signers=pristine["trusted"])
    assert result.verdict == "valid", [str(f) for f in result.findings]
    assert [c["event"] for c in result.custody] == ["sealed", "transferred", "received"]
    proc = evkit_cli_module("verify", str(pristine["bundle"]), "--allowed-signers", str(pristine["trusted"]))
    assert proc.returncode == 0 and proc.stdout.startswith("valid: ")


def test_no_key_cannot_verify(pristine, evkit_cli_module):
    proc = evkit_cli_module("verify", str(pristine["bundle"]))
    assert proc.returncode == 3
    assert proc.stdout.startswith("cannot verify: ") and "--signer-key" in proc.stdout


def test_examiner_key_only_leaves_lawyer_record_unverifiable(pristine):
    result = verify_bundle(pristine["bundle"], signer_key=pristine["pub"])
    assert result.verdict == "cannot verify"
    assert _codes(result) == {"custody-untrusted"}


def test_wrong_key_is_invalid(pristine, evkit_cli_module):
    proc = evkit_cli_module("verify", str(pristine["bundle"]), "--allowed-signers", str(pristine["lawyer_allowed"]),
                            "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["verdict"] == "invalid" and "wrong-signer" in {f["code"] for f in out["findings"]}
    # stock: ssh-keygen with the wrong key's allowed_signers refuses
    assert not h.stock_sshsig(pristine["bundle"], EXAMINER, allowed=pristine["lawyer_allowed"])


# ------------------------------------------------------------------ tampering cases
def _flip_byte(b: Path) -> None:
    target = b / "data" / "imports" / "big.bin"
    data = bytearray(target.read_bytes())
    data[5000] ^= 1
    target.write_bytes(bytes(data))


def _add_file(b: Path) -> None:
    (b / "data" / "imports" / "planted.csv").write_bytes(b"fake,evidence\n")


def _remove_file(b: Path) -> None:
    (b / "data" / "imports" / "mgmt.json").unlink()


def _rename_file(b: Path) -> None:
    (b / "data" / "imports" / "mgmt.json").rename(b / "data" / "imports" / "mgmt2.json")


def _edit_bag_info(b: Path) -> None:
    info = b / "bag-info.txt"
    info.write_text(info.read_text().replace("External-Identifier: IR-1", "External-Identifier: IR-2"))


def _regenerate_manifests(b: Path) -> None:
    """Edit a data file, then rebuild every manifest so all hashes match again."""
    (b / "data" / "imports" / "mgmt.json").write_bytes(b'[{"Id":"forged"}]')
    for alg in ("sha256", "sha512"):
        lines = [f"{hashlib.new(alg, p.read_bytes()).hexdigest()}  {p.relative_to(b).as_posix()}\n"
                 for p in sorted((b / "data").rglob("*")) if p.is_file()]
        (b / f"manifest-{alg}.txt").write_text("".join(lines))
    for alg in ("sha256", "sha512"):
        names = [line.split("  ", 1)[1].strip() for line in (b / "tagmanifest-sha256.txt").read_text().splitlines()]
        (b / f"tagmanifest-{alg}.txt").write_text(
            "".join(f"{hashlib.new(alg, (b / n).read_bytes()).hexdigest()}  {n}\n" for n in names))


def _swap_signatures(b: Path, examiner_key, tmp: Path) -> None:
    other = make_bundle(tmp / "other", examiner_key)
    for name in ("tagmanifest-sha256.txt.sig", "tagmanifest-sha256.txt.sshsig"):
        shutil.copy(other / "signatures" / name, b / "signatures" / name)


def _edit_custody(b: Path) -> None:
    record = b / "custody" / "0002.json"
    record.write_bytes(record.read_bytes().replace(b"courier", b"by hand"))


def _remove_custody(b: Path) -> None:
    (b / "custody" / "0002.json").unlink()
    (b / "custody" / "0002.json.sshsig").unlink()


def _reorder_custody(b: Path) -> None:
    c = b / "custody"
    for suffix in ("", ".sshsig"):
        (c / f"0002.json{suffix}").rename(c / f"tmp{suffix}")
        (c / f"0003.json{suffix}").rename(c / f"0002.json{suffix}")
        (c / f"tmp{suffix}").rename(c / f"0003.json{suffix}")


def _resign_with_foreign_key(b: Path, other_key) -> None:
    """An attacker edits, regenerates, re-signs with their own key and replaces keys/."""
    from evkit.manifests.signing import sshsig_sign
    _regenerate_manifests(b)
    (b / "keys" / "signer.pub").write_text(other_key.openssh_line + "\n")
    (b / "keys" / "signer.pub.pem").write_bytes(other_key.public_pem)
    (b / "keys" / "allowed_signers").write_text(allowed_signers_line(EXAMINER, other_key.openssh_line) + "\n")
    _regenerate_tags_only(b)
    tag = (b / "tagmanifest-sha256.txt").read_bytes()
    (b / "signatures" / "tagmanifest-sha256.txt.sig").write_bytes(other_key.sign(tag))
    (b / "signatures" / "tagmanifest-sha256.txt.sshsig").write_text(sshsig_sign(other_key, tag))


def _regenerate_tags_only(b: Path) -> None:
    names = [line.split("  ", 1)[1].strip() for line in (b / "tagmanifest-sha256.txt").read_text().splitlines()]
    for alg in ("sha256", "sha512"):
        (b / f"tagmanifest-{alg}.txt").write_text(
            "".join(f"{hashlib.new(alg, (b / n).read_bytes()).hexdigest()}  {n}\n" for n in names))


def _stock_sig_fails(b: Path) -> bool:
    return not h.stock_sshsig(b, EXAMINER) and not h.stock_openssl(b)


CASES = {
    "byte-changed": (_flip_byte, "altered", lambda b: not h.stock_sha256_payload(b)),
    "file-added": (_add_file, "extra", lambda b: not h.stock_payload_set(b)),
    "file-removed": (_remove_file, "missing", lambda b: not h.stock_sha256_payload(b)),
    "file-renamed": (_rename_file, "renamed", lambda b: not h.stock_sha256_payload(b) and not h.stock_payload_set(b)),
    "bag-info-edited": (_edit_bag_info, "bag-info", lambda b: not h.stock_sha256_tag(b) and not h.stock_bagit(b)),
    "manifests-regenerated": (_regenerate_manifests, "bad-signature",
                              lambda b: h.stock_sha256_payload(b) and h.stock_sha256_tag(b) and _stock_sig_fails(b)),
    "custody-edited": (_edit_custody, "custody-signature",
                       lambda b: not h.stock_sshsig(b, EXAMINER, sig="custody/0002.json.sshsig", data="custody/0002.json")),
    "custody-removed": (_remove_custody, "custody-chain", lambda b: "chain BROKEN" in h.stock_custody_chain(b)),
    "custody-reordered": (_reorder_custody, "custody-chain", lambda b: "chain BROKEN" in h.stock_custody_chain(b)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_caught(case, bundle, pristine):
    tamper, code, stock_fails = CASES[case]
    tamper(bundle)
    result = verify_bundle(bundle, allowed_signers=pristine["trusted"])
    assert result.verdict == "invalid" and result.exit_status == 1
    assert code in _codes(result), [str(f) for f in result.findings]
    assert stock_fails(bundle), f"the stock-tool check did not catch {case}"


def test_swapped_signature_is_caught(bundle, pristine, tmp_path):
    _swap_signatures(bundle, pristine["examiner"], tmp_path)
    result = verify_bundle(bundle, allowed_signers=pristine["trusted"])
    assert result.verdict == "invalid" and "bad-signature" in _codes(result)
    assert _stock_sig_fails(bundle)


def test_foreign_resign_is_wrong_signer(bundle, pristine, other_key):
    _resign_with_foreign_key(bundle, other_key)
    with_key = verify_bundle(bundle, signer_key=pristine["pub"])
    assert with_key.verdict == "invalid" and "wrong-signer" in _codes(with_key)
    # without a key nothing can tell the forgery from the original: never "valid"
    assert verify_bundle(bundle).verdict != "valid"
    # stock: the in-bundle files agree with each other; only the published key exposes it
    examiner_allowed = bundle.parent / "examiner_allowed"
    examiner_allowed.write_text(allowed_signers_line(EXAMINER, pristine["examiner"].openssh_line) + "\n")
    assert not h.stock_sshsig(bundle, EXAMINER, allowed=examiner_allowed)


def test_missing_signature_and_unsealed_via_cli(bundle, pristine, evkit_cli_module):
    (bundle / "signatures" / "tagmanifest-sha256.txt.sshsig").unlink()
    (bundle / ".evkit-open").mkdir()   # open-state folder and no bagit.txt: never sealed
    (bundle / "bagit.txt").unlink()
    proc = evkit_cli_module("verify", str(bundle), "--allowed-signers", str(pristine["trusted"]))
    assert proc.returncode == 1 and proc.stdout.startswith("invalid: ")
    assert "missing-signature" in proc.stdout and "unsealed" in proc.stdout


def test_every_finding_is_listed(bundle, pristine, evkit_cli_module):
    _flip_byte(bundle)
    _add_file(bundle)
    _remove_custody(bundle)
    proc = evkit_cli_module("verify", str(bundle), "--signer-key", str(pristine["pub"]))
    assert proc.returncode == 1
    for code in ("altered:", "extra:", "custody-chain:"):
        assert code in proc.stdout


def test_unreadable_bundle_cannot_verify(tmp_path, pristine, evkit_cli_module):
    proc = evkit_cli_module("verify", str(tmp_path / "nope"), "--signer-key", str(pristine["pub"]))
    assert proc.returncode == 3 and proc.stdout.startswith("cannot verify")
    bad_key = evkit_cli_module("verify", str(pristine["bundle"]), "--signer-key", str(tmp_path / "nokey.pub"))
    assert bad_key.returncode == 2 and bad_key.stderr.count("\n") == 1
