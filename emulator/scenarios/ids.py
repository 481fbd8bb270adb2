"""Deterministic identifiers: GUIDs, SIDs, folder ids and message ids derived from the seed.

Nothing here reads the clock or the OS random source, so the same seed always gives the same
tenant and the same records byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import random


def digest(*parts: object, size: int = 16) -> bytes:
    """A stable hash of the parts (blake2b); the basis of every derived id."""
    return hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=size).digest()


def guid_from(*parts: object) -> str:
    """A version-4-shaped GUID derived from the parts."""
    return format_guid(int.from_bytes(digest(*parts), "big"))


def format_guid(value: int) -> str:
    """Format 128 bits as a lower-case version-4 GUID string."""
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class GuidStream:
    """Record ids drawn in emission order from one seeded stream."""

    def __init__(self, seed: object) -> None:
        self._rng = random.Random(f"record-ids|{seed}")

    def next(self) -> str:
        return format_guid(self._rng.getrandbits(128))


def sid_from(*parts: object) -> str:
    """A Windows SID in the tenant's domain shape (S-1-5-21-a-b-c-rid)."""
    d = digest("sid", *parts, size=16)
    a, b, c, rid = (int.from_bytes(d[i:i + 4], "big") for i in range(0, 16, 4))
    return f"S-1-5-21-{a % 4294967295}-{b % 4294967295}-{c % 4294967295}-{rid % 9000000 + 1000}"


def puid_from(*parts: object) -> str:
    """The 16-hex-digit PUID used as UserKey for Exchange records."""
    return "1003" + digest("puid", *parts, size=6).hex().upper()


def folder_id(mailbox: str, path: str) -> str:
    """An Exchange-style folder id (base64 'LgAAAAA...' shape) for a mailbox folder."""
    raw = b"\x2e\x00\x00\x00\x00" + digest("folder", mailbox, path, size=41)
    return base64.b64encode(raw).decode()


def token_id(*parts: object) -> str:
    """A 22-character url-safe token id (AppAccessContext.UniqueTokenId shape)."""
    return base64.urlsafe_b64encode(digest("uti", *parts, size=16)).decode()[:22]
