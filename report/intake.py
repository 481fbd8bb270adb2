"""Evidence intake: verify every bundle against the caller's trust and refuse what must be refused.

The one door through which `evkit report` and `evkit readiness` take evidence in (docs/design.md):

- a bundle counts only when a key the *analyst* trusts signed it: `--signer-key PUB` or
  `--allowed-signers FILE`, never the copies a bundle carries under `keys/`;
- an invalid (tampered, incomplete, unsealed) bundle is refused unless `allow_invalid`;
- a bundle that cannot be verified (no key given, a signer the analyst does not trust) is
  refused unless `allow_untrusted`;
- a bundle that cannot be read at all is always refused.

What is let through with an `allow_*` flag is marked (`Intake.state`, `Intake.warnings`), so
every output can say so; report.outputs.signers words who signed each bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evkit.exitcodes import ExitCode
from evkit.report.errors import InvalidEvidenceError, TrustOptionError

VALID, INVALID, CANNOT_VERIFY = "valid", "invalid", "cannot verify"
# The three states of a whole set of evidence, worst first.
STATE_INVALID, STATE_UNTRUSTED, STATE_VALID = "invalid", "untrusted", "valid"

TRUST_HINT = ("give the examiner's public key you received out of band with --signer-key PUB, or an "
              "OpenSSH allowed_signers file with --allowed-signers FILE")
UNTRUSTED_WARNING = ("UNTRUSTED EVIDENCE: the signature on the evidence was not checked against a key "
                     "you trust (reported with --allow-untrusted). Anyone could have made or altered "
                     "it; do not rely on this report until it is verified with the examiner's key.")
INVALID_WARNING = ("INVALID EVIDENCE: the evidence failed verification and may have been altered "
                   "after collection (reported with --allow-invalid); do not rely on this report.")


@dataclass(frozen=True)
class Trust:
    """What the analyst trusts and what they allow through anyway."""

    signer_key: Path | None = None
    allowed_signers: Path | None = None
    allow_untrusted: bool = False
    allow_invalid: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Trust:
        """From docopt arguments: --signer-key, --allowed-signers, --allow-untrusted, --allow-invalid."""
        key, allowed = args.get("--signer-key"), args.get("--allowed-signers")
        return cls(signer_key=Path(key) if key else None, allowed_signers=Path(allowed) if allowed else None,
                   allow_untrusted=bool(args.get("--allow-untrusted")),
                   allow_invalid=bool(args.get("--allow-invalid")))

    @property
    def given(self) -> bool:
        return self.signer_key is not None or self.allowed_signers is not None


@dataclass(frozen=True)
class VerifiedBundle:
    """One bundle as intake saw it. `signer` is the principal the analyst's trust file gives the
    signing key when the verdict is valid; otherwise only what the bundle claims."""

    root: Path
    verdict: str
    findings: tuple[str, ...]
    signer: str | None
    signer_fingerprint: str | None
    tagmanifest_sha256: str | None
    custody: tuple[Mapping[str, Any], ...]
    unreadable: bool = False  # not a readable bundle at all: nothing could be checked

    @property
    def trusted(self) -> bool:
        return self.verdict == VALID

    def signer_json(self) -> dict[str, Any]:
        return {"signer": self.signer, "signer_fingerprint": self.signer_fingerprint,
                "signer_trusted": self.trusted}


@dataclass(frozen=True)
class Intake:
    bundles: tuple[VerifiedBundle, ...]

    @property
    def state(self) -> str:
        verdicts = {b.verdict for b in self.bundles}
        if INVALID in verdicts:
            return STATE_INVALID
        if verdicts - {VALID}:
            return STATE_UNTRUSTED
        return STATE_VALID

    @property
    def valid(self) -> bool:
        """Every bundle verified valid against a key the analyst trusts."""
        return self.state == STATE_VALID

    @property
    def warnings(self) -> list[str]:
        """Plain sentences every output repeats when evidence was let through with --allow-*."""
        verdicts = {b.verdict for b in self.bundles}
        out = [INVALID_WARNING] if INVALID in verdicts else []
        if verdicts - {VALID, INVALID}:
            out.append(UNTRUSTED_WARNING)
        return out


def verify_bundles(roots: Sequence[Path], trust: Trust) -> Intake:
    """Verify each bundle against `trust`; raise InvalidEvidenceError for what must be refused.

    Raises TrustOptionError (exit 2) when the key options themselves are wrong, and
    InvalidEvidenceError with exit 1 (invalid) or 3 (unreadable, or not verified against a
    trusted key) listing every finding. Returns the bundles in the order given.
    """
    from evkit.manifests.errors import KeyFileError  # noqa: PLC0415 - keeps `evkit sql` light
    from evkit.manifests.verify import load_trust, verify_bundle  # noqa: PLC0415

    try:
        load_trust(trust.signer_key, trust.allowed_signers)
        seen = tuple(_verified(Path(r), verify_bundle(Path(r), signer_key=trust.signer_key,
                                                     allowed_signers=trust.allowed_signers))
                     for r in roots)
    except KeyFileError as exc:
        raise TrustOptionError(f"cannot use the trusted key: {exc}") from exc
    _refuse(seen, trust)
    return Intake(seen)


def _verified(root: Path, result: Any) -> VerifiedBundle:
    verdict = str(getattr(result.verdict, "value", result.verdict))
    messages = tuple(f"{f.code}: {f.path + ': ' if f.path else ''}{f.message}" for f in result.findings)
    unreadable = verdict == CANNOT_VERIFY and any(f.code == "unreadable" for f in result.findings)
    return VerifiedBundle(root=root, verdict=verdict, findings=messages, signer=result.signer,
                          signer_fingerprint=result.signer_fingerprint,
                          tagmanifest_sha256=getattr(result, "tagmanifest_sha256", None),
                          custody=tuple(result.custody or ()), unreadable=unreadable)


def _refuse(seen: Sequence[VerifiedBundle], trust: Trust) -> None:
    unreadable = [f"{b.root.name}: {m}" for b in seen if b.unreadable for m in b.findings]
    if unreadable:
        raise InvalidEvidenceError("a bundle cannot be read, so it cannot be verified", unreadable,
                                   ExitCode.CANNOT_VERIFY)
    bad = [f"{b.root.name}: {m}" for b in seen if b.verdict == INVALID for m in (b.findings or ("invalid",))]
    if bad and not trust.allow_invalid:
        raise InvalidEvidenceError(f"{len(bad)} verification finding(s); the evidence is refused "
                                   "(--allow-invalid reports on it anyway, marked INVALID on every page)", bad)
    untrusted = [b for b in seen if b.verdict == CANNOT_VERIFY]
    if untrusted and not trust.allow_untrusted:
        lines = [f"{b.root.name}: {m}" for b in untrusted for m in (b.findings or ("cannot verify",))]
        what = ("no trusted key was given: " + TRUST_HINT) if not trust.given else (
            "it is not signed by a key you trust; check the key you were given out of band")
        raise InvalidEvidenceError(
            f"{len(untrusted)} bundle(s) not verified against a trusted key, so the evidence is refused: "
            f"{what} (--allow-untrusted reports on it anyway, marked UNTRUSTED on every page)",
            lines, ExitCode.CANNOT_VERIFY)
