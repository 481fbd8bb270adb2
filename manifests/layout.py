"""File names of the bundle envelope, shared by the writer, custody and the verifier."""

from __future__ import annotations

import datetime as _dt
import re

from evkit.times import format_utc, format_utc_precise

NAMESPACE = "evkit-evidence"
DATA = "data"
OPEN_DIR = ".evkit-open"          # present only while the bundle is open (unsealed)
OPEN_META = "bundle.json"         # case id, collection id, created time
OPEN_STATE = "state.json"         # the caller's resume state
OPEN_TMP = "tmp"                  # temp files, renamed into place (never inside data/)
EVENTS_LOG = "events.log"         # data/events.log
COLLECTION = "collection.json"    # data/collection.json
BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
ALGORITHMS = ("sha256", "sha512")
MANIFESTS = tuple(f"manifest-{a}.txt" for a in ALGORITHMS)
TAGMANIFESTS = tuple(f"tagmanifest-{a}.txt" for a in ALGORITHMS)
VERIFY_MD = "VERIFY.md"
KEYS_DIR = "keys"
SIGNER_PUB = "keys/signer.pub"
SIGNER_PEM = "keys/signer.pub.pem"
ALLOWED_SIGNERS = "keys/allowed_signers"
SIGNATURES_DIR = "signatures"
SIG_RAW = "signatures/tagmanifest-sha256.txt.sig"
SIG_SSH = "signatures/tagmanifest-sha256.txt.sshsig"
CUSTODY_DIR = "custody"
CUSTODY_RECORD_RE = re.compile(r"^(\d{4})\.json$")   # custody/NNNN.json
BAGIT_CONTENT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# Tag files covered by the tag manifests (and so by the signature). VERIFY.md and keys/ are
# included so nobody can swap the instructions or the convenience keys unnoticed.
TAG_FILES = (BAGIT_TXT, BAG_INFO, *MANIFESTS, VERIFY_MD, ALLOWED_SIGNERS, SIGNER_PUB, SIGNER_PEM)
ZERO_SHA256 = "0" * 64


def utc_now(precise: bool = False) -> str:
    """Current UTC time as ISO 8601 with Z (microseconds when precise)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return format_utc_precise(now) if precise else format_utc(now)


def allowed_signers_line(signer: str, key_line: str) -> str:
    """`<signer> namespaces="evkit-evidence" ssh-ed25519 AAAA...` (no comment, no newline)."""
    parts = key_line.split()
    return f'{signer} namespaces="{NAMESPACE}" {parts[0]} {parts[1]}'
