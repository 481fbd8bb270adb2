"""Verify a sealed evidence bundle: three verdicts, every finding listed.

- **valid**: every payload and tag file matches the manifests, nothing is missing or extra,
  both signatures over tagmanifest-sha256.txt verify with a key the verifier trusts
  (--signer-key / --allowed-signers), and the custody chain is intact and signed by trusted keys.
- **invalid**: anything found wrong (altered, missing, extra, renamed file; edited tag file;
  bad, missing or wrong-key signature; unsealed bundle; broken custody chain).
- **cannot verify**: nothing found wrong but trust cannot be established: no key given (the
  bundle's own keys/ copies prove nothing about who made it), a custody record signed by a key
  the verifier does not trust, or the bundle cannot be read at all.

Which payload hash is recomputed: SHA-256 by default. Both payload manifests are bound to the
signature through tagmanifest-sha256.txt, which lists the hash of manifest-sha512.txt too, so
re-hashing the payload with either algorithm ties every byte to the signed file; re-hashing
with both only doubles the cost. SHA-256 runs on this class of hardware with SHA-NI (about
twice SHA-512's speed), it is what the stock tools in VERIFY.md recompute (`sha256sum -c`),
and a second preimage for SHA-256 is not a practical attack. The SHA-512 manifest's path set
is still cross-checked, its own file hash is checked through the tag manifests, and
`verify_bundle(..., algorithms=("sha256", "sha512"))` re-hashes with both.

Streaming: file hashing runs on all cores with bounded buffers (manifests/hashing.py); the only
per-file state is the manifest's path -> digest map.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only light modules at import time: payload hashing starts before the cryptography stack is
# loaded (signature checks import it lazily), which hides interpreter start-up on big bundles.
from evkit.manifests.errors import KeyFileError, SignatureError, TrustOptionError, UnsafeNameError
from evkit.manifests.hashing import ParallelHasher
from evkit.manifests.layout import (ALGORITHMS, ALLOWED_SIGNERS, BAG_INFO, BAGIT_CONTENT, BAGIT_TXT,
                              COLLECTION, CUSTODY_DIR, CUSTODY_RECORD_RE, DATA, EVENTS_LOG, KEYS_DIR,
                              MANIFESTS, OPEN_DIR, SIG_RAW, SIG_SSH, SIGNATURES_DIR, SIGNER_PEM,
                              SIGNER_PUB, TAG_FILES, TAGMANIFESTS, VERIFY_MD, ZERO_SHA256)
from evkit.manifests.envelope import (CAP_COLLECTION, CAP_LINE, CAP_MANIFEST, CAP_SMALL, CAP_TEXT,
                                     EnvelopeError, entry_kind, open_envelope, read_envelope)
from evkit.manifests.jsonio import JsonShapeError, loads_object
from evkit.manifests.names import check_safe_path
from evkit.manifests.sealstate import SealState, seal_state
from evkit.terminal import safe_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from evkit.manifests.trust import TrustStore


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    CANNOT_VERIFY = "cannot verify"


# Finding codes; severity "invalid" makes the bundle invalid, "unverifiable" only blocks "valid".
INVALID, UNVERIFIABLE = "invalid", "unverifiable"
MAX_CUSTODY_RECORDS = 10_000


@dataclass(frozen=True)
class Finding:
    code: str        # altered, missing, extra, renamed, tag-altered, tag-missing, bag-info, ...
    path: str
    message: str
    severity: str = INVALID

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "path": self.path, "message": self.message,
                "severity": self.severity}

    def __str__(self) -> str:
        """The finding as one terminal-safe line (file names come from the bundle)."""
        text = f"{self.code}: {self.path}: {self.message}" if self.path else f"{self.code}: {self.message}"
        return safe_text(text)


@dataclass
class VerificationResult:
    root: str
    verdict: Verdict = Verdict.CANNOT_VERIFY
    findings: list[Finding] = field(default_factory=list)
    tagmanifest_sha256: str | None = None
    signer: str | None = None                 # the principal the verifier's trust file gives the key
    signer_fingerprint: str | None = None     # of the key that made the bundle's SSH signature
    trust_source: str | None = None
    claimed_signer: str | None = None         # bag-info's Evkit-Signer: what the bundle says
    payload_files: int = 0
    payload_bytes: int = 0
    algorithms: tuple[str, ...] = ("sha256",)
    custody: list[dict[str, Any]] = field(default_factory=list)
    unsealed: bool = False
    _seen: set[Finding] = field(default_factory=set, repr=False, compare=False)

    def add(self, code: str, path: str, message: str, severity: str = INVALID) -> None:
        finding = Finding(code, path, message, severity)
        if finding not in self._seen:   # one file read by two checks is reported once
            self._seen.add(finding)
            self.findings.append(finding)

    def decide(self) -> None:
        if any(f.severity == INVALID for f in self.findings):
            self.verdict = Verdict.INVALID
        elif self.findings:
            self.verdict = Verdict.CANNOT_VERIFY
        else:
            self.verdict = Verdict.VALID

    @property
    def exit_status(self) -> int:
        return {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.CANNOT_VERIFY: 3}[self.verdict]

    def summary(self) -> str:
        """The one-line verdict printed first (terminal-safe)."""
        root = safe_text(self.root)
        if self.signer_fingerprint and self.signer:
            who = f"{self.signer} {self.signer_fingerprint}"
        elif self.signer_fingerprint:
            who = f"key {self.signer_fingerprint} (your key file names no principal)"
        else:
            who = "unknown signer"
        if self.verdict == Verdict.VALID:
            return safe_text(f"valid: {root}: {self.payload_files} files, {self.payload_bytes} bytes "
                             f"match the signed manifests; signed by {who} (trusted via "
                             f"{self.trust_source}); {len(self.custody)} custody record(s) intact")
        if self.verdict == Verdict.INVALID:
            bad = [f for f in self.findings if f.severity == INVALID]
            return (f"invalid: {root}: {len(bad)} finding(s), first {bad[0]}; "
                    "do not rely on this bundle")
        first = next((f for f in self.findings if f.severity == UNVERIFIABLE), None)
        reason = (f"{first.path}: {first.message}" if first and first.path
                  else first.message if first else "unknown reason")
        return safe_text(f"cannot verify: {root}: {reason}")

    def to_json(self) -> dict[str, Any]:
        return {"schema": "evkit.verify/1", "bundle": self.root, "verdict": str(self.verdict),
                "exit_status": self.exit_status,
                "findings": [f.to_json() for f in self.findings],
                "tagmanifest_sha256": self.tagmanifest_sha256, "signer": self.signer,
                "signer_fingerprint": self.signer_fingerprint, "trust_source": self.trust_source,
                "claimed_signer": self.claimed_signer,
                "payload_files": self.payload_files, "payload_bytes": self.payload_bytes,
                "algorithms": list(self.algorithms), "custody": self.custody}


def load_trust(signer_key: Path | None, allowed_signers: Path | None) -> TrustStore:
    """The verifier's trusted keys; empty when neither option is given. Raises TrustOptionError
    (a usage error) for both options at once or a key file that cannot be used."""
    from evkit.manifests.trust import TrustStore, from_allowed_signers, from_signer_key  # noqa: PLC0415 - cryptography loads after hashing starts

    if signer_key is not None and allowed_signers is not None:
        raise TrustOptionError("give either a signer key or an allowed signers file, not both")
    try:
        if signer_key is not None:
            return from_signer_key(Path(signer_key))
        if allowed_signers is not None:
            return from_allowed_signers(Path(allowed_signers))
    except KeyFileError as exc:
        raise TrustOptionError(str(exc)) from exc
    return TrustStore()


_MANIFEST_LINE = re.compile(r"([0-9a-fA-F]+)[ \t]+\*?(.+)")
_ENVELOPE_CODES = {"symlink": "symlink", "special": "special-file", "too-large": "too-large",
                   "unreadable": "unreadable"}


def _read(root: Path, rel: str, cap: int, result: VerificationResult, missing_code: str,
          missing_message: str = "is missing") -> bytes | None:
    """An envelope file's bytes (see manifests/envelope.py), or None with a finding added."""
    try:
        return read_envelope(root, rel, cap)
    except EnvelopeError as exc:
        if exc.problem == "missing":
            result.add(missing_code, rel, missing_message)
        else:
            result.add(_ENVELOPE_CODES[exc.problem], rel, exc.message)
        return None


