"""Every tampering case, judged twice: by `evkit verify` and by the stock-tool steps of VERIFY.md,
both trusting only what the recipient holds (the examiner's key file received out of band and
their own allowed_signers with the lawyer), never the bundle's own keys/. Both must refuse each
case, including bundles re-signed by an attacker who replaced every key copy inside."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evkit.manifests.custody import append_custody, build_record, write_record
from evkit.manifests.keys import SigningKey
from evkit.manifests.layout import allowed_signers_line
from evkit.manifests.verify import verify_bundle

import manifests_helpers as h
from manifests_helpers import make_bundle

EXAMINER = "examiner@firm.example"


def _attacker(name: str = EXAMINER) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(signer=name, public_key=private.public_key(), _private=private)


@pytest.fixture(scope="module")
def world(tmp_path_factory, examiner_key, other_key, signing_key):
    work = tmp_path_factory.mktemp("side-by-side")
    bundle = make_bundle(work / "pristine", examiner_key, {
        "imports/a.csv": b"a,b\n1,2\n", "imports/b.json": b'[{"Id":"x"}]',
        "raw/ual/u1/p000001.json": b'{"value":[]}', "raw/ual/u1/p000002.json": bytes(range(256)) * 64})
    append_custody(bundle, event="transferred", key=examiner_key, to=other_key.signer, note="courier")
    append_custody(bundle, event="received", key=other_key, note="sealed envelope intact")
    evkit_trust = work / "evkit_allowed_signers"
    evkit_trust.write_text(allowed_signers_line(EXAMINER, examiner_key.openssh_line) + "\n"
                           + allowed_signers_line(other_key.signer, other_key.openssh_line) + "\n")
    return {"bundle": bundle, "evkit_trust": evkit_trust, "examiner": examiner_key, "lawyer": other_key,
            "pub": Path(f"{signing_key[0]}.pub")}


def _stock(world, bundle: Path, tmp: Path) -> tuple[bool, str]:
    trusted = tmp / "recipient_allowed_signers"
    trusted.write_text(allowed_signers_line(world["lawyer"].signer, world["lawyer"].openssh_line) + "\n")
    return h.verify_md_linux(bundle, world["pub"], trusted)


def _flip_byte(b, w):
    target = b / "data" / "raw" / "ual" / "u1" / "p000002.json"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))


def _add(b, w):
    (b / "data" / "imports" / "planted.csv").write_bytes(b"fake\n")


def _remove(b, w):
    (b / "data" / "imports" / "b.json").unlink()


def _rename(b, w):
    (b / "data" / "imports" / "b.json").rename(b / "data" / "imports" / "c.json")


def _bag_info(b, w):
    info = b / "bag-info.txt"
    info.write_text(info.read_text().replace("IR-TEST", "IR-OTHER"))


def _regenerate_unsigned(b, w):
    """Edit, rebuild every manifest, keep the old signatures."""
    (b / "data" / "imports" / "b.json").write_bytes(b'[{"Id":"forged"}]')
    sigs = {n: (b / "signatures" / n).read_bytes() for n in os.listdir(b / "signatures")}
    h.resign(b, w["examiner"])
    for name, data in sigs.items():
        (b / "signatures" / name).write_bytes(data)


def _attacker_resign_everything(b, w):
    """Edit, re-sign with the attacker's key under the examiner's name, replace keys/ and
    bag-info's fingerprint, redo the custody chain: every in-bundle copy agrees."""
    attacker = _attacker()
    (b / "data" / "imports" / "b.json").write_bytes(b'[{"Id":"forged"}]')
    h.resign(b, attacker, replace_keys=True, bag_info_fingerprint=True)
    h.rechain_custody(b, attacker)


def _attacker_resign_only(b, w):
    attacker = _attacker()
    (b / "data" / "imports" / "a.csv").unlink()
    h.resign(b, attacker)
    h.rechain_custody(b, attacker)


def _trusted_lawyer_resigns_as_examiner(b, w):
    (b / "data" / "imports" / "b.json").write_bytes(b"[]")
    h.resign(b, w["lawyer"], replace_keys=True, signer_name=EXAMINER, bag_info_fingerprint=True)
    h.rechain_custody(b, w["lawyer"])


