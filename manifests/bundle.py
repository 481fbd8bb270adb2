"""BundleWriter: open an evidence bundle, write payload files atomically, log events, seal.

While open, the bundle root holds `.evkit-open/` (the writer's own metadata, the caller's
resume state and temp files) and no `bagit.txt`. A new bundle is assembled in a hidden sibling
folder and renamed into place, so it appears complete with its resume state or not at all.
Payload files are written to a temp name under `.evkit-open/`, fsynced and renamed into
`data/`, so a crash never leaves a torn file under `data/` and a temp name is never part of
the payload. `data/events.log` is appended and fsynced line by line; a torn last line from a
crash is cut off on resume and the cut is itself logged.

`seal()` writes data/collection.json, the manifests, bag-info.txt, VERIFY.md, keys/, the tag
manifests, the signatures and custody/0001.json, fsyncs them, and then commits with ONE rename:
`bagit.txt` into the root (manifests/sealstate.py states the rule every reader uses). A crash
before that rename leaves an open bundle whose half-written envelope the next seal replaces; a
crash after it leaves a sealed bundle that verifies. `.evkit-open/` is removed only after the
commit; a leftover one beside `bagit.txt` is recognised as such and removed by `remove_leftover`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit import __version__
from evkit.manifests import custody
from evkit.manifests.errors import (BundleExistsError, BundleSealedError, BundleStateError, ManifestsError,
                                    UnsafeNameError)
from evkit.manifests.hashing import hash_files
from evkit.manifests.jsonio import canonical
from evkit.manifests.keys import SigningKey
from evkit.manifests.layout import (ALGORITHMS, ALLOWED_SIGNERS, BAG_INFO, BAGIT_CONTENT, BAGIT_TXT,
                              COLLECTION, CUSTODY_DIR, DATA, EVENTS_LOG, KEYS_DIR, MANIFESTS,
                              OPEN_DIR, OPEN_META, OPEN_STATE, OPEN_TMP, SIG_RAW, SIG_SSH,
                              SIGNATURES_DIR, SIGNER_PEM, SIGNER_PUB, TAG_FILES, TAGMANIFESTS,
                              VERIFY_MD, ZERO_SHA256, allowed_signers_line, utc_now)
from evkit.manifests.names import NameRegistry, check_safe_path
from evkit.manifests.sealstate import SealState, fsync_dir, remove_leftover, seal_state
from evkit.manifests.signing import sshsig_sign
from evkit.manifests.verifydoc import render_verify_md

logger = logging.getLogger(__name__)

RESERVED = (EVENTS_LOG, COLLECTION)
NEW_BUNDLE_MARK = ".evkit-new-"   # hidden sibling `.<name>.evkit-new-<hex>` a new bundle is built in
_LABEL_ORDER = ("Source-Organization", "Contact-Name", "Contact-Email", "External-Identifier",
                "External-Description", "Internal-Sender-Identifier", "Bag-Software-Agent",
                "Bagging-Date", "Payload-Oxum")


@dataclass(frozen=True)
class FileRecord:
    """One payload file as written: path relative to data/, size in bytes, SHA-256 hex."""

    relpath: str
    size: int
    sha256: str


def _as_chunks(data: bytes | bytearray | memoryview | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return (bytes(data),) if not isinstance(data, bytes) else (data,)
    return data


class BundleWriter:
    """Writes one bundle; see the module docstring. Create with create() or resume()."""

    def __init__(self, root: Path, meta: dict[str, Any]) -> None:
        self.root = Path(root)
        self.case_id: str = meta["case_id"]
        self.collection_id: str = meta["collection_id"]
        self._open = self.root / OPEN_DIR
        self._data = self.root / DATA
        self._names = NameRegistry()
        self._seq = 0
        self._head = ZERO_SHA256
        self._lock = threading.RLock()
        self._sealed = False

    # ---------------------------------------------------------------- opening
    @classmethod
    def create(cls, root: Path, *, case_id: str, collection_id: str) -> "BundleWriter":
        """Create a new open bundle at root (which must not exist).

        The skeleton (open-state folder with metadata and an empty resume state, data/ with the
        first events.log line) is built in a hidden sibling folder, fsynced, and renamed to root:
        a crash leaves either no root at all or an open bundle that `resume` accepts.
        """
        root = Path(root)
        for value, what in ((case_id, "case id"), (collection_id, "collection id")):
            if not value or any(c in value for c in "\r\n\t") or len(value) > 200:
                raise BundleStateError(f"{what} {value!r} must be one line of at most 200 characters")
        if os.path.lexists(root):
            raise BundleExistsError(f"{root} already exists; choose a new output directory")
        _remove_stale_staging(root)
        staging = root.parent / f".{root.name}{NEW_BUNDLE_MARK}{uuid.uuid4().hex}"
        try:
            staging.mkdir()
        except OSError as exc:
            raise BundleStateError(f"cannot create {root}: {exc.strerror}") from None
        try:
            (staging / OPEN_DIR / OPEN_TMP).mkdir(parents=True)
            (staging / DATA).mkdir()
            meta = {"case_id": case_id, "collection_id": collection_id, "created_utc": utc_now(),
                    "tool_version": __version__}
            skeleton = cls(staging, meta)
            skeleton._atomic(staging / OPEN_DIR / OPEN_META, canonical(meta))
            skeleton._atomic(staging / OPEN_DIR / OPEN_STATE, canonical({}))
            skeleton.log_event("opened", case_id=case_id, collection_id=collection_id)
            for folder in (staging / OPEN_DIR, staging):
                fsync_dir(folder)
            if os.path.lexists(root):
                raise BundleExistsError(f"{root} already exists; choose a new output directory")
            try:
                os.rename(staging, root)   # the bundle appears complete with its resume state, or not at all
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    raise BundleExistsError(f"{root} already exists; choose a new output directory") from None
                raise BundleStateError(f"cannot create {root}: {exc.strerror}") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(root.parent)
        return cls.resume(root)

    @classmethod
    def resume(cls, root: Path) -> "BundleWriter":
        """Reopen an unsealed bundle; repairs a torn last events.log line.

        Raises BundleSealedError for a sealed bundle (whatever the state of its clean-up) and
        BundleStateError for a directory that is not an open evkit bundle.
        """
        root = Path(root)
        meta_path = root / OPEN_DIR / OPEN_META
        state = seal_state(root)
        if state is SealState.SEALED:
            raise BundleSealedError(f"{root} is already sealed; a sealed bundle never changes")
        if state is SealState.MISSING or not meta_path.is_file():
            raise BundleStateError(f"{root} is not an open evkit bundle (no {OPEN_DIR}/{OPEN_META})")
        try:
            meta = json.loads(meta_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise BundleStateError(f"cannot read {meta_path}: {exc}") from None
        writer = cls(root, meta)
        (root / OPEN_DIR / OPEN_TMP).mkdir(exist_ok=True)
        for stale in (root / OPEN_DIR / OPEN_TMP).iterdir():
            stale.unlink()
        for dirpath, dirnames, filenames in os.walk(writer._data):
            dirnames.sort()
            for name in sorted(filenames):
                rel = Path(dirpath, name).relative_to(writer._data).as_posix()
                writer._names.add(rel)
        writer._load_events()
        return writer

    def _load_events(self) -> None:
        path = self._data / EVENTS_LOG
        if not path.exists():
            return
        raw = path.read_bytes()
        good_end = 0
        prev = ZERO_SHA256
        seq = 0
        pos = 0
        while pos < len(raw):
            end = raw.find(b"\n", pos)
            if end < 0:
                break   # torn last line: the crash hit before its newline was written
            line = raw[pos:end]
            try:
                entry = json.loads(line)
                ok = entry.get("prev") == prev and entry.get("seq") == seq + 1
            except ValueError:
                ok = False
            if not ok:   # a complete line (newline written) that breaks the chain: not a crash
                raise BundleStateError(f"{path} is corrupt at line {seq + 1} (hash chain broken); "
                                       "refusing to resume over it")
            prev = hashlib.sha256(line).hexdigest()
            seq += 1
            pos = good_end = end + 1
        self._seq, self._head = seq, prev
        if good_end < len(raw):
            torn = raw[good_end:]
            with open(path, "r+b") as handle:
                handle.truncate(good_end)
                handle.flush()
                os.fsync(handle.fileno())
            self.log_event("log-repaired", dropped_bytes=len(torn),
                           dropped_sha256=hashlib.sha256(torn).hexdigest())

    # ---------------------------------------------------------------- writing
    def _atomic(self, target: Path, data: bytes | Iterable[bytes]) -> FileRecord:
        """temp name under .evkit-open/tmp, fsync, rename over target; returns size/sha256."""
        tmp = self._open / OPEN_TMP / uuid.uuid4().hex
        hasher = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as handle:
                for chunk in _as_chunks(data):
                    handle.write(chunk)
                    hasher.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return FileRecord(target.name, size, hasher.hexdigest())

    def _require_open(self) -> None:
        if self._sealed or seal_state(self.root) is SealState.SEALED:
            raise BundleSealedError(f"{self.root} is sealed; a sealed bundle never changes")
        if not (self._open / OPEN_META).is_file():
            raise BundleStateError(f"{self.root} is not an open bundle")

    def write(self, relpath: str, data: bytes | Iterable[bytes]) -> FileRecord:
        """Write data/<relpath> atomically; never overwrites; enforces the safe-name policy.

        Safe to call from several threads (names are reserved under a lock).
        """
        self._require_open()
        check_safe_path(relpath)
        if relpath in RESERVED:
            raise UnsafeNameError(f"data/{relpath} is written by the bundle itself")
        target = self._data / relpath
        with self._lock:
            clash = self._names.conflict(relpath)
            if clash is not None:
                raise UnsafeNameError(f"payload path {relpath!r} differs only by letter case from {clash!r}")
            if relpath in self._names or os.path.lexists(target):
                raise BundleStateError(f"data/{relpath} already exists; evidence files are never rewritten")
            self._names.add(relpath)
        try:
            record = self._atomic(target, data)
        except BaseException:
            with self._lock:
                self._names.discard(relpath)
            raise
        return FileRecord(relpath, record.size, record.sha256)

    def exists(self, relpath: str) -> bool:
        """True when data/<relpath> has been written (and renamed into place)."""
        return (self._data / relpath).is_file()

    def read_state(self) -> dict[str, Any]:
        """The caller's resume state (empty dict when none was written)."""
        self._require_open()
        try:
            state: dict[str, Any] = json.loads((self._open / OPEN_STATE).read_bytes())
            return state
        except FileNotFoundError:
            return {}

    def write_state(self, state: dict[str, Any]) -> None:
        """Replace the resume state atomically (outside data/)."""
        self._require_open()
        self._atomic(self._open / OPEN_STATE, canonical(state))

    def log_event(self, event: str, **fields: Any) -> None:
        """Append one hash-chained line to data/events.log and fsync it."""
        self._require_open()
        clash = {"prev", "seq", "time_utc", "event"} & fields.keys()
        if clash:
            raise BundleStateError(f"event fields may not be named {sorted(clash)}")
        with self._lock:
            entry = {"prev": self._head, "seq": self._seq + 1, "time_utc": utc_now(precise=True),
                     "event": event, **fields}
            line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
            fd = os.open(self._data / EVENTS_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seq += 1
            self._head = hashlib.sha256(line).hexdigest()

    # ---------------------------------------------------------------- sealing
    def seal(self, key: SigningKey, *, bag_info: Mapping[str, str], collection: Mapping[str, Any]) -> Path:
        """Write the envelope, sign, write keys/ VERIFY.md custody/0001, commit; close the bundle.

        Everything is written and fsynced first; the one rename of `bagit.txt` into the root is
        the commit (see the module docstring). The open-state folder is removed after it.
        """
        self._require_open()
        root = self.root
        self._clear_envelope()
        self.log_event("sealing", signer=key.signer, signer_fingerprint=key.fingerprint)
        record = dict(collection)
        record.setdefault("case_id", self.case_id)
        record.setdefault("collection_id", self.collection_id)
        record.setdefault("signer_fingerprint", key.fingerprint)
        record["events_log"] = {"lines": self._seq, "head_sha256": self._head}
        self._atomic(self._data / COLLECTION, canonical(record))

        files = self._payload_files()
        digests: dict[str, dict[str, str]] = {}
        total = 0
        hashed = hash_files(((rel, self._data / rel) for rel in files), ALGORITHMS)
        for result in sorted(hashed, key=lambda r: r.key):
            if result.error:
                raise BundleStateError(f"cannot read data/{result.key} while sealing: {result.error}")
            digests[result.key] = result.digests
            total += result.size
        tags: dict[str, bytes] = {BAGIT_TXT: BAGIT_CONTENT}
        for alg, name in zip(ALGORITHMS, MANIFESTS):
            tags[name] = "".join(f"{digests[rel][alg]}  data/{rel}\n" for rel in sorted(files)).encode("ascii")
        tags[BAG_INFO] = self._bag_info(bag_info, key, total, len(files))
        tags[VERIFY_MD] = render_verify_md(case_id=self.case_id, collection_id=self.collection_id,
                                           signer=key.signer, fingerprint=key.fingerprint)
        tags[SIGNER_PUB] = (key.openssh_line + "\n").encode()
        tags[SIGNER_PEM] = key.public_pem
        tags[ALLOWED_SIGNERS] = (allowed_signers_line(key.signer, key.openssh_line) + "\n").encode()
        tag_hashes = {}
        for alg, name in zip(ALGORITHMS, TAGMANIFESTS):
            tags[name] = "".join(f"{hashlib.new(alg, tags[tag]).hexdigest()}  {tag}\n"
                                 for tag in sorted(TAG_FILES)).encode("ascii")
            tag_hashes[alg] = hashlib.sha256(tags[name]).hexdigest()
        for name, content in tags.items():
            if name != BAGIT_TXT:
                self._atomic(root / name, content)
        tagmanifest = tags[TAGMANIFESTS[0]]
        raw_sig = key.sign(tagmanifest)
        ssh_sig = sshsig_sign(key, tagmanifest).encode("ascii")
        self._atomic(root / SIG_RAW, raw_sig)
        self._atomic(root / SIG_SSH, ssh_sig)
        custody.first_record(root, key, tag_hashes["sha256"], {
            "case_id": self.case_id, "collection_id": self.collection_id,
            "payload_files": len(files), "payload_bytes": total,
            "signature_sha256": hashlib.sha256(raw_sig).hexdigest(),
            "sshsig_sha256": hashlib.sha256(ssh_sig).hexdigest(),
        })
        self._commit(tags[BAGIT_TXT])
        try:
            remove_leftover(root)
        except OSError as exc:   # sealed all the same; the leftover is recognised and removed later
            logger.warning("%s is sealed; its open-state folder could not be removed (%s); "
                           "`evkit collect --resume` removes it", root, exc.strerror or exc)
        return root

    def _commit(self, bagit: bytes) -> None:
        """The commit point: stage bagit.txt, make every earlier write durable, rename it in."""
        staged = self._open / OPEN_TMP / f"{BAGIT_TXT}.commit"
        with open(staged, "wb") as handle:
            handle.write(bagit)
            handle.flush()
            os.fsync(handle.fileno())
        for folder in (KEYS_DIR, SIGNATURES_DIR, CUSTODY_DIR):
            fsync_dir(self.root / folder)
        fsync_dir(self.root)
        os.rename(staged, self.root / BAGIT_TXT)
        self._sealed = True
        fsync_dir(self.root)

    def _clear_envelope(self) -> None:
        """Remove the envelope an interrupted earlier seal wrote before its commit.

        Never bagit.txt: it exists only once the seal committed, and then nothing is removed.
        """
        for name in (BAG_INFO, *MANIFESTS, *TAGMANIFESTS, VERIFY_MD):
            (self.root / name).unlink(missing_ok=True)
        for folder in (KEYS_DIR, SIGNATURES_DIR, CUSTODY_DIR):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        (self._data / COLLECTION).unlink(missing_ok=True)

    def _payload_files(self) -> list[str]:
        """Every file under data/, checked against the safe-name policy (also ones not written
        through write()); symlinks and special files are refused."""
        registry = NameRegistry()
        found = []
        for dirpath, dirnames, filenames in os.walk(self._data):
            dirnames.sort()
            for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
                full = Path(dirpath, name)
                rel = full.relative_to(self._data).as_posix()
                if full.is_symlink() or not full.is_file():
                    raise BundleStateError(f"data/{rel} is not a regular file; refusing to seal")
                check_safe_path(rel)
                registry.add(rel)
                found.append(rel)
        return found

    def _bag_info(self, given: Mapping[str, str], key: SigningKey, total: int, count: int) -> bytes:
        fields: dict[str, str] = {"Contact-Name": key.signer}
        fields.update({k: str(v) for k, v in given.items()})
        fields.update({
            "External-Identifier": self.case_id,
            "Internal-Sender-Identifier": self.collection_id,
            "Bag-Software-Agent": f"evkit {__version__}",
            "Bagging-Date": utc_now()[:10],
            "Payload-Oxum": f"{total}.{count}",
            "Evkit-Signer": key.signer,
            "Evkit-Signer-Fingerprint": key.fingerprint,
        })
        ordered = [k for k in _LABEL_ORDER if k in fields] + [k for k in fields if k not in _LABEL_ORDER]
        lines = []
        for label in ordered:
            value = fields[label]
            if not label.replace("-", "").isalnum() or not label.isascii():
                raise ManifestsError(f"bag-info label {label!r} must be ASCII letters, digits and '-'")
            if any(c in value for c in "\r\n") or not value.isprintable():
                raise ManifestsError(f"bag-info value for {label} must be one printable line")
            lines.append(f"{label}: {value}\n")
        return "".join(lines).encode("utf-8")


def _remove_stale_staging(root: Path) -> None:
    """Remove hidden staging folders of earlier attempts to create root that a crash stopped
    before their rename (they hold only an empty skeleton, never evidence)."""
    prefix = f".{root.name}{NEW_BUNDLE_MARK}"
    try:
        entries = list(os.scandir(root.parent))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
