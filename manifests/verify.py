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
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules at import time: payload hashing starts before the cryptography stack is
# loaded (signature checks import it lazily), which hides interpreter start-up on big bundles.
from evkit.manifests.errors import KeyFileError, TrustOptionError, UnsafeNameError
from evkit.manifests.hashing import ParallelHasher
from evkit.manifests.layout import (ALGORITHMS, ALLOWED_SIGNERS, BAG_INFO, BAGIT_CONTENT, BAGIT_TXT,
                              COLLECTION, CUSTODY_DIR, CUSTODY_RECORD_RE, DATA, EVENTS_LOG, KEYS_DIR,
                              MANIFESTS, OPEN_DIR, SIG_RAW, SIG_SSH, SIGNATURES_DIR, SIGNER_PEM,
                              SIGNER_PUB, TAG_FILES, TAGMANIFESTS, VERIFY_MD, ZERO_SHA256)
from evkit.manifests.names import check_safe_path
from evkit.manifests.sealstate import SealState, seal_state

if TYPE_CHECKING:
    from evkit.manifests.trust import TrustStore


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    CANNOT_VERIFY = "cannot verify"


# Finding codes; severity "invalid" makes the bundle invalid, "unverifiable" only blocks "valid".
INVALID, UNVERIFIABLE = "invalid", "unverifiable"


@dataclass(frozen=True)
class Finding:
    code: str        # altered, missing, extra, renamed, tag-altered, tag-missing, bag-info, ...
    path: str
    message: str
    severity: str = INVALID

    def to_json(self) -> dict:
        return {"code": self.code, "path": self.path, "message": self.message,
                "severity": self.severity}

    def __str__(self) -> str:
        return f"{self.code}: {self.path}: {self.message}" if self.path else f"{self.code}: {self.message}"


@dataclass
class VerificationResult:
    root: str
    verdict: Verdict = Verdict.CANNOT_VERIFY
    findings: list[Finding] = field(default_factory=list)
    tagmanifest_sha256: str | None = None
    signer: str | None = None
    signer_fingerprint: str | None = None
    trust_source: str | None = None
    payload_files: int = 0
    payload_bytes: int = 0
    algorithms: tuple[str, ...] = ("sha256",)
    custody: list[dict] = field(default_factory=list)

    def add(self, code: str, path: str, message: str, severity: str = INVALID) -> None:
        self.findings.append(Finding(code, path, message, severity))

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
        """The one-line verdict printed first."""
        who = f"{self.signer} {self.signer_fingerprint}" if self.signer_fingerprint else "unknown signer"
        if self.verdict == Verdict.VALID:
            return (f"valid: {self.root}: {self.payload_files} files, {self.payload_bytes} bytes match "
                    f"the signed manifests; signed by {who} (trusted via {self.trust_source}); "
                    f"{len(self.custody)} custody record(s) intact")
        if self.verdict == Verdict.INVALID:
            bad = [f for f in self.findings if f.severity == INVALID]
            return f"invalid: {self.root}: {len(bad)} finding(s); do not rely on this bundle"
        first = next((f for f in self.findings if f.severity == UNVERIFIABLE), None)
        reason = (f"{first.path}: {first.message}" if first and first.path
                  else first.message if first else "unknown reason")
        return f"cannot verify: {self.root}: {reason}"

    def to_json(self) -> dict:
        return {"schema": "evkit.verify/1", "bundle": self.root, "verdict": str(self.verdict),
                "exit_status": self.exit_status,
                "findings": [f.to_json() for f in self.findings],
                "tagmanifest_sha256": self.tagmanifest_sha256, "signer": self.signer,
                "signer_fingerprint": self.signer_fingerprint, "trust_source": self.trust_source,
                "payload_files": self.payload_files, "payload_bytes": self.payload_bytes,
                "algorithms": list(self.algorithms), "custody": self.custody}


def load_trust(signer_key: Path | None, allowed_signers: Path | None) -> TrustStore:
    """The verifier's trusted keys; empty when neither option is given. Raises TrustOptionError
    (a usage error) for both options at once or a key file that cannot be used."""
    from evkit.manifests.trust import TrustStore, from_allowed_signers, from_signer_key

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