def _parse_manifest(root: Path, name: str, result: VerificationResult, payload: bool) -> dict[str, str] | None:
    """Parse `hex  path` lines; unsafe or duplicate paths become findings and are skipped."""
    raw = _read(root, name, CAP_MANIFEST if payload else CAP_TEXT, result,
                "missing" if payload else "tag-missing", "manifest is missing")
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        result.add("manifest-format", name, "is not UTF-8 text")
        return None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        match = _MANIFEST_LINE.fullmatch(line)
        if not match:
            result.add("manifest-format", name, f"line {number} is not '<hash>  <path>'")
            continue
        digest, rel = match.group(1).lower(), match.group(2)
        try:
            check_safe_path(rel)
        except UnsafeNameError as exc:
            result.add("unsafe-path", name, f"line {number}: {exc}")
            continue
        if payload != rel.startswith(DATA + "/"):
            where = "outside data/" if payload else "inside data/"
            result.add("manifest-format", name, f"line {number}: {rel} is {where}")
            continue
        if rel in entries:
            result.add("manifest-format", name, f"line {number}: {rel} is listed twice")
            continue
        entries[rel] = digest
    return entries


def _hash_envelope(root: Path, rel: str, alg: str) -> str:
    """Streamed digest of an envelope file (capped like the largest envelope file); EnvelopeError."""
    digest = hashlib.new(alg)
    total = 0
    with open_envelope(root, rel) as handle:
        while chunk := handle.read(1 << 20):
            total += len(chunk)
            if total > CAP_MANIFEST:
                raise EnvelopeError("too-large", f"{rel} is larger than {CAP_MANIFEST} bytes")
            digest.update(chunk)
    return digest.hexdigest()


