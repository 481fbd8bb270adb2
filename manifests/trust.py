"""Which public keys the verifier trusts: --signer-key PUB or --allowed-signers FILE.

The keys/ copies inside a bundle are never a source of trust (whoever altered the bundle
could have replaced them); trust comes only from what the verifier passes in.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from evkit.manifests.errors import KeyFileError
from evkit.manifests.keys import KEY_TYPE, fingerprint, load_public_key, public_blob, public_key_from_blob
from evkit.manifests.layout import NAMESPACE


@dataclass
class TrustStore:
    """Trusted Ed25519 keys (by SSH wire blob) and the principals each may sign as."""

    source: str = ""
    keys: dict[bytes, set[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def trusts(self, public_key) -> bool:
        return public_blob(public_key) in self.keys

    def principals(self, public_key) -> set[str]:
        return self.keys.get(public_blob(public_key), set())

    def fingerprints(self) -> list[str]:
        return sorted(fingerprint(public_key_from_blob(b)) for b in self.keys)


def from_signer_key(path: Path) -> TrustStore:
    key, comment = load_public_key(path)
    return TrustStore(f"--signer-key {path}", {public_blob(key): {comment or "*"}})


def from_allowed_signers(path: Path) -> TrustStore:
    """Parse an OpenSSH allowed_signers file; keep ssh-ed25519 lines valid for our namespace."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"allowed signers file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read allowed signers file {path}: {exc}") from None
    store = TrustStore(f"--allowed-signers {path}")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            raise KeyFileError(f"{path} line {number}: unbalanced quotes") from None
        if KEY_TYPE not in tokens[1:]:
            continue   # another key type: not usable for evkit signatures
        at = tokens.index(KEY_TYPE, 1)
        if at + 1 >= len(tokens):
            raise KeyFileError(f"{path} line {number}: key type without key")
        option_text = " ".join(tokens[1:at])
        if re.search(r"(^|[\s,])cert-authority([\s,=]|$)", option_text, re.I):
            continue
        match = re.search(r'namespaces="([^"]*)"', line, re.I)
        if match and not any(fnmatch.fnmatchcase(NAMESPACE, p.strip()) for p in match.group(1).split(",")):
            continue
        try:
            blob = base64.b64decode(tokens[at + 1], validate=True)
            public_key_from_blob(blob, f"{path} line {number}")
        except (binascii.Error, ValueError):
            raise KeyFileError(f"{path} line {number}: key is not valid base64") from None
        store.keys.setdefault(blob, set()).update(tokens[0].split(","))
    if not store:
        raise KeyFileError(f"{path} holds no ssh-ed25519 key allowed for namespace {NAMESPACE}")
    return store