def _parse_manifest(path: Path, result: VerificationResult, payload: bool) -> dict[str, str] | None:
    """Parse `hex  path` lines; unsafe or duplicate paths become findings and are skipped."""
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        result.add("missing" if payload else "tag-missing", name, "manifest is missing")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        result.add("unreadable", name, f"cannot read manifest: {exc}")
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


def _check_tags(root: Path, result: VerificationResult) -> None:
    bagit = root / BAGIT_TXT
    try:
        if bagit.read_bytes() != BAGIT_CONTENT:
            result.add("bagit", BAGIT_TXT, "is not the BagIt 1.0 declaration evkit writes")
    except OSError:
        result.add("tag-missing", BAGIT_TXT, "is missing")
    for alg, name in zip(ALGORITHMS, TAGMANIFESTS):
        entries = _parse_manifest(root / name, result, payload=False)
        if entries is None:
            continue
        for tag in TAG_FILES:
            if tag not in entries:
                result.add("tag-unlisted", tag, f"is not listed in {name}")
        for rel, expected in sorted(entries.items()):
            try:
                actual = hashlib.new(alg, (root / rel).read_bytes()).hexdigest()
            except FileNotFoundError:
                result.add("tag-missing", rel, f"is listed in {name} but missing")
                continue
            except OSError as exc:
                result.add("unreadable", rel, f"cannot read: {exc.strerror}")
                continue
            if actual != expected:
                code = "bag-info" if rel == BAG_INFO else "tag-altered"
                result.add(code, rel, f"{alg.upper()} differs from {name} (edited after sealing)")


def _check_signatures(root: Path, result: VerificationResult, trust: TrustStore) -> bytes | None:
    """Check both signatures; return the signing key's SSH blob when the SSHSIG verifies."""
    from evkit.manifests.errors import SignatureError
    from evkit.manifests.keys import fingerprint, load_public_key, public_blob, public_key_from_blob
    from evkit.manifests.signing import sshsig_verify, verify_raw

    try:
        tagmanifest = (root / TAGMANIFESTS[0]).read_bytes()
    except OSError:
        return None   # already reported
    result.tagmanifest_sha256 = hashlib.sha256(tagmanifest).hexdigest()
    in_bundle = None
    try:
        in_bundle, _ = load_public_key(root / SIGNER_PUB)
    except KeyFileError:
        pass
    signer_key = None
    try:
        armored = (root / SIG_SSH).read_bytes()
    except OSError:
        result.add("missing-signature", SIG_SSH, "the SSH signature is missing")
    else:
        try:
            sig = sshsig_verify(armored, tagmanifest)
        except SignatureError as exc:
            result.add("bad-signature", SIG_SSH, f"{exc}")
        else:
            signer_key = sig.public_key
            result.signer_fingerprint = sig.fingerprint
            if trust and not trust.trusts(sig.public_key):
                result.add("wrong-signer", SIG_SSH, f"signed by {sig.fingerprint}, which is not a "
                           f"trusted key ({trust.source}: {', '.join(trust.fingerprints())})")
            elif not trust and in_bundle is not None and public_blob(in_bundle) != public_blob(sig.public_key):
                result.add("wrong-signer", SIG_SSH, f"signed by {sig.fingerprint}, not by the key in "
                           f"{SIGNER_PUB} ({fingerprint(in_bundle)})")
    try:
        raw = (root / SIG_RAW).read_bytes()
    except OSError:
        result.add("missing-signature", SIG_RAW, "the raw Ed25519 signature is missing")
    else:
        candidates = ([k for k in (signer_key,) if k is not None and (not trust or trust.trusts(k))]
                      or ([] if trust else [k for k in (in_bundle,) if k is not None]))
        if trust:
            candidates += [public_key_from_blob(b) for b in trust.keys]
        if not any(verify_raw(k, raw, tagmanifest) for k in candidates):
            if signer_key is not None and verify_raw(signer_key, raw, tagmanifest):
                result.add("wrong-signer", SIG_RAW, f"signed by {fingerprint(signer_key)}, which is not trusted")
            else:
                result.add("bad-signature", SIG_RAW, "does not verify over tagmanifest-sha256.txt")
    if not trust:
        shown = result.signer_fingerprint or "unknown"
        result.add("no-trusted-key", "", f"no trusted key given: the signature was checked only against "
                   f"the bundle's own key ({shown}); pass --signer-key or --allowed-signers with the "
                   "examiner's published key", UNVERIFIABLE)
    else:
        result.trust_source = trust.source
    return public_blob(signer_key) if signer_key is not None else None