def _check_tags(root: Path, result: VerificationResult) -> None:
    bagit = _read(root, BAGIT_TXT, CAP_SMALL, result, "tag-missing")
    if bagit is not None and bagit != BAGIT_CONTENT:
        result.add("bagit", BAGIT_TXT, "is not the BagIt 1.0 declaration evkit writes")
    for alg, name in zip(ALGORITHMS, TAGMANIFESTS):
        entries = _parse_manifest(root, name, result, payload=False)
        if entries is None:
            continue
        for tag in TAG_FILES:
            if tag not in entries:
                result.add("tag-unlisted", tag, f"is not listed in {name}")
        for rel, expected in sorted(entries.items()):
            try:
                actual = _hash_envelope(root, rel, alg)
            except EnvelopeError as exc:
                if exc.problem == "missing":
                    result.add("tag-missing", rel, f"is listed in {name} but missing")
                else:
                    result.add(_ENVELOPE_CODES[exc.problem], rel, exc.message)
                continue
            if actual != expected:
                code = "bag-info" if rel == BAG_INFO else "tag-altered"
                result.add(code, rel, f"{alg.upper()} differs from {name} (edited after sealing)")


def _read_bag_info(root: Path, result: VerificationResult) -> dict[str, str]:
    """bag-info.txt's labels (lower-cased, first occurrence wins); findings when unreadable."""
    raw = _read(root, BAG_INFO, CAP_TEXT, result, "bag-info", "is missing")
    if raw is None:
        return {}
    try:
        info = raw.decode("utf-8")
    except UnicodeDecodeError:
        result.add("bag-info", BAG_INFO, "is not UTF-8 text")
        return {}
    fields: dict[str, str] = {}
    for line in info.splitlines():
        label, _, value = line.partition(":")
        fields.setdefault(label.strip().lower(), value.strip())
    result.claimed_signer = fields.get("evkit-signer")
    return fields


def _check_key_copies(root: Path, result: VerificationResult, signer_key: Ed25519PublicKey,
                      claimed: str | None) -> None:
    """keys/signer.pub, keys/signer.pub.pem and keys/allowed_signers must all hold the key that
    made the signature (under the name bag-info gives): a bundle whose convenience copies name
    someone else is telling the recipient two different stories."""
    from evkit.manifests.keys import fingerprint, load_public_key_bytes, public_blob  # noqa: PLC0415 - cryptography loads after hashing starts
    from evkit.manifests.trust import match_pattern_list, parse_allowed_signers  # noqa: PLC0415 - cryptography loads after hashing starts

    blob = public_blob(signer_key)
    for rel in (SIGNER_PUB, SIGNER_PEM):
        raw = _read(root, rel, CAP_SMALL, result, "tag-missing")
        if raw is None:
            continue
        try:
            key, comment = load_public_key_bytes(raw, rel)
        except KeyFileError as exc:
            result.add("signer-mismatch", rel, f"is not a readable Ed25519 public key ({exc})")
            continue
        if public_blob(key) != blob:
            result.add("signer-mismatch", rel, f"holds key {fingerprint(key)}, but the bundle is signed "
                       f"by {fingerprint(signer_key)}")
        elif comment and claimed is not None and comment != claimed:
            result.add("signer-mismatch", rel, f"names {comment!r}, bag-info names {claimed!r}")
    raw = _read(root, ALLOWED_SIGNERS, CAP_SMALL, result, "tag-missing")
    if raw is None:
        return
    try:
        store = parse_allowed_signers(raw.decode("utf-8"), ALLOWED_SIGNERS)
    except (UnicodeDecodeError, KeyFileError) as exc:
        result.add("signer-mismatch", ALLOWED_SIGNERS, f"is not a readable allowed_signers file ({exc})")
        return
    ours = [line for line in store.lines if line.blob == blob]
    if not ours:
        result.add("signer-mismatch", ALLOWED_SIGNERS, f"does not hold the signing key {fingerprint(signer_key)}")
    elif claimed is not None and not any(line.principals and match_pattern_list(claimed, line.principals) == 1
                                         for line in ours):
        result.add("signer-mismatch", ALLOWED_SIGNERS, f"gives the signing key the principal(s) "
                   f"{', '.join(sorted(str(line.principals) for line in ours))}, bag-info names {claimed!r}")


