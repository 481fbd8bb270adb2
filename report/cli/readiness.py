"""evkit readiness: could a mailbox breach be investigated from this tenant's logging today?

Usage:
  evkit readiness BUNDLE... --out DIR [--days N] [--signer-key PUB | --allowed-signers FILE]
  evkit readiness (-h | --help)

Options:
  --out DIR                where readiness.pdf and readiness.json are written
  --days N                 the investigation window the logs must cover, in days [default: 90]
  --signer-key PUB         verify the bundles against the examiner's published key
  --allowed-signers FILE   verify against an OpenSSH allowed_signers file

Reads the `config` and `licences` evidence of one or more bundles (a readiness collection is
`evkit collect` with only those two sources). Every bundle is verified first; an invalid bundle
is refused (exit 1); a bundle that cannot be read at all exits 3. When a configuration or
licence piece was not collected, both outputs are still written, say what is missing, and the
exit code is 4 (evidence incomplete). Same bundles, same bytes out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.clitools import fail, run_cli
from evkit.evidence.errors import EvidenceError
from evkit.exitcodes import ExitCode
from evkit.report.errors import InvalidEvidenceError, ReportError

COMMAND = "readiness"
OUTPUTS = ("readiness.json", "readiness.pdf")


def main(argv: Sequence[str]) -> int:
    return run_cli(__doc__, list(argv), _body)


def _body(args: dict[str, Any]) -> int:
    try:
        days = int(args["--days"])
        if days <= 0:
            raise ValueError
    except ValueError:
        return fail(COMMAND, f"--days must be a positive whole number of days, not {args['--days']!r}",
                    ExitCode.USAGE)
    key = Path(args["--signer-key"]) if args["--signer-key"] else None
    allowed = Path(args["--allowed-signers"]) if args["--allowed-signers"] else None
    try:
        model, status = run_readiness([Path(b) for b in args["BUNDLE"]], Path(args["--out"]),
                                      days=days, signer_key=key, allowed_signers=allowed)
    except InvalidEvidenceError as exc:
        for line in exc.findings:
            print(f"  {line}", file=sys.stderr)
        return fail(COMMAND, str(exc), exc.exit_status)
    except (ReportError, EvidenceError) as exc:
        return fail(COMMAND, str(exc), exc.exit_status)
    except OSError as exc:
        return fail(COMMAND, f"cannot write the outputs: {exc}")
    except Exception as exc:  # noqa: BLE001 - the single top-level handler: one line, no traceback
        return fail(COMMAND, f"{type(exc).__name__}: {exc}"[:500], getattr(exc, "exit_status", ExitCode.FAILED))
    summary = model["summary"]
    print(summary["headline"])
    print(f"investigable {summary['investigable']}, partly {summary['partly']}, blind {summary['blind']} "
          f"of {summary['mailboxes']} mailboxes; {len(model['fixes'])} fix(es)")
    for name in OUTPUTS:
        print(f"  {Path(args['--out']) / name}")
    if model["missing_evidence"]:
        print(f"evkit readiness: warning: not collected: {', '.join(model['missing_evidence'])}",
              file=sys.stderr)
    return status


def run_readiness(bundles: Sequence[Path], out: Path, *, days: int, signer_key: Path | None = None,
                  allowed_signers: Path | None = None) -> tuple[dict[str, Any], int]:
    """Verify, load, model and write both outputs; returns (model, exit status)."""
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
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "readiness.json", (json.dumps(model, sort_keys=True, separators=(",", ":"),
                                                      ensure_ascii=False) + "\n").encode("utf-8"))
    tmp = out / ".readiness.pdf.tmp"
    render_readiness(model, tmp)
    os.replace(tmp, out / "readiness.pdf")
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
