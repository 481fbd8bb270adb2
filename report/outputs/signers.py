"""Who signed the evidence, in plain words: one sentence per signing key, for every renderer.

Works on the bundles as findings.json and readiness.json list them (path_name, verdict, signer,
signer_fingerprint; docs/internals.md), so the PDFs can call it on a model read back from disk
and bundles with different signers are listed as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_NAMES = 6


def signer_groups(bundles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bundles grouped by (signer, fingerprint, verdict), each with one plain sentence.

    Takes the bundles as they appear in findings.json / readiness.json (path_name, verdict,
    signer, signer_fingerprint) so renderers can call it on a model read back from disk.
    """
    groups: dict[tuple[str, str, str], list[str]] = {}
    for b in bundles:
        key = (_s(b.get("signer")), _s(b.get("signer_fingerprint")), _s(b.get("verdict")))
        groups.setdefault(key, []).append(_s(b.get("path_name")) or "(unnamed bundle)")
    out = []
    for (signer, fp, verdict), names in sorted(groups.items()):
        out.append({"signer": signer or None, "signer_fingerprint": fp or None, "verdict": verdict,
                    "bundles": sorted(names), "text": _sentence(signer, fp, verdict, sorted(names))})
    return out


def signer_summary(groups: Sequence[Mapping[str, Any]]) -> str:
    """The lead-in to the groups: none for one signing key; several keys are said to be several."""
    if not groups:
        return "No evidence bundle is listed, so nobody's signature was checked."
    keys = {(g.get("signer"), g.get("signer_fingerprint")) for g in groups}
    if len(keys) == 1:
        return ""
    return f"The bundles were signed by {len(keys)} different keys:"


def _sentence(signer: str, fp: str, verdict: str, names: list[str]) -> str:
    which = ", ".join(names[:MAX_NAMES]) + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")
    # the bundles under a label: "the key you trust: bundle" read as if the key were named so
    which = ("(bundle: " if len(names) == 1 else "(bundles: ") + which + ")"
    key = f"key {fp}" if fp else "an unknown key"
    claimed = f"Claims to be signed by {signer}" if signer else "Names no signer"
    if verdict == "valid":
        return f"Signed by {signer or 'an unnamed signer'} ({key}), verified against the key you trust {which}."
    if verdict == "invalid":
        return f"{claimed} ({key}) but FAILED verification {which}."
    return f"{claimed} ({key}), NOT verified against a key you trust {which}."


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""
