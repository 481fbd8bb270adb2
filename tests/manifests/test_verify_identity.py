"""Who signed: the identity verify prints comes from the recipient's trust file, every statement of
identity inside the bundle must match the signing key, and allowed_signers lines count exactly as
`ssh-keygen -Y verify` counts them (checked against the real ssh-keygen)."""

from __future__ import annotations

import shutil

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evkit.manifests.custody import append_custody, build_record, write_record
from evkit.manifests.keys import SigningKey
from evkit.manifests.layout import allowed_signers_line
from evkit.manifests.verify import verify_bundle

import manifests_helpers as h
from manifests_helpers import make_bundle

EXAMINER = "examiner@firm.example"


def _codes(result) -> set[str]:
    return {f.code for f in result.findings}


def _key_part(key: SigningKey) -> str:
    return " ".join(key.openssh_line.split()[:2])


def _allowed(path, *lines: str):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def throwaway_key(signer: str) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(signer=signer, public_key=private.public_key(), _private=private)


@pytest.fixture
def both_trusted(tmp_path, examiner_key, other_key):
    return _allowed(tmp_path / "allowed", allowed_signers_line(EXAMINER, examiner_key.openssh_line),
                    allowed_signers_line(other_key.signer, other_key.openssh_line))


def test_resigned_by_another_trusted_key_while_naming_the_examiner_is_invalid(
        tmp_path, examiner_key, other_key, both_trusted):
    """The reported case: trust file holds A and B; B edits the evidence and re-signs (custody
    chain redone too) while bag-info and keys/ still name A. Before, this was "valid ... signed
    by examiner@firm.example" with B's fingerprint."""
    bundle = make_bundle(tmp_path / "b", examiner_key)
    (bundle / "data" / "imports" / "a.csv").write_bytes(b"a,b\n1,3\n")
    h.resign(bundle, other_key)
    h.rechain_custody(bundle, other_key)
    result = verify_bundle(bundle, allowed_signers=both_trusted)
    assert result.verdict == "invalid", [str(f) for f in result.findings]
    mismatch = [f for f in result.findings if f.code == "signer-mismatch"]
    assert {f.path for f in mismatch} >= {"bag-info.txt", "keys/signer.pub", "keys/signer.pub.pem",
                                          "keys/allowed_signers", "signatures/tagmanifest-sha256.txt.sshsig"}
    assert result.signer != EXAMINER and other_key.fingerprint in " ".join(f.message for f in mismatch)
    assert "custody-actor" in _codes(result)
    # ssh-keygen, asked the same question (is this A's signature?), refuses too
    assert h.ssh_keygen_verify(bundle, both_trusted, EXAMINER) == 255


def test_a_trusted_key_that_says_who_it_is_verifies_under_its_own_name(tmp_path, examiner_key, other_key,
                                                                      both_trusted):
    bundle = make_bundle(tmp_path / "b", other_key)
    result = verify_bundle(bundle, allowed_signers=both_trusted)
    assert result.verdict == "valid", [str(f) for f in result.findings]
    assert (result.signer, result.signer_fingerprint) == (other_key.signer, other_key.fingerprint)
    assert f"signed by {other_key.signer} {other_key.fingerprint}" in result.summary()
    assert result.custody[0]["principal"] == other_key.signer and result.custody[0]["trusted"]