def _check_signatures(root: Path, result: VerificationResult, trust: TrustStore,
                      bag_info: dict[str, str]) -> bytes | None:
    """Check both signatures and who made them; return the signing key's SSH blob."""
    from evkit.manifests.keys import fingerprint, public_blob, public_key_from_blob  # noqa: PLC0415 - cryptography loads after hashing starts
    from evkit.manifests.signing import sshsig_verify, verify_raw  # noqa: PLC0415 - cryptography loads after hashing starts
    from evkit.manifests.trust import MISMATCH, TRUSTED, UNTRUSTED  # noqa: PLC0415 - cryptography loads after hashing starts

    tagmanifest = _read(root, TAGMANIFESTS[0], CAP_TEXT, result, "tag-missing")
    if tagmanifest is None:
        return None
    result.tagmanifest_sha256 = hashlib.sha256(tagmanifest).hexdigest()
    signer_key = None
    armored = _read(root, SIG_SSH, CAP_SMALL, result, "missing-signature", "the SSH signature is missing")
    if armored is not None:
        try:
            sig = sshsig_verify(armored, tagmanifest)
        except SignatureError as exc:
            result.add("bad-signature", SIG_SSH, f"{exc}")
        else:
            signer_key = sig.public_key
            result.signer_fingerprint = sig.fingerprint
    raw = _read(root, SIG_RAW, CAP_SMALL, result, "missing-signature", "the raw Ed25519 signature is missing")
    if raw is not None:
        candidates = [signer_key] if signer_key is not None else [public_key_from_blob(b) for b in trust.keys]
        if not any(verify_raw(k, raw, tagmanifest) for k in candidates):
            result.add("bad-signature", SIG_RAW, "does not verify over tagmanifest-sha256.txt"
                       + (" with the key of the SSH signature" if signer_key is not None else ""))
    claimed = result.claimed_signer
    if signer_key is not None:
        stated = bag_info.get("evkit-signer-fingerprint")
        if stated != result.signer_fingerprint:
            result.add("signer-mismatch", BAG_INFO, f"Evkit-Signer-Fingerprint is {stated!r}, but the bundle "
                       f"is signed by {result.signer_fingerprint}")
        if not claimed:
            result.add("signer-mismatch", BAG_INFO, "names no signer (Evkit-Signer)")
        _check_key_copies(root, result, signer_key, claimed)
    if not trust:
        shown = result.signer_fingerprint or "unknown"
        result.add("no-trusted-key", "", f"no trusted key given: the signature was checked only against "
                   f"the bundle's own key ({shown}); pass --signer-key or --allowed-signers with the "
                   "examiner's published key", UNVERIFIABLE)
        return public_blob(signer_key) if signer_key is not None else None
    result.trust_source = trust.source
    if signer_key is None:
        return None
    decision = trust.check(signer_key, claimed or None)
    if decision.status == TRUSTED:
        result.signer = decision.principal
    elif decision.status == UNTRUSTED:
        result.add("wrong-signer", SIG_SSH, f"signed by {result.signer_fingerprint}, which is not a "
                   f"trusted key ({trust.source}: {', '.join(trust.fingerprints())})")
    elif decision.status == MISMATCH:
        result.add("signer-mismatch", SIG_SSH, f"bag-info names the signer {claimed!r}, but the signing key "
                   f"{fingerprint(signer_key)} is trusted as someone else: {decision.reason}")
    else:
        result.add("trust-unsupported", SIG_SSH, f"your trust file does not let evkit accept the signing key "
                   f"{fingerprint(signer_key)}: {decision.reason}", UNVERIFIABLE)
    return public_blob(signer_key)


@dataclass
class _PayloadPlan:
    """What the payload check needs before hashing starts: the primary manifest and the files."""

    algorithms: tuple[str, ...]         # recomputed, the first one's manifest parsed up front
    manifests: dict[str, dict[str, str] | None]
    actual: list[str]                   # every regular file under data/, sorted
    to_hash: list[tuple[str, Path]]     # the same files, largest first
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    hashed_bytes: int = 0
    payload_unusable: bool = False      # data/ is a link or not a folder: nothing under it judged

    @property
    def listed_by(self) -> str | None:
        """The first recomputed algorithm whose manifest parsed: its list is the one judged against."""
        return next((a for a in self.algorithms if self.manifests.get(a) is not None), None)

    @property
    def listed(self) -> dict[str, str]:
        """The payload list judged against (path -> digest in the `listed_by` algorithm)."""
        return self.manifests.get(self.listed_by or "") or {}


