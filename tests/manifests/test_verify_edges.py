"""verify on hostile bundles: traversal in manifests, symlinks, stray files, both algorithms."""

from __future__ import annotations

import os

from evkit.manifests.verify import verify_bundle

from manifests_helpers import make_bundle


def _pub(signing_key):
    return signing_key[0].with_name(signing_key[0].name + ".pub")


def _codes(result):
    return {f.code for f in result.findings}


def test_traversal_in_manifest_is_not_followed(tmp_path, signing_key, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    (tmp_path / "secret").write_bytes(b"outside")
    with open(bundle / "manifest-sha256.txt", "a") as handle:
        handle.write("0" * 64 + "  data/../../secret\n")
    result = verify_bundle(bundle, signer_key=_pub(signing_key))
    assert result.verdict == "invalid"
    assert {"unsafe-path", "tag-altered"} <= _codes(result)


def test_symlink_and_stray_envelope_files(tmp_path, signing_key, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    os.symlink("/etc/hostname", bundle / "data" / "imports" / "link")
    (bundle / "signatures" / "extra.sig").write_bytes(b"x")
    (bundle / "notes.txt").write_text("hello")
    result = verify_bundle(bundle, signer_key=_pub(signing_key))
    assert result.verdict == "invalid"
    extras = {f.path for f in result.findings if f.code == "extra"}
    assert {"data/imports/link", "signatures/extra.sig", "notes.txt"} <= extras


def test_both_algorithms_and_events_log(tmp_path, signing_key, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    result = verify_bundle(bundle, signer_key=_pub(signing_key), algorithms=("sha256", "sha512"), workers=3)
    assert result.verdict == "valid", [str(f) for f in result.findings]
    assert result.to_json()["algorithms"] == ["sha256", "sha512"]
    # a SHA-512 manifest that disagrees is caught when both are re-hashed (and by its tag hash)
    lines = (bundle / "manifest-sha512.txt").read_text().splitlines()
    lines[0] = "0" * 128 + lines[0][128:]
    (bundle / "manifest-sha512.txt").write_text("\n".join(lines) + "\n")
    both = verify_bundle(bundle, signer_key=_pub(signing_key), algorithms=("sha256", "sha512"))
    assert {"altered", "tag-altered"} <= _codes(both)


def test_unlistable_payload_folder_is_a_finding(tmp_path, signing_key, examiner_key, monkeypatch):
    """A folder verify cannot list is named, and its files count as missing (never skipped)."""
    import evkit.manifests.verify as verify_mod

    bundle = make_bundle(tmp_path / "b", examiner_key)
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("data/imports"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(verify_mod.os, "scandir", scandir)
    result = verify_bundle(bundle, signer_key=_pub(signing_key))
    assert result.verdict == "invalid"
    unreadable = [f for f in result.findings if f.code == "unreadable"]
    assert [f.path for f in unreadable] == ["data/imports"] and "Permission denied" in unreadable[0].message
    assert any(f.code == "missing" and f.path.startswith("data/imports/") for f in result.findings)


def test_a_bundle_hashed_on_one_worker_gives_the_same_result(tmp_path, signing_key, examiner_key):
    bundle = make_bundle(tmp_path / "b", examiner_key)
    (bundle / "data" / "imports" / "added.bin").write_bytes(b"x" * 300_000)
    one = verify_bundle(bundle, signer_key=_pub(signing_key), workers=1)
    many = verify_bundle(bundle, signer_key=_pub(signing_key), workers=4)
    assert [str(f) for f in one.findings] == [str(f) for f in many.findings]
    assert (one.verdict, one.payload_bytes, one.payload_files) == (many.verdict, many.payload_bytes,
                                                                   many.payload_files)


def test_a_renamed_file_is_named_when_only_the_second_manifest_is_left(tmp_path, signing_key, examiner_key):
    """The payload is judged against manifest-sha512 when manifest-sha256 is gone; a renamed
    file must be matched by its SHA-512, not reported as one missing and one extra file."""
    bundle = make_bundle(tmp_path / "b", examiner_key)
    (bundle / "manifest-sha256.txt").unlink()
    (bundle / "data" / "imports" / "a.csv").rename(bundle / "data" / "imports" / "b.csv")
    result = verify_bundle(bundle, signer_key=_pub(signing_key), algorithms=("sha256", "sha512"))
    assert result.verdict == "invalid"
    renamed = [f for f in result.findings if f.code == "renamed"]
    assert [(f.path, f.message) for f in renamed] == [
        ("data/imports/a.csv", "is missing, and its exact bytes are now at data/imports/b.csv")]
    assert not {f.path for f in result.findings if f.code in ("missing", "extra")} & {
        "data/imports/a.csv", "data/imports/b.csv"}