def test_bag_info_fingerprint_must_be_the_signing_key(tmp_path, examiner_key, signing_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    info = bundle / "bag-info.txt"
    info.write_text(info.read_text().replace(examiner_key.fingerprint, "SHA256:" + "A" * 43))
    h.resign(bundle, examiner_key)
    h.rechain_custody(bundle, examiner_key)
    result = verify_bundle(bundle, signer_key=signing_key[0].with_name(signing_key[0].name + ".pub"))
    assert result.verdict == "invalid"
    assert [f.path for f in result.findings if f.code == "signer-mismatch"] == ["bag-info.txt"]


def test_signer_key_comment_is_the_identity(tmp_path, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    pub = tmp_path / "examiner.pub"
    pub.write_text(f"{_key_part(examiner_key)} {EXAMINER}\n")
    good = verify_bundle(bundle, signer_key=pub)
    assert good.verdict == "valid" and good.signer == EXAMINER
    pub.write_text(f"{_key_part(examiner_key)} someone.else@firm.example\n")
    other = verify_bundle(bundle, signer_key=pub)
    assert other.verdict == "invalid" and "signer-mismatch" in _codes(other)
    pem = tmp_path / "examiner.pub.pem"
    pem.write_bytes(examiner_key.public_pem)
    unnamed = verify_bundle(bundle, signer_key=pem)
    assert unnamed.verdict == "valid" and unnamed.signer is None
    assert "names no principal" in unnamed.summary()


# (allowed_signers line options, evkit verdict); ssh-keygen must exit 0 exactly when evkit says valid
OPTION_CASES = {
    "namespace-ours": (f'{EXAMINER} namespaces="evkit-evidence"', "valid"),
    "namespace-pattern": (f'{EXAMINER} namespaces="git,evkit-*"', "valid"),
    "namespace-other": (f'{EXAMINER} namespaces="git,file"', "cannot verify"),
    "namespace-negated": (f'{EXAMINER} namespaces="*,!evkit-evidence"', "cannot verify"),
    "expired": (f'{EXAMINER} valid-before="20200101Z"', "cannot verify"),
    "not-yet-valid": (f'{EXAMINER} valid-after="29990101Z"', "cannot verify"),
    "inside-window": (f'{EXAMINER} valid-after="20200101",valid-before="299901010000Z"', "valid"),
    "cert-authority": (f"{EXAMINER} cert-authority", "cannot verify"),
    "unknown-option": (f"{EXAMINER} no-touch-required", "cannot verify"),
    "bad-time": (f'{EXAMINER} valid-after="yesterday"', "cannot verify"),
    "wildcard-principal": ("*@firm.example", "valid"),
    "question-mark": ("examiner@firm.exampl?", "valid"),
    "negated-principal": (f"!{EXAMINER},*@firm.example", "invalid"),
    "other-principal": ("lawyer@counsel.example", "invalid"),
    "case-differs": ("Examiner@Firm.example", "invalid"),
    "several-principals": (f"boss@firm.example,{EXAMINER}", "valid"),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_allowed_signers_lines_count_as_ssh_keygen_counts_them(case, tmp_path, examiner_key):
    prefix, expected = OPTION_CASES[case]
    bundle = make_bundle(tmp_path / "b", examiner_key)
    allowed = _allowed(tmp_path / "allowed", f"{prefix} {_key_part(examiner_key)}")
    result = verify_bundle(bundle, allowed_signers=allowed)
    assert result.verdict == expected, [str(f) for f in result.findings]
    assert (h.ssh_keygen_verify(bundle, allowed, EXAMINER) == 0) == (expected == "valid")
    if expected == "valid":
        assert result.signer == EXAMINER


def test_a_later_line_can_trust_what_an_earlier_one_restricts(tmp_path, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    allowed = _allowed(tmp_path / "allowed", f'{EXAMINER} namespaces="git" {_key_part(examiner_key)}',
                       f"{EXAMINER} {_key_part(examiner_key)}")
    assert verify_bundle(bundle, allowed_signers=allowed).verdict == "valid"
    assert h.ssh_keygen_verify(bundle, allowed, EXAMINER) == 0


# ------------------------------------------------------------------ custody attribution
@pytest.fixture
def custody_bundle(tmp_path, examiner_key, other_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    append_custody(bundle, event="transferred", key=examiner_key, to=other_key.signer)
    append_custody(bundle, event="received", key=other_key, note="intact")
    return bundle


def test_custody_records_are_attributed_to_the_trusted_principal(custody_bundle, both_trusted, other_key):
    result = verify_bundle(custody_bundle, allowed_signers=both_trusted)
    assert result.verdict == "valid", [str(f) for f in result.findings]
    assert [(c["principal"], c["trusted"]) for c in result.custody] == [
        (EXAMINER, True), (EXAMINER, True), (other_key.signer, True)]
    assert result.custody[2]["signature_fingerprint"] == other_key.fingerprint


def test_a_record_signed_by_b_claiming_actor_a_is_invalid(custody_bundle, both_trusted, examiner_key, other_key):
    """The reported case: B signs a record whose actor says A ("transferred to Mallory")."""
    import hashlib
    prev = hashlib.sha256((custody_bundle / "custody" / "0003.json").read_bytes()).hexdigest()
    tag = hashlib.sha256((custody_bundle / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    record = build_record(seq=4, event="transferred", key=other_key, prev_sha256=prev,
                          tagmanifest_sha256=tag, to="Mallory")
    record["actor"]["signer"], record["actor"]["fingerprint"] = EXAMINER, examiner_key.fingerprint
    write_record(custody_bundle, record, other_key)
    result = verify_bundle(custody_bundle, allowed_signers=both_trusted)
    assert result.verdict == "invalid"
    actor = [f for f in result.findings if f.code == "custody-actor"]
    assert {f.path for f in actor} == {"custody/0004.json"}
    assert result.custody[3]["principal"] is None and not result.custody[3]["trusted"]
    # ssh-keygen agrees: the record is not A's signature
    assert h.ssh_keygen_verify(custody_bundle, both_trusted, EXAMINER, sig="custody/0004.json.sshsig",
                               data="custody/0004.json") == 255


def test_a_record_signed_by_an_untrusted_key_is_not_valid(custody_bundle, both_trusted):
    stranger = throwaway_key("stranger@elsewhere.example")
    append_custody(custody_bundle, event="note", key=stranger, note="hello")
    result = verify_bundle(custody_bundle, allowed_signers=both_trusted)
    assert result.verdict == "cannot verify"
    assert _codes(result) == {"custody-untrusted"}
    assert not result.custody[3]["trusted"]


def test_identity_copies_without_a_trusted_key_still_have_to_agree(tmp_path, examiner_key, other_key):
    """No key given: never valid, but a bundle whose own copies contradict its signature is invalid."""
    bundle = make_bundle(tmp_path / "b", examiner_key)
    shutil.copy(bundle / "keys" / "signer.pub", tmp_path / "orig.pub")
    h.resign(bundle, other_key)
    h.rechain_custody(bundle, other_key)
    result = verify_bundle(bundle)
    assert result.verdict == "invalid" and "signer-mismatch" in _codes(result)


@pytest.mark.parametrize("first_line, expected", [
    ("someone@else.example no-such-option {other}", "valid"),
    (f"{EXAMINER} no-such-option {{other}}", "valid"),
    (f"{EXAMINER} no-such-option {{examiner}}", "valid"),
])
def test_an_unparsable_line_is_skipped_like_ssh_keygen_skips_it(first_line, expected, tmp_path,
                                                                   examiner_key, other_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    allowed = _allowed(tmp_path / "allowed", first_line.format(other=_key_part(other_key), examiner=_key_part(examiner_key)),
                       f"{EXAMINER} {_key_part(examiner_key)}")
    assert verify_bundle(bundle, allowed_signers=allowed).verdict == expected
    assert (h.ssh_keygen_verify(bundle, allowed, EXAMINER) == 0) == (expected == "valid")