def _walk_payload(root: Path, result: VerificationResult) -> list[tuple[str, int]] | None:
    """(relative path, size) of every regular file under data/; anything else is a finding.
    None when data/ itself is missing, a link or not a folder.

    os.scandir gives the file type from the directory listing itself, so the walk costs one
    stat per file (for its size) and starts the hashing sooner than os.walk + Path checks.
    """
    kind = entry_kind(root, DATA)
    if kind != "dir":
        if kind == "missing":
            result.add("missing", DATA, "the payload directory is missing")
        elif kind == "symlink":
            result.add("symlink", DATA, "is a symbolic link (never followed): the evidence is not in the bundle")
        else:
            result.add("special-file", DATA, "is not a folder")
        return None
    files: list[tuple[str, int]] = []
    folders = [DATA]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(root / folder) as listing:
                entries = list(listing)
        except OSError as exc:
            result.add("unreadable", folder, f"cannot list the folder: {exc.strerror}")
            continue
        for entry in entries:
            rel = f"{folder}/{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    files.append((rel, entry.stat(follow_symlinks=False).st_size))
                else:
                    result.add("extra", rel, "is not a regular file (symlink or special file)")
            except OSError:
                files.append((rel, 0))   # reported as unreadable when hashed
    files.sort()
    return files


def _plan_payload(root: Path, result: VerificationResult, algorithms: Sequence[str]) -> _PayloadPlan:
    """Parse the primary manifest and list the payload: the serial part before hashing."""
    manifests: dict[str, dict[str, str] | None] = {}
    manifests[algorithms[0]] = _parse_manifest(root, MANIFESTS[ALGORITHMS.index(algorithms[0])],
                                               result, payload=True)
    walked = _walk_payload(root, result)
    files = walked or []
    by_size = sorted(files, key=lambda item: item[1], reverse=True)  # no big file alone at the end
    return _PayloadPlan(tuple(algorithms), manifests, [rel for rel, _ in files],
                        [(rel, root / rel) for rel, _ in by_size], payload_unusable=walked is None)


def _collect_digests(plan: _PayloadPlan, result: VerificationResult, hasher: ParallelHasher) -> None:
    for res in sorted(hasher.results(), key=lambda r: r.key):
        if res.error:
            result.add("unreadable", res.key, f"cannot read: {res.error}")
            continue
        plan.digests[res.key] = res.digests
        plan.hashed_bytes += res.size


def _parse_other_manifests(root: Path, result: VerificationResult, plan: _PayloadPlan) -> None:
    """The manifests not parsed before hashing; both must list the same files."""
    for alg, name in zip(ALGORITHMS, MANIFESTS):
        if alg not in plan.manifests:
            plan.manifests[alg] = _parse_manifest(root, name, result, payload=True)
    sha256, sha512 = plan.manifests["sha256"], plan.manifests["sha512"]
    if sha256 is not None and sha512 is not None and sha256.keys() != sha512.keys():
        diff = sorted(sha256.keys() ^ sha512.keys())
        result.add("manifest-mismatch", MANIFESTS[1], f"lists other files than {MANIFESTS[0]}: "
                   f"{', '.join(diff[:5])}")


def _judge_payload(root: Path, result: VerificationResult, plan: _PayloadPlan, bag_info: dict[str, str]) -> None:
    """Compare the computed digests with the manifests: altered, missing, renamed, extra."""
    listed, digests, algorithms = plan.listed, plan.digests, plan.algorithms
    actual_set = set(plan.actual)
    extra = sorted(actual_set - listed.keys())
    missing = sorted(listed.keys() - actual_set) if not plan.payload_unusable else []
    for rel in sorted(listed.keys() & actual_set):
        if rel not in digests:
            continue
        for alg in algorithms:
            expected = (plan.manifests.get(alg) or {}).get(rel)
            if expected is not None and digests[rel][alg] != expected:
                result.add("altered", rel, f"{alg.upper()} differs from manifest-{alg}.txt")
                break
    by_hash: dict[str, list[str]] = {}
    for rel in extra:   # extras are hashed too: a renamed file is found by its hash, in the
        if rel in digests and plan.listed_by:   # algorithm of the list it is missing from
            by_hash.setdefault(digests[rel][plan.listed_by], []).append(rel)
    for rel in missing:
        moved = by_hash.get(listed[rel])
        if moved:
            new = moved.pop(0)
            extra.remove(new)
            result.add("renamed", rel, f"is missing, and its exact bytes are now at {new}")
        else:
            result.add("missing", rel, "is listed in the manifest but missing")
    if result.unsealed and extra:   # one counted finding: the open bundle is the news, not each file
        result.add("extra", DATA, f"{len(extra)} file(s) under {DATA}/ are not in a sealed manifest "
                   f"(expected of a bundle that was never sealed; first: {extra[0]})")
    else:
        for rel in extra:
            result.add("extra", rel, "is not listed in the manifest (added after sealing)")
    result.payload_files, result.payload_bytes = len(plan.actual), plan.hashed_bytes
    if not result.unsealed:
        _check_oxum(result, bag_info, plan.hashed_bytes, len(plan.actual))
    _check_events_log(root, result)


