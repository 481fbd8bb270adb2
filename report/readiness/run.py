"""Readiness end to end: verify the bundles, read their configuration evidence, build the model
and write readiness.json and readiness.pdf. `evkit readiness` parses its arguments and calls
`run_readiness`; everything else lives here."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.exitcodes import ExitCode
from evkit.report.errors import InvalidEvidenceError, RenderError

OUTPUTS = ("readiness.json", "readiness.pdf")


def run_readiness(bundles: Sequence[Path], out: Path, *, days: int, signer_key: Path | None = None,
                  allowed_signers: Path | None = None) -> tuple[dict[str, Any], int]:
    """Verify, load, model and write both outputs; returns (model, exit status: 0, or 4 when a
    configuration or licence piece was not collected). Raises InvalidEvidenceError (refused
    evidence) and RenderError (outputs not written)."""
    from evkit.manifests.verify import verify_bundle  # noqa: PLC0415 - keeps --help fast
    from evkit.report.coverage.config_evidence import load_tenant_config  # noqa: PLC0415
    from evkit.report.pdf.readiness import render_readiness  # noqa: PLC0415
    from evkit.report.readiness.model import build_readiness  # noqa: PLC0415

    roots = sorted(bundles, key=lambda p: (p.name, str(p)))
    infos, bad, unreadable = [], [], []
    for root in roots:
        result = verify_bundle(root, signer_key=signer_key, allowed_signers=allowed_signers)
        verdict = getattr(result.verdict, "value", str(result.verdict))
        messages = [f"{root.name}: {f.code}: {f.path + ': ' if f.path else ''}{f.message}"
                    for f in result.findings]
        if verdict == "invalid":
            bad += messages or [f"{root.name}: invalid"]
        elif any(f.code == "unreadable" for f in result.findings):
            unreadable += messages
        infos.append(_bundle_info(root, verdict, result))
    if bad:
        raise InvalidEvidenceError(f"{len(bad)} verification finding(s): the evidence is refused", bad)
    if unreadable:
        raise InvalidEvidenceError("a bundle cannot be read, so it cannot be verified", unreadable,
                                   ExitCode.CANNOT_VERIFY)
    cfg = load_tenant_config(roots)
    model = build_readiness(cfg, bundles=infos, tenant=_tenant(roots), investigation_days=days)
    if any(i["verdict"] == "cannot verify" for i in infos):
        model["limitations"].append(
            "Some bundles could only be checked against the key they carry; verify them with the "
            "examiner's published key (--signer-key) before relying on this report.")
    status = ExitCode.INCOMPLETE if cfg.missing else ExitCode.OK
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(out / "readiness.json", (json.dumps(model, sort_keys=True, separators=(",", ":"),
                                                          ensure_ascii=False) + "\n").encode("utf-8"))
        tmp = out / ".readiness.pdf.tmp"
        render_readiness(model, tmp)
        os.replace(tmp, out / "readiness.pdf")
    except OSError as exc:
        raise RenderError(f"cannot write the outputs into {out}: {exc.strerror or exc}") from exc
    return model, status


def _bundle_info(root: Path, verdict: str, result: Any) -> dict[str, Any]:
    collection = _collection(root)
    return {"path_name": root.name, "verdict": verdict,
            "case_id": collection.get("case_id"), "collection_id": collection.get("collection_id"),
            "sources": collection.get("sources"),
            "tagmanifest_sha256": getattr(result, "tagmanifest_sha256", None),
            "signer_fingerprint": getattr(result, "signer_fingerprint", None)}


def _tenant(roots: Sequence[Path]) -> dict[str, Any]:
    for root in roots:
        tenant = _collection(root).get("tenant")
        if isinstance(tenant, dict):
            return {k: tenant.get(k) for k in ("id", "domain", "cloud") if isinstance(tenant.get(k), str)}
    return {}


def _collection(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / "data" / "collection.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
