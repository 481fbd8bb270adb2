"""Who signed the evidence, for page 1 of every evkit PDF (breach-scope and readiness).

Reads the model's `bundles` (path_name, verdict, signer, signer_fingerprint) and shows the plain
sentences of `evkit.report.outputs.signers`: one line per signing key, so bundles signed by
different keys are listed as such. `evidence_state` decides the banner on every page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.platypus import Flowable

from evkit.report.outputs.signers import signer_groups, signer_summary
from evkit.report.pdf.common import as_rows, esc, rich

# The model's evidence states (findings.json "evidence_state", docs/internals.md).
STATE_VALID, STATE_UNTRUSTED, STATE_INVALID = "valid", "untrusted", "invalid"

MAX_GROUPS = 6


def evidence_state(model: Mapping[str, Any]) -> str:
    """"valid", "untrusted" or "invalid", from the bundles' verdicts and the model's own flags.

    Only a model that says its evidence is valid, with every bundle valid, is taken as valid;
    a missing or odd flag is not taken as valid, so the report then carries a banner.
    """
    verdicts = {b.get("verdict") for b in as_rows(model.get("bundles"))}
    stated = model.get("evidence_state")
    if "invalid" in verdicts or stated == STATE_INVALID:
        return STATE_INVALID
    if "cannot verify" in verdicts or stated == STATE_UNTRUSTED:
        return STATE_UNTRUSTED
    if model.get("evidence_valid") is True and verdicts <= {"valid"}:
        return STATE_VALID
    return STATE_INVALID


def signer_flowables(model: Mapping[str, Any], limit: int = MAX_GROUPS) -> list[Flowable]:
    """The "who signed" block: one compact bullet per signing key (at most `limit`, the rest
    counted), after a lead-in line when the bundles were signed by different keys (or none)."""
    groups = signer_groups(as_rows(model.get("bundles")))
    lead = signer_summary(groups)
    out: list[Flowable] = [rich(esc(lead), "signer")] if lead else []
    out += [rich("<bullet>&bull;</bullet>" + esc(g["text"], 700), "signer") for g in groups[:limit]]
    if len(groups) > limit:
        out.append(rich(f"... and {len(groups) - limit} more signing keys, listed in the evidence "
                        "appendix.", "note"))
    return out
