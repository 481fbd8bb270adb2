"""Chain-of-custody records appended after sealing: custody/NNNN.json + NNNN.json.sshsig.

Each record is canonical JSON carrying the SHA-256 of the previous record file's bytes (64
zeros for 0001) and of tagmanifest-sha256.txt, and is signed (SSHSIG, namespace
evkit-evidence) by whoever makes it. Records live outside the signed tag-manifest set, so
they can be appended without touching signed bytes; the chain makes edits, removals and
reordering visible (removing only the newest record is not detectable: nothing anchors the
head, which is why a recipient's own "received" record matters).

Where a new custodian's key goes: into the record itself (`actor.public_key`), never into
keys/ (covered by the signed tag manifest). The record's signature is checked against that
key, and whether the key is *trusted* is the verifier's call (--allowed-signers).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evkit.manifests.errors import CustodyError
from evkit.manifests.jsonio import canonical
from evkit.manifests.keys import SigningKey
from evkit.manifests.layout import CUSTODY_DIR, CUSTODY_RECORD_RE, TAGMANIFESTS, ZERO_SHA256, utc_now
from evkit.manifests.sealstate import SealState, seal_state
from evkit.manifests.signing import sshsig_sign

EVENTS = ("sealed", "transferred", "received", "verified", "report-generated", "note", "export-generated")
RECORD_RE = CUSTODY_RECORD_RE
SCHEMA = "evkit.custody/1"


def record_files(root: Path) -> list[tuple[int, Path]]:
    """(seq, path) of every custody/NNNN.json, sorted by seq."""
    folder = Path(root) / CUSTODY_DIR
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = RECORD_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


def build_record(*, seq: int, event: str, key: SigningKey, prev_sha256: str, tagmanifest_sha256: str,
                 to: str | None = None, from_: str | None = None, note: str | None = None,
                 details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The record dict (see module docstring); validates the event name."""
    if event not in EVENTS:
        raise CustodyError(f"unknown custody event {event!r}; use one of: {', '.join(EVENTS)}")
    return {
        "schema": SCHEMA, "seq": seq, "event": event, "time_utc": utc_now(),
        "actor": {"signer": key.signer, "fingerprint": key.fingerprint,
                  "public_key": key.openssh_line},
        "from": from_, "to": to, "note": note,
        "prev_record_sha256": prev_sha256, "tagmanifest_sha256": tagmanifest_sha256,
        "details": dict(details or {}),
    }


def write_record(root: Path, record: dict[str, Any], key: SigningKey) -> Path:
    """Write custody/NNNN.json (never overwriting) and its .sshsig; return the record path."""
    folder = Path(root) / CUSTODY_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{record['seq']:04d}.json"
    data = canonical(record)
    signature = sshsig_sign(key, data).encode("ascii")
    sig_path = folder / f"{path.name}.sshsig"
    tmp_sig = folder / f".{path.name}.sshsig.tmp"
    tmp_rec = folder / f".{path.name}.tmp"
    for tmp, payload in ((tmp_sig, signature), (tmp_rec, data)):
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp_sig, sig_path)
    try:
        os.link(tmp_rec, path)   # fails if another custodian wrote this seq meanwhile
    except FileExistsError:
        raise CustodyError(f"{path} appeared while writing; run the command again") from None
    finally:
        os.unlink(tmp_rec)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def append_custody(root: Path, *, event: str, key: SigningKey, to: str | None = None,
                   note: str | None = None, details: Mapping[str, Any] | None = None,
                   from_: str | None = None) -> Path:
    """Append the next custody record to a sealed bundle; return its path.

    `from_` defaults to the actor for "transferred". Refuses unsealed bundles and broken
    sequences (run `evkit verify` to see why).
    """
    root = Path(root)
    if event == "sealed":
        raise CustodyError("the 'sealed' record is written by sealing, not appended")
    if seal_state(root) is not SealState.SEALED or not (root / TAGMANIFESTS[0]).is_file():
        raise CustodyError(f"{root} is not a sealed evidence bundle")
    records = record_files(root)
    if not records:
        raise CustodyError(f"{root} has no custody/0001.json; run `evkit verify` on it")
    seqs = [seq for seq, _ in records]
    if seqs != list(range(1, len(seqs) + 1)):
        raise CustodyError(f"custody records in {root} are not numbered 1..{len(seqs)}; "
                           "run `evkit verify` to see the broken chain")
    try:
        prev = hashlib.sha256(records[-1][1].read_bytes()).hexdigest()
        tag = hashlib.sha256((root / TAGMANIFESTS[0]).read_bytes()).hexdigest()
    except OSError as exc:
        raise CustodyError(f"cannot read {exc.filename}: {exc.strerror}") from None
    if from_ is None and event == "transferred":
        from_ = key.signer
    record = build_record(seq=len(records) + 1, event=event, key=key, prev_sha256=prev,
                          tagmanifest_sha256=tag, to=to, from_=from_, note=note, details=details)
    return write_record(root, record, key)


def first_record(root: Path, key: SigningKey, tagmanifest_sha256: str, details: Mapping[str, Any]) -> Path:
    """custody/0001.json, event "sealed"; called by BundleWriter.seal only."""
    record = build_record(seq=1, event="sealed", key=key, prev_sha256=ZERO_SHA256,
                          tagmanifest_sha256=tagmanifest_sha256, details=details)
    return write_record(root, record, key)