def _check_oxum(result: VerificationResult, fields: dict[str, str], total: int, count: int) -> None:
    if not fields:
        return   # reported when bag-info was read
    oxum = fields.get("payload-oxum")
    if oxum != f"{total}.{count}":
        result.add("bag-info", BAG_INFO, f"Payload-Oxum is {oxum!r}, the payload is {total}.{count}")


def _events_chain(root: Path, result: VerificationResult) -> tuple[int, str] | None:
    """(lines, head hash) of data/events.log, streamed; None with a finding when broken."""
    rel = f"{DATA}/{EVENTS_LOG}"
    try:
        handle = open_envelope(root, rel)
    except EnvelopeError as exc:
        code = "events-log" if exc.problem == "missing" else _ENVELOPE_CODES[exc.problem]
        result.add(code, rel, exc.message)
        return None
    prev, lines = ZERO_SHA256, 0
    with handle:
        while line := handle.readline(CAP_LINE + 1):
            if not line.endswith(b"\n"):
                why = "is longer than the limit" if len(line) > CAP_LINE else "is torn (no line end)"
                result.add("events-log", rel, f"line {lines + 1} {why}")
                return None
            try:
                ok = loads_object(line[:-1]).get("prev") == prev
            except JsonShapeError:
                ok = False
            if not ok:
                result.add("events-log", rel, f"hash chain broken at line {lines + 1}")
                return None
            prev, lines = hashlib.sha256(line[:-1]).hexdigest(), lines + 1
    return lines, prev


def _check_events_log(root: Path, result: VerificationResult) -> None:
    """The collection log chain and its head as recorded in the signed collection.json."""
    rel = f"{DATA}/{COLLECTION}"
    raw = _read(root, rel, CAP_COLLECTION, result, "events-log", "the collection record is missing")
    if raw is None:
        return
    try:
        collection = loads_object(raw)
    except JsonShapeError as exc:
        result.add("collection-format", rel, str(exc))
        return
    stated = collection.get("signer_fingerprint")
    if result.signer_fingerprint and stated is not None and stated != result.signer_fingerprint:
        result.add("signer-mismatch", rel, f"names signer key {stated!r}, but the bundle is signed by "
                   f"{result.signer_fingerprint}")
    chain = _events_chain(root, result)
    if chain is None:
        return
    lines, prev = chain
    head = collection.get("events_log")
    if head is None:
        return
    if not isinstance(head, dict):
        result.add("collection-format", rel, "its events_log field is not an object")
        return
    if head.get("lines") is not None and (head.get("lines") != lines or head.get("head_sha256") != prev):
        result.add("events-log", f"{DATA}/{EVENTS_LOG}", f"has {lines} lines ending {prev[:12]}..., "
                   f"collection.json records {str(head.get('lines'))[:20]} ending "
                   f"{str(head.get('head_sha256'))[:12]}...")


def _custody_files(root: Path, result: VerificationResult) -> list[tuple[int, str]]:
    """(seq, relative path) of custody/NNNN.json, sorted; strays and links are findings."""
    kind = entry_kind(root, CUSTODY_DIR)
    if kind != "dir":
        if kind == "symlink":
            result.add("symlink", CUSTODY_DIR, "is a symbolic link (never followed)")
        elif kind != "missing":
            result.add("special-file", CUSTODY_DIR, "is not a folder")
        return []
    records = []
    try:
        with os.scandir(root / CUSTODY_DIR) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        result.add("unreadable", CUSTODY_DIR, f"cannot list the folder: {exc.strerror}")
        return []
    for entry in entries:
        rel = f"{CUSTODY_DIR}/{entry.name}"
        match = CUSTODY_RECORD_RE.match(entry.name)
        is_sig = entry.name.endswith(".json.sshsig") and CUSTODY_RECORD_RE.match(entry.name[:-7])
        if not match and not is_sig:
            result.add("extra", rel, "unexpected file in custody/")
        elif entry.is_symlink():
            result.add("symlink", rel, "is a symbolic link (never followed)")
        elif not entry.is_file(follow_symlinks=False):
            result.add("special-file", rel, "is not a regular file")
        elif match:
            records.append((int(match.group(1)), rel))
    if len(records) > MAX_CUSTODY_RECORDS:
        result.add("custody-chain", CUSTODY_DIR, f"holds {len(records)} records; only the first "
                   f"{MAX_CUSTODY_RECORDS} were checked")
        records = records[:MAX_CUSTODY_RECORDS]
    return records


