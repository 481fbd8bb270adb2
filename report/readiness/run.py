"""Readiness end to end: verify the bundles, read their configuration evidence, build the model
and write readiness.json and readiness.pdf. `evkit readiness` parses its arguments and calls
`run_readiness`; everything else lives here."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evkit.exitcodes import ExitCode
from evkit.report.errors import RenderError

if TYPE_CHECKING:
    from evkit.report.intake import Trust, VerifiedBundle

OUTPUTS = ("readiness.json", "readiness.pdf")


def run_readiness(bundles: Sequence[Path], out: Path, *, days: int, trust: Trust | None = None,
                  force: bool = False) -> tuple[dict[str, Any], int]:
    """Verify (report.intake), load, model and write both outputs; returns (model, exit status: 0,
    or 4 when a configuration or licence piece was not collected). Raises the intake's refusals
    and RenderError (outputs not written)."""
    from evkit.report.coverage.config_evidence import load_tenant_config  # noqa: PLC0415
    from evkit.report.intake import Trust, verify_bundles  # noqa: PLC0415 - keeps --help fast
    from evkit.report.outputs.folder import check_output_folder  # noqa: PLC0415
    from evkit.report.pdf.readiness import render_readiness  # noqa: PLC0415
    from evkit.report.readiness.model import build_readiness  # noqa: PLC0415

    check_output_folder(out, force=force)
    roots = sorted(bundles, key=lambda p: (p.name, str(p)))
    intake = verify_bundles(roots, trust or Trust())
    infos = [_bundle_info(seen) for seen in intake.bundles]
    cfg = load_tenant_config(roots)
    model = build_readiness(cfg, bundles=infos, tenant=_tenant(roots), investigation_days=days,
                            evidence_valid=intake.valid, evidence_state=intake.state,
                            warnings=intake.warnings)
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


def _bundle_info(seen: VerifiedBundle) -> dict[str, Any]:
    collection = _collection(seen.root)
    return {"path_name": seen.root.name, "verdict": seen.verdict,
            "case_id": collection.get("case_id"), "collection_id": collection.get("collection_id"),
            "sources": collection.get("sources"), "tagmanifest_sha256": seen.tagmanifest_sha256,
            **seen.signer_json()}


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