@dataclass
class _PayloadPlan:
    """What the payload check needs before hashing starts: the primary manifest and the files."""

    algorithms: tuple[str, ...]         # recomputed, the first one's manifest parsed up front
    manifests: dict[str, dict[str, str] | None]
    actual: list[str]                   # every regular file under data/, sorted
    to_hash: list[tuple[str, Path]]     # the same files, largest first
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    hashed_bytes: int = 0

    @property
    def listed_by(self) -> str | None:
        """The first recomputed algorithm whose manifest parsed: its list is the one judged against."""
        return next((a for a in self.algorithms if self.manifests.get(a) is not None), None)

    @property
    def listed(self) -> dict[str, str]:
        """The payload list judged against (path -> digest in the `listed_by` algorithm)."""
        return self.manifests.get(self.listed_by or "") or {}


def _walk_payload(root: Path, result: VerificationResult) -> list[tuple[str, int]]:
    """(relative path, size) of every regular file under data/; anything else is a finding.

    os.scandir gives the file type from the directory listing itself, so the walk costs one
    stat per file (for its size) and starts the hashing sooner than os.walk + Path checks.
    """
    if not (root / DATA).is_dir():
        result.add("missing", DATA, "the payload directory is missing")
        return []
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
    manifests[algorithms[0]] = _parse_manifest(root / MANIFESTS[ALGORITHMS.index(algorithms[0])],
                                               result, payload=True)
    files = _walk_payload(root, result)
    by_size = sorted(files, key=lambda item: item[1], reverse=True)  # no big file alone at the end
    return _PayloadPlan(tuple(algorithms), manifests, [rel for rel, _ in files],
                        [(rel, root / rel) for rel, _ in by_size])


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
            plan.manifests[alg] = _parse_manifest(root / name, result, payload=True)
    sha256, sha512 = plan.manifests["sha256"], plan.manifests["sha512"]
    if sha256 is not None and sha512 is not None and sha256.keys() != sha512.keys():
        diff = sorted(sha256.keys() ^ sha512.keys())
        result.add("manifest-mismatch", MANIFESTS[1], f"lists other files than {MANIFESTS[0]}: "
                   f"{', '.join(diff[:5])}")


def _judge_payload(root: Path, result: VerificationResult, plan: _PayloadPlan) -> None:
    """Compare the computed digests with the manifests: altered, missing, renamed, extra."""
    listed, digests, algorithms = plan.listed, plan.digests, plan.algorithms
    actual_set = set(plan.actual)
    extra = sorted(actual_set - listed.keys())
    missing = sorted(listed.keys() - actual_set)
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
    for rel in extra:
        result.add("extra", rel, "is not listed in the manifest (added after sealing)")
    result.payload_files, result.payload_bytes = len(plan.actual), plan.hashed_bytes
    _check_oxum(root, result, plan.hashed_bytes, len(plan.actual))
    _check_events_log(root, result)


def _check_oxum(root: Path, result: VerificationResult, total: int, count: int) -> None:
    try:
        info = (root / BAG_INFO).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        result.add("bag-info", BAG_INFO, "is missing or unreadable")
        return
    fields = {}
    for line in info.splitlines():
        label, _, value = line.partition(":")
        fields.setdefault(label.strip().lower(), value.strip())
    result.signer = fields.get("evkit-signer")
    oxum = fields.get("payload-oxum")
    if oxum != f"{total}.{count}":
        result.add("bag-info", BAG_INFO, f"Payload-Oxum is {oxum!r}, the payload is {total}.{count}")


