"""Property: whatever is changed in a sealed bundle (byte flips, files added, removed, renamed,
symlinks, custody edits), and however the result is re-signed by a key the recipient does not
trust, `evkit verify` with the recipient's key never says "valid". Random with a fixed seed and a
bounded number of cases, so it runs in seconds and fails the same way every time."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evkit.manifests.custody import append_custody
from evkit.manifests.keys import SigningKey
from evkit.manifests.verify import verify_bundle

import manifests_helpers as h
from manifests_helpers import make_bundle

SEED, CASES = 20261203, 40


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, examiner_key):
    bundle = make_bundle(tmp_path_factory.mktemp("property") / "pristine", examiner_key, {
        "imports/a.csv": b"a,b\n1,2\n", "imports/b.json": b'[{"Id":"x"}]',
        "raw/ual/u1/p000001.json": b'{"value":[1,2,3]}', "raw/ual/u2/p000001.json": b"{}"})
    append_custody(bundle, event="transferred", key=examiner_key, to="lawyer@counsel.example")
    return bundle


def _files(bundle: Path, under: str) -> list[Path]:
    return sorted(p for p in (bundle / under).rglob("*") if p.is_file() and not p.is_symlink())


def _flip(rng, bundle):
    target = rng.choice(_files(bundle, "data") + [bundle / "bag-info.txt", bundle / "manifest-sha256.txt"])
    data = bytearray(target.read_bytes())
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    target.write_bytes(bytes(data))


def _add(rng, bundle):
    folder = rng.choice(["data/imports", "data/raw/ual/u1", "data"])
    (bundle / folder / f"added{rng.randrange(1000)}.json").write_bytes(rng.randbytes(rng.randrange(1, 64)))


def _remove(rng, bundle):
    rng.choice(_files(bundle, "data")).unlink()


def _rename(rng, bundle):
    source = rng.choice(_files(bundle, "data"))
    source.rename(source.with_name(source.name + ".renamed"))


def _symlink(rng, bundle):
    target = rng.choice(_files(bundle, "data"))
    outside = bundle.parent / f"outside-{rng.randrange(10**6)}"
    shutil.copy(target, outside)
    target.unlink()
    os.symlink(outside, target)


def _custody(rng, bundle):
    path = bundle / "custody" / rng.choice(["0001.json", "0002.json"])
    record = json.loads(path.read_bytes())
    record[rng.choice(["note", "to", "time_utc"])] = f"edited {rng.randrange(100)}"
    path.write_bytes(json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n")


EDITS = (_flip, _add, _remove, _rename, _symlink, _custody)


def _untrusted(rng) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    name = rng.choice(["examiner@firm.example", "attacker@evil.example"])
    return SigningKey(signer=name, public_key=private.public_key(), _private=private)


@pytest.fixture(scope="module")
def recipient_trust(tmp_path_factory, examiner_key, other_key):
    """The recipient trusts the examiner and the lawyer, each under their own name."""
    from evkit.manifests.layout import allowed_signers_line
    path = tmp_path_factory.mktemp("trust") / "allowed_signers"
    path.write_text(allowed_signers_line(examiner_key.signer, examiner_key.openssh_line) + "\n"
                    + allowed_signers_line(other_key.signer, other_key.openssh_line) + "\n")
    return path


def test_random_edits_resigned_by_an_untrusted_key_are_never_valid(sealed, tmp_path, recipient_trust, other_key):
    """The re-signing key is either a stranger's or the lawyer's: trusted, but only as the lawyer,
    so re-signing while the bundle still names the examiner must not pass either."""
    rng = random.Random(SEED)
    seen = set()
    for case in range(CASES):
        bundle = tmp_path / f"case{case}"
        shutil.copytree(sealed, bundle, symlinks=True)
        edits = [rng.choice(EDITS) for _ in range(rng.randrange(0, 4))]
        for edit in edits:
            edit(rng, bundle)
        attacker = _untrusted(rng) if rng.random() < 0.5 else other_key
        h.resign(bundle, attacker, replace_keys=rng.random() < 0.7, signer_name="examiner@firm.example",
                 bag_info_fingerprint=rng.random() < 0.7)
        if rng.random() < 0.7:
            h.rechain_custody(bundle, attacker)
        result = verify_bundle(bundle, allowed_signers=recipient_trust)
        assert result.verdict != "valid", (case, [e.__name__ for e in edits])
        seen.update(e.__name__ for e in edits)
        shutil.rmtree(bundle)
    assert seen == {e.__name__ for e in EDITS}   # every kind of edit was exercised


def test_random_edits_without_resigning_are_never_valid(sealed, tmp_path, signing_key):
    rng = random.Random(SEED + 1)
    trusted_pub = Path(f"{signing_key[0]}.pub")
    for case in range(CASES // 2):
        bundle = tmp_path / f"case{case}"
        shutil.copytree(sealed, bundle, symlinks=True)
        edits = [rng.choice(EDITS) for _ in range(rng.randrange(1, 4))]
        for edit in edits:
            edit(rng, bundle)
        assert verify_bundle(bundle, signer_key=trusted_pub).verdict == "invalid", (case, edits)
        shutil.rmtree(bundle)
