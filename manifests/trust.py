"""Which public keys the verifier trusts, and as whom: --signer-key PUB or --allowed-signers FILE.

The keys/ copies inside a bundle are never a source of trust (whoever altered the bundle could
have replaced them); trust comes only from what the verifier passes in.

An allowed_signers file is judged the way `ssh-keygen -Y verify -f FILE -I NAME -n evkit-evidence`
judges it, line by line in file order:

- a line whose principals (a comma-separated pattern list: `*` and `?` wildcards, `!pattern`
  negation that wins over any positive match) do not accept NAME is skipped;
- a line with options ssh-keygen cannot parse (an unknown option, a bad time) is reported and
  skipped; when no other line accepts the key, the result is "cannot verify" naming that line;
- `cert-authority` lines certify OpenSSH certificates, which evkit signatures never are:
  ssh-keygen would not accept the plain key on such a line, and evkit reports "cannot verify"
  naming the option rather than "valid";
- `namespaces="..."` must accept evkit-evidence; `valid-after` / `valid-before`
  (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z], local time unless Z) must hold at the time of
  verification (now, as ssh-keygen uses by default);
- the first line passing all of this decides: the key is trusted as NAME.

NAME is the signer the bundle claims (bag-info's Evkit-Signer, a custody record's actor): so the
identity evkit prints is one the recipient's own file accepts for that key, never one the bundle
alone asserts. With --signer-key the trusted name is the key file's comment (what `evkit keygen`
writes there); a key file without a comment (PEM) trusts the key under no name.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evkit.manifests.errors import KeyFileError
from evkit.manifests.keys import KEY_TYPE, fingerprint, load_public_key, public_blob, public_key_from_blob
from evkit.manifests.layout import NAMESPACE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TRUSTED, UNTRUSTED, MISMATCH, UNSUPPORTED = "trusted", "untrusted", "principal-mismatch", "unsupported"
_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com",
              "sk-ecdsa-sha2-", "ssh-ed25519-cert-v01@openssh.com", "rsa-sha2-")


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      re.S)


def match_pattern_list(name: str, patterns: str) -> int:
    """OpenSSH's pattern-list match: -1 when a negated pattern matches, 1 when a positive one
    does (and no negated one), 0 otherwise. Case-sensitive, as ssh-keygen matches principals."""
    found = 0
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if _pattern_regex(body).fullmatch(name):
            if negated:
                return -1
            found = 1
    return found


def _parse_time(value: str) -> int:
    """ssh-keygen's YYYYMMDD[Z] / YYYYMMDDHHMM[SS][Z] as a Unix time; ValueError otherwise."""
    utc = value.endswith("Z") or value.endswith("z")
    digits = value[:-1] if utc else value
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        raise ValueError(value)
    fmt = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}[len(digits)]
    parsed = time.strptime(digits, fmt)
    return calendar.timegm(parsed) if utc else int(time.mktime(parsed))


@dataclass
class TrustLine:
    """One allowed_signers line (or the --signer-key file) as parsed."""

    number: int
    principals: str | None            # pattern list; None: the key is trusted under no name
    blob: bytes | None                # Ed25519 SSH blob; None for another key type
    cert_authority: bool = False
    namespaces: str | None = None
    valid_after: int | None = None
    valid_before: int | None = None
    error: str | None = None          # options ssh-keygen refuses to parse


@dataclass
class TrustDecision:
    """What the trust file says about one (key, claimed name) pair."""

    status: str                       # TRUSTED, UNTRUSTED, MISMATCH or UNSUPPORTED
    principal: str | None = None      # the accepted name (TRUSTED only)
    pattern: str | None = None        # the principals field of the deciding line
    reason: str = ""

    @property
    def trusted(self) -> bool:
        return self.status == TRUSTED