def _check_events_log(root: Path, result: VerificationResult) -> None:
    """The collection log chain and its head as recorded in the signed collection.json."""
    try:
        collection = json.loads((root / DATA / COLLECTION).read_bytes())
        raw = (root / DATA / EVENTS_LOG).read_bytes()
    except (OSError, ValueError):
        result.add("events-log", f"{DATA}/{COLLECTION}", "collection record or events.log missing or unreadable")
        return
    prev, lines = ZERO_SHA256, 0
    for line in raw.split(b"\n")[:-1]:
        try:
            ok = json.loads(line).get("prev") == prev
        except ValueError:
            ok = False
        if not ok:
            result.add("events-log", f"{DATA}/{EVENTS_LOG}", f"hash chain broken at line {lines + 1}")
            return
        prev, lines = hashlib.sha256(line).hexdigest(), lines + 1
    head = collection.get("events_log") or {}
    if not raw.endswith(b"\n") and raw:
        result.add("events-log", f"{DATA}/{EVENTS_LOG}", "last line is torn")
    elif head.get("lines") is not None and (head.get("lines") != lines or head.get("head_sha256") != prev):
        result.add("events-log", f"{DATA}/{EVENTS_LOG}", f"has {lines} lines ending {prev[:12]}..., "
                   f"collection.json records {head.get('lines')} ending {str(head.get('head_sha256'))[:12]}...")


def _check_custody(root: Path, result: VerificationResult, trust: TrustStore, signer_blob: bytes | None) -> None:
    folder = root / CUSTODY_DIR
    records = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            match = CUSTODY_RECORD_RE.match(entry.name)
            if match and entry.is_file():
                records.append((int(match.group(1)), entry))
            elif not (entry.name.endswith(".json.sshsig") and CUSTODY_RECORD_RE.match(entry.name[:-7])):
                result.add("extra", entry.relative_to(root).as_posix(), "unexpected file in custody/")
    if not records:
        result.add("custody-missing", f"{CUSTODY_DIR}/0001.json", "no custody record (sealing writes 0001)")
        return
    prev = ZERO_SHA256
    for position, (seq, path) in enumerate(records, 1):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        this_sha = hashlib.sha256(data).hexdigest()
        try:
            record = json.loads(data)
            if not isinstance(record, dict):
                raise ValueError
        except ValueError:
            result.add("custody-chain", rel, "is not a JSON record")
            prev = this_sha
            continue
        actor = record.get("actor") or {}
        result.custody.append({"seq": record.get("seq"), "event": record.get("event"),
                               "time_utc": record.get("time_utc"), "actor": actor.get("signer"),
                               "fingerprint": actor.get("fingerprint"), "to": record.get("to"),
                               "from": record.get("from"), "note": record.get("note"),
                               "file": rel, "sha256": this_sha})
        if seq != position:
            result.add("custody-chain", rel, f"record {position} is missing (found {seq:04d} next)")
        if record.get("seq") != seq:
            result.add("custody-chain", rel, f"its seq field says {record.get('seq')} (reordered or renamed)")
        if record.get("prev_record_sha256") != prev:
            result.add("custody-chain", rel, "prev_record_sha256 does not match the previous record "
                       "(a record was edited, removed or reordered)")
        if record.get("tagmanifest_sha256") != result.tagmanifest_sha256:
            result.add("custody-chain", rel, "names another tag manifest than this bundle's")
        if position == 1 and record.get("event") != "sealed":
            result.add("custody-chain", rel, "the first record is not the 'sealed' record")
        prev = this_sha
        _check_custody_signature(root, rel, data, actor, position, result, trust, signer_blob)