def _text_field(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _check_custody(root: Path, result: VerificationResult, trust: TrustStore, signer_blob: bytes | None) -> None:
    records = _custody_files(root, result)
    if not records:
        if not any(f.path.startswith(CUSTODY_DIR) for f in result.findings):
            result.add("custody-missing", f"{CUSTODY_DIR}/0001.json", "no custody record (sealing writes 0001)")
        return
    prev = ZERO_SHA256
    for position, (seq, rel) in enumerate(records, 1):
        data = _read(root, rel, CAP_TEXT, result, "custody-chain")
        if data is None:
            prev = ""
            continue
        this_sha = hashlib.sha256(data).hexdigest()
        try:
            record = loads_object(data)
        except JsonShapeError as exc:
            result.add("custody-chain", rel, f"is not a JSON record: {exc}")
            prev = this_sha
            continue
        actor = record.get("actor")
        if not isinstance(actor, dict):
            result.add("custody-format", rel, "its actor is not an object")
            actor = {}
        entry = {"seq": record.get("seq"), "event": _text_field(record.get("event")),
                 "time_utc": _text_field(record.get("time_utc")), "actor": _text_field(actor.get("signer")),
                 "fingerprint": _text_field(actor.get("fingerprint")), "to": _text_field(record.get("to")),
                 "from": _text_field(record.get("from")), "note": _text_field(record.get("note")),
                 "file": rel, "sha256": this_sha,
                 "principal": None, "trusted": False, "signature_fingerprint": None}
        result.custody.append(entry)
        if seq != position:
            result.add("custody-chain", rel, f"record {position} is missing (found {seq:04d} next)")
        if record.get("seq") != seq:
            result.add("custody-chain", rel, f"its seq field says {str(record.get('seq'))[:20]} "
                       "(reordered or renamed)")
        if record.get("prev_record_sha256") != prev:
            result.add("custody-chain", rel, "prev_record_sha256 does not match the previous record "
                       "(a record was edited, removed or reordered)")
        if record.get("tagmanifest_sha256") != result.tagmanifest_sha256:
            result.add("custody-chain", rel, "names another tag manifest than this bundle's")
        if position == 1 and record.get("event") != "sealed":
            result.add("custody-chain", rel, "the first record is not the 'sealed' record")
        prev = this_sha
        _check_custody_signature(root, rel, data, actor, entry, position, result, trust, signer_blob)


def _check_custody_signature(root: Path, rel: str, data: bytes, actor: dict[str, Any], entry: dict[str, Any],
                             position: int, result: VerificationResult, trust: TrustStore,
                             signer_blob: bytes | None) -> None:
    """The record's signature, and whom it is attributed to: the principal the verifier's trust
    file gives the signing key. A record claiming another actor than that principal states
    something false about the chain of custody, so it makes the bundle invalid."""
    from evkit.manifests.keys import parse_public_line, public_blob  # noqa: PLC0415 - cryptography loads after hashing starts
    from evkit.manifests.signing import sshsig_verify  # noqa: PLC0415 - cryptography loads after hashing starts
    from evkit.manifests.trust import MISMATCH, TRUSTED, UNTRUSTED  # noqa: PLC0415 - cryptography loads after hashing starts

    armored = _read(root, f"{rel}.sshsig", CAP_SMALL, result, "custody-signature",
                    "its .sshsig signature is missing")
    if armored is None:
        return
    try:
        sig = sshsig_verify(armored, data)
    except SignatureError as exc:
        result.add("custody-signature", rel, f"signature does not verify: {exc}")
        return
    entry["signature_fingerprint"] = sig.fingerprint
    claimed = entry["actor"]
    try:
        named, _ = parse_public_line(str(actor.get("public_key", "")), rel)
        if public_blob(named) != public_blob(sig.public_key):
            raise KeyFileError("mismatch")
    except KeyFileError:
        result.add("custody-signature", rel, f"signed by {sig.fingerprint}, not by the key its actor names")
        return
    if entry["fingerprint"] != sig.fingerprint:
        result.add("custody-actor", rel, f"its actor states fingerprint {entry['fingerprint']!r}, but it is "
                   f"signed by {sig.fingerprint}")
    blob = public_blob(sig.public_key)
    if position == 1 and signer_blob is not None and blob != signer_blob:
        result.add("custody-signature", rel, "the 'sealed' record is not signed by the bundle's signer")
        return
    if not trust:
        return   # "no-trusted-key" already says nothing here can be attributed
    decision = trust.check(sig.public_key, claimed)
    if decision.status == TRUSTED:
        entry["principal"], entry["trusted"] = decision.principal, True
    elif decision.status == MISMATCH:
        result.add("custody-actor", rel, f"claims it was made by {claimed!r}, but it is signed by "
                   f"{sig.fingerprint}: {decision.reason}")
    elif decision.status == UNTRUSTED:
        result.add("custody-untrusted", rel, f"signed by {claimed} {sig.fingerprint}, a key "
                   "the verifier has not said it trusts (add it to --allowed-signers)", UNVERIFIABLE)
    else:
        result.add("trust-unsupported", rel, f"your trust file does not let evkit accept its key "
                   f"{sig.fingerprint}: {decision.reason}", UNVERIFIABLE)


_FOLDERS = {DATA, KEYS_DIR, SIGNATURES_DIR, CUSTODY_DIR, OPEN_DIR}


def _check_layout(root: Path, result: VerificationResult) -> None:
    """Anything in the envelope evkit did not put there is reported as extra; a link or special
    file where evkit puts a file or folder is a finding of its own."""
    top = {BAGIT_TXT, BAG_INFO, *MANIFESTS, *TAGMANIFESTS, VERIFY_MD} | _FOLDERS
    with os.scandir(root) as listing:
        names = sorted(entry.name for entry in listing)
    for name in names:
        if name not in top:
            result.add("extra", name, "unexpected entry in the bundle envelope")
            continue
        kind = entry_kind(root, name)
        want = "dir" if name in _FOLDERS else "file"
        if name in (DATA, CUSTODY_DIR, OPEN_DIR) or kind == want:
            continue   # data/ and custody/ are judged where they are read
        if kind == "symlink":
            result.add("symlink", name, "is a symbolic link (never followed)")
        else:
            result.add("special-file", name, f"is not a regular {'folder' if want == 'dir' else 'file'}")
    for folder, allowed in ((KEYS_DIR, {SIGNER_PUB, SIGNER_PEM, ALLOWED_SIGNERS}),
                            (SIGNATURES_DIR, {SIG_RAW, SIG_SSH})):
        if entry_kind(root, folder) == "dir":
            with os.scandir(root / folder) as listing:
                for name in sorted(entry.name for entry in listing):
                    rel = f"{folder}/{name}"
                    if rel not in allowed:
                        result.add("extra", rel, f"unexpected file in {folder}/")


def verify_bundle(root: Path, *, signer_key: Path | None = None, allowed_signers: Path | None = None,
                  algorithms: Sequence[str] = ("sha256",), workers: int | None = None,
                  trust: TrustStore | None = None) -> VerificationResult:
    """Verify the bundle at root; see the module docstring. Raises TrustOptionError for bad key options."""
    root = Path(root)
    result = VerificationResult(str(root), algorithms=tuple(algorithms))
    if trust is None:
        trust = load_trust(signer_key, allowed_signers)   # a bad key option is a usage error
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        result.add("unreadable", "", f"{root} is not a readable directory", UNVERIFIABLE)
        result.decide()
        return result
    if all(entry_kind(root, name) == "missing" for name in (BAGIT_TXT, TAGMANIFESTS[0], DATA)):
        result.add("unreadable", "", f"{root} is not an evidence bundle (no bagit.txt, data/ or manifests)",
                   UNVERIFIABLE)
        result.decide()
        return result
    try:
        _verify_into(root, result, trust, algorithms, workers)
    except Exception as exc:  # noqa: BLE001 - see below
        # A defence in depth: every check above turns what it reads into findings; should one
        # still fail on some input nobody foresaw, the bundle is reported invalid with the
        # reason (never valid, never a traceback), and the code names the gap for a bug report.
        result.add("verify-error", "", f"verification stopped: {type(exc).__name__}: {str(exc)[:200]}")
    result.decide()
    return result


def _verify_into(root: Path, result: VerificationResult, trust: TrustStore, algorithms: Sequence[str],
                 workers: int | None) -> None:
    if seal_state(root) is SealState.OPEN:   # beside bagit.txt it is a clean-up leftover only
        result.unsealed = True
        result.add("unsealed", OPEN_DIR, "the bundle was never sealed (collection or import did not "
                   "finish): it is not evidence yet (a collection is finished with `evkit collect --resume`)")
    # Payload hashing (the long part) starts first and runs on worker threads while this thread
    # checks the rest; the serial part before it is one manifest parse and one directory walk.
    plan = _plan_payload(root, result, algorithms)
    hasher = ParallelHasher(plan.to_hash, algorithms, workers)
    try:
        _parse_other_manifests(root, result, plan)
        _check_layout(root, result)
        _check_tags(root, result)
        bag_info = _read_bag_info(root, result)
        signer_blob = _check_signatures(root, result, trust, bag_info)
    except BaseException:
        hasher.cancel()
        raise
    _collect_digests(plan, result, hasher)
    _judge_payload(root, result, plan, bag_info)
    _check_custody(root, result, trust, signer_blob)