@dataclass
class TrustStore:
    """The verifier's trust file, in file order."""

    source: str = ""
    lines: list[TrustLine] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines)

    @property
    def keys(self) -> dict[bytes, set[str]]:
        """Every Ed25519 key in the file and the principal patterns listed with it."""
        out: dict[bytes, set[str]] = {}
        for line in self.lines:
            if line.blob is not None:
                out.setdefault(line.blob, set()).update((line.principals or "").split(",") if line.principals else ())
        return out

    def trusts(self, public_key: Ed25519PublicKey) -> bool:
        """The key is in the file on a plain line allowed for evkit's namespace (any name)."""
        return self.check(public_key, None).trusted

    def principals(self, public_key: Ed25519PublicKey) -> set[str]:
        return self.keys.get(public_blob(public_key), set())

    def fingerprints(self) -> list[str]:
        return sorted(fingerprint(public_key_from_blob(b)) for b in self.keys)

    def check(self, public_key: Ed25519PublicKey, claimed: str | None, *, namespace: str = NAMESPACE,
              when: float | None = None) -> TrustDecision:
        """Judge (key, claimed name) as `ssh-keygen -Y verify -I claimed` would (module docstring).

        claimed None: any name (like `ssh-keygen -Y find-principals`); the decision's principal is
        then the deciding line's principals field when it names exactly one literal principal.
        """
        blob = public_blob(public_key)
        now = time.time() if when is None else when
        blockers: list[str] = []
        for line in self.lines:
            if claimed is not None and line.principals is not None \
                    and match_pattern_list(claimed, line.principals) != 1:
                continue
            where = f"{self.source} line {line.number}"
            if line.error:   # ssh-keygen reports the line and goes on with the next one
                if line.blob == blob:
                    blockers.append(f"{where}: {line.error}")
                continue
            if line.blob != blob:
                continue
            if line.cert_authority:
                blockers.append(f"{where}: cert-authority (certificate trust) is not supported by evkit")
                continue
            if line.namespaces is not None and match_pattern_list(namespace, line.namespaces) != 1:
                blockers.append(f"{where}: the key is not allowed for namespace {namespace} "
                                f"(namespaces={line.namespaces})")
                continue
            if line.valid_after is not None and now < line.valid_after:
                blockers.append(f"{where}: the key is not valid yet (valid-after "
                                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(line.valid_after))})")
                continue
            if line.valid_before is not None and now > line.valid_before:
                blockers.append(f"{where}: the key has expired (valid-before "
                                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(line.valid_before))})")
                continue
            principal = claimed if line.principals is not None else None   # a nameless key names no one
            if principal is None and line.principals and not re.search(r"[*?!,]", line.principals):
                principal = line.principals
            return TrustDecision(TRUSTED, principal=principal, pattern=line.principals)
        if blockers:
            return TrustDecision(UNSUPPORTED, reason="; ".join(blockers))
        listed = sorted({line.principals or "(no name)" for line in self.lines if line.blob == blob})
        if listed:
            return TrustDecision(MISMATCH, reason=f"{self.source} gives this key the principal(s) "
                                 f"{', '.join(listed)}, not {claimed}")
        return TrustDecision(UNTRUSTED, reason=f"not a key in {self.source}")


def from_signer_key(path: Path) -> TrustStore:
    key, comment = load_public_key(path)
    return TrustStore(f"--signer-key {path}", [TrustLine(1, comment or None, public_blob(key))])


_TOKEN = re.compile(r'(?:[^\s"]|"[^"]*")+')


def _split_options(text: str) -> list[str]:
    """Comma-separated options; commas inside double quotes do not split."""
    return re.findall(r'(?:[^,"]|"[^"]*")+', text)


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _parse_options(text: str, line: TrustLine) -> None:
    for option in _split_options(text):
        name, eq, value = option.partition("=")
        name = name.lower()
        if name == "cert-authority" and not eq:
            line.cert_authority = True
        elif name == "namespaces" and eq and line.namespaces is None:
            line.namespaces = _unquote(value)
        elif name in ("valid-after", "valid-before") and eq:
            try:
                stamp = _parse_time(_unquote(value))
            except ValueError:
                line.error = f"invalid {name} time {value!r}"
                return
            setattr(line, name.replace("-", "_"), stamp)
        else:
            line.error = f"option {option!r} is not one ssh-keygen accepts in allowed_signers"
            return
    if line.valid_after and line.valid_before and line.valid_before <= line.valid_after:
        line.error = "valid-before is not after valid-after"


def _parse_line(text: str, number: int, path: str) -> TrustLine | None:
    tokens = _TOKEN.findall(text)
    if not tokens or tokens[0].startswith("#"):
        return None
    if len(tokens) < 3:
        return TrustLine(number, _unquote(tokens[0]), None, error="no key on the line")
    principals = _unquote(tokens[0])
    line = TrustLine(number, principals, None)
    rest = tokens[1:]
    if not rest[0].startswith(_KEY_TYPES):
        _parse_options(rest[0], line)
        rest = rest[1:]
    if len(rest) < 2:
        line.error = line.error or "no key on the line"
        return line
    if rest[0] == KEY_TYPE:
        try:
            blob = base64.b64decode(rest[1], validate=True)
            public_key_from_blob(blob, f"{path} line {number}")
        except (binascii.Error, ValueError):
            raise KeyFileError(f"{path} line {number}: key is not valid base64") from None
        line.blob = blob
    return line


def parse_allowed_signers(text: str, source: str) -> TrustStore:
    """An allowed_signers file's text as a TrustStore (lines in file order); KeyFileError when an
    ssh-ed25519 key on a line is not valid base64."""
    store = TrustStore(source)
    for number, text_line in enumerate(text.splitlines(), 1):
        line = _parse_line(text_line.strip(), number, source)
        if line is not None:
            store.lines.append(line)
    return store


def from_allowed_signers(path: Path) -> TrustStore:
    """Parse an OpenSSH allowed_signers file (see the module docstring for how lines count)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"allowed signers file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read allowed signers file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"allowed signers file {path} is not UTF-8 text") from None
    store = parse_allowed_signers(text, f"--allowed-signers {path}")
    if not any(line.blob is not None for line in store.lines):
        raise KeyFileError(f"{path} holds no ssh-ed25519 key (evkit signs with Ed25519 keys)")
    return store