def _check_custody_signature(root: Path, rel: str, data: bytes, actor: dict, position: int,
                             result: VerificationResult, trust: TrustStore, signer_blob: bytes | None) -> None:
    from evkit.manifests.errors import SignatureError
    from evkit.manifests.keys import parse_public_line, public_blob
    from evkit.manifests.signing import sshsig_verify

    try:
        armored = (root / f"{rel}.sshsig").read_bytes()
    except OSError:
        result.add("custody-signature", rel, "its .sshsig signature is missing")
        return
    try:
        sig = sshsig_verify(armored, data)
    except SignatureError as exc:
        result.add("custody-signature", rel, f"signature does not verify: {exc}")
        return
    try:
        named, _ = parse_public_line(str(actor.get("public_key", "")), rel)
        if public_blob(named) != public_blob(sig.public_key):
            raise KeyFileError("mismatch")
    except KeyFileError:
        result.add("custody-signature", rel, f"signed by {sig.fingerprint}, not by the key its actor names")
        return
    blob = public_blob(sig.public_key)
    if position == 1:
        if signer_blob is not None and blob != signer_blob:
            result.add("custody-signature", rel, "the 'sealed' record is not signed by the bundle's signer")
        return
    if blob == signer_blob and (not trust or trust.trusts(sig.public_key)):
        return
    if not trust.trusts(sig.public_key):
        result.add("custody-untrusted", rel, f"signed by {actor.get('signer')} {sig.fingerprint}, a key "
                   "the verifier has not said it trusts (add it to --allowed-signers)", UNVERIFIABLE)


def _check_layout(root: Path, result: VerificationResult) -> None:
    """Anything in the envelope evkit did not put there is reported as extra."""
    top = {BAGIT_TXT, BAG_INFO, *MANIFESTS, *TAGMANIFESTS, VERIFY_MD, DATA, KEYS_DIR,
           SIGNATURES_DIR, CUSTODY_DIR, OPEN_DIR}
    for entry in sorted(root.iterdir()):
        if entry.name not in top:
            result.add("extra", entry.name, "unexpected entry in the bundle envelope")
    for folder, allowed in ((KEYS_DIR, {SIGNER_PUB, SIGNER_PEM, ALLOWED_SIGNERS}),
                            (SIGNATURES_DIR, {SIG_RAW, SIG_SSH})):
        if (root / folder).is_dir():
            for entry in sorted((root / folder).iterdir()):
                rel = f"{folder}/{entry.name}"
                if rel not in allowed:
                    result.add("extra", rel, f"unexpected file in {folder}/")


def verify_bundle(root: Path, *, signer_key: Path | None = None, allowed_signers: Path | None = None,
                  algorithms: Sequence[str] = ("sha256",), workers: int | None = None,
                  trust: TrustStore | None = None) -> VerificationResult:
    """Verify the bundle at root; see the module docstring. Raises TrustOptionError for bad key options."""
    root = Path(root)
    result = VerificationResult(str(root), algorithms=tuple(algorithms))
    unreadable = not root.is_dir() or not os.access(root, os.R_OK | os.X_OK) or not (
        (root / BAGIT_TXT).exists() or (root / TAGMANIFESTS[0]).exists() or (root / DATA).is_dir())
    if unreadable and trust is None:
        load_trust(signer_key, allowed_signers)   # a bad key option is a usage error even here
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        result.add("unreadable", "", f"{root} is not a readable directory", UNVERIFIABLE)
        result.decide()
        return result
    if not (root / BAGIT_TXT).exists() and not (root / TAGMANIFESTS[0]).exists() and not (root / DATA).is_dir():
        result.add("unreadable", "", f"{root} is not an evidence bundle (no bagit.txt, data/ or manifests)",
                   UNVERIFIABLE)
        result.decide()
        return result
    # Payload hashing (the long part) starts first and runs on worker threads while this thread
    # checks the rest; the serial part before it is one manifest parse and one directory walk.
    plan = _plan_payload(root, result, algorithms)
    hasher = ParallelHasher(plan.to_hash, algorithms, workers)
    try:
        _parse_other_manifests(root, result, plan)
        if trust is None:
            trust = load_trust(signer_key, allowed_signers)
        if seal_state(root) is SealState.OPEN:   # beside bagit.txt it is a clean-up leftover only
            result.add("unsealed", OPEN_DIR, "the bundle was never sealed (collection or import did not finish)")
        _check_layout(root, result)
        _check_tags(root, result)
        signer_blob = _check_signatures(root, result, trust)
    except BaseException:
        hasher.cancel()
        raise
    _collect_digests(plan, result, hasher)
    _judge_payload(root, result, plan)
    _check_custody(root, result, trust, signer_blob)
    result.decide()
    return result