def _custody_claims_examiner(b, w):
    lawyer = w["lawyer"]
    prev = hashlib.sha256((b / "custody" / "0003.json").read_bytes()).hexdigest()
    tag = hashlib.sha256((b / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    record = build_record(seq=4, event="transferred", key=lawyer, prev_sha256=prev, tagmanifest_sha256=tag,
                          to="Mallory")
    record["actor"]["signer"], record["actor"]["fingerprint"] = EXAMINER, w["examiner"].fingerprint
    write_record(b, record, lawyer)


def _custody_by_stranger(b, w):
    append_custody(b, event="note", key=_attacker("stranger@elsewhere.example"), note="all fine")


def _custody_edited(b, w):
    record = b / "custody" / "0002.json"
    record.write_bytes(record.read_bytes().replace(b"courier", b"by hand"))


def _custody_removed(b, w):
    (b / "custody" / "0002.json").unlink()
    (b / "custody" / "0002.json.sshsig").unlink()


def _custody_reordered(b, w):
    c = b / "custody"
    for suffix in ("", ".sshsig"):
        (c / f"0002.json{suffix}").rename(c / f"tmp{suffix}")
        (c / f"0003.json{suffix}").rename(c / f"0002.json{suffix}")
        (c / f"tmp{suffix}").rename(c / f"0003.json{suffix}")


def _signature_swapped(b, w):
    other = make_bundle(b.parent / "other", w["examiner"], {"imports/z.csv": b"z\n"})
    for name in ("tagmanifest-sha256.txt.sig", "tagmanifest-sha256.txt.sshsig"):
        shutil.copy(other / "signatures" / name, b / "signatures" / name)


def _data_symlinked(b, w):
    shutil.copytree(b / "data", b.parent / "outside-data")
    shutil.rmtree(b / "data")
    os.symlink(b.parent / "outside-data", b / "data")


def _bag_info_symlinked(b, w):
    shutil.copy(b / "bag-info.txt", b.parent / "outside-bag-info.txt")
    (b / "bag-info.txt").unlink()
    os.symlink(b.parent / "outside-bag-info.txt", b / "bag-info.txt")


def _payload_symlink(b, w):
    os.symlink("/etc/hostname", b / "data" / "imports" / "hostname")


def _keys_replaced(b, w):
    attacker = _attacker()
    (b / "keys" / "signer.pub").write_text(attacker.openssh_line + "\n")


CASES = {
    "byte-changed": (_flip_byte, "altered"),
    "file-added": (_add, "extra"),
    "file-removed": (_remove, "missing"),
    "file-renamed": (_rename, "renamed"),
    "bag-info-edited": (_bag_info, "bag-info"),
    "manifests-regenerated": (_regenerate_unsigned, "bad-signature"),
    "attacker-resigned-all-copies": (_attacker_resign_everything, "wrong-signer"),
    "attacker-resigned-signature-only": (_attacker_resign_only, "wrong-signer"),
    "trusted-lawyer-resigned-as-examiner": (_trusted_lawyer_resigns_as_examiner, "signer-mismatch"),
    "custody-claims-examiner": (_custody_claims_examiner, "custody-actor"),
    "custody-by-stranger": (_custody_by_stranger, "custody-untrusted"),
    "custody-edited": (_custody_edited, "custody-signature"),
    "custody-removed": (_custody_removed, "custody-chain"),
    "custody-reordered": (_custody_reordered, "custody-chain"),
    "signature-swapped": (_signature_swapped, "bad-signature"),
    "data-symlinked": (_data_symlinked, "symlink"),
    "bag-info-symlinked": (_bag_info_symlinked, "symlink"),
    "payload-symlink": (_payload_symlink, "extra"),
    "keys-copy-replaced": (_keys_replaced, "tag-altered"),
}


def test_the_pristine_bundle_passes_both(world, tmp_path):
    result = verify_bundle(world["bundle"], allowed_signers=world["evkit_trust"])
    assert result.verdict == "valid", [str(f) for f in result.findings]
    ok, output = _stock(world, world["bundle"], tmp_path)
    assert ok, output


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_routes_refuse(case, world, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(world["bundle"], bundle)
    tamper, code = CASES[case]
    tamper(bundle, world)
    result = verify_bundle(bundle, allowed_signers=world["evkit_trust"])
    assert result.verdict != "valid"
    assert code in {f.code for f in result.findings}, [str(f) for f in result.findings]
    if code != "custody-untrusted":
        assert result.verdict == "invalid", [str(f) for f in result.findings]
    ok, output = _stock(world, bundle, tmp_path)
    assert not ok, f"the stock-tool steps accepted {case}:\n{output}"
    json.dumps(result.to_json())
