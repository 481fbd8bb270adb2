"""evkit readiness: could a mailbox breach be investigated from this tenant's logging today?

Usage:
  evkit readiness BUNDLE... --out DIR [--days N] [--signer-key PUB | --allowed-signers FILE]
                  [--allow-untrusted] [--allow-invalid] [--force]
  evkit readiness (-h | --help)

Options:
  --out DIR                where readiness.pdf and readiness.json are written; must be new or
                           empty unless --force
  --days N                 the investigation window the logs must cover, in days [default: 90]
  --signer-key PUB         the examiner's public key, as you received it out of band
  --allowed-signers FILE   an OpenSSH allowed_signers file of the examiners you trust
  --allow-untrusted        report on bundles not verified against a key you trust; every page,
                           readiness.json and the console say UNTRUSTED EVIDENCE
  --allow-invalid          report on bundles that fail verification; every page says INVALID EVIDENCE
  --force                  overwrite the outputs in a folder that already holds files

Reads the `config` and `licences` evidence of one or more bundles (a readiness collection is
`evkit collect` with only those two sources). Every bundle is verified first against the key you
trust: an invalid bundle is refused (exit 1), one not signed by a trusted key (or given no key)
is refused (exit 3), unless explicitly allowed; a bundle that cannot be read at all exits 3. When a configuration or
licence piece was not collected, both outputs are still written, say what is missing, and the
exit code is 4 (evidence incomplete). Same bundles, same bytes out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evkit.clitools import fail, run_cli
from evkit.exitcodes import ExitCode
from evkit.report.errors import InvalidEvidenceError, ReportError

if TYPE_CHECKING:
    from evkit.report.intake import Trust, VerifiedBundle

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
    from evkit.report.intake import Trust  # noqa: PLC0415 - keeps --help fast
    try:
        model, status = run_readiness([Path(b) for b in args["BUNDLE"]], Path(args["--out"]),
                                      days=days, trust=Trust.from_args(args), force=bool(args["--force"]))
    except InvalidEvidenceError as exc:
        for line in exc.findings:
            print(f"  {line}", file=sys.stderr)
        return fail(COMMAND, str(exc), exc.exit_status)
    except ReportError as exc:
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
    for warning in model["evidence_warnings"]:
        print(f"evkit readiness: warning: {warning}", file=sys.stderr)
    if model["missing_evidence"]:
        print(f"evkit readiness: warning: not collected: {', '.join(model['missing_evidence'])}",
              file=sys.stderr)
    return status


def run_readiness(bundles: Sequence[Path], out: Path, *, days: int, trust: Trust | None = None,
                  force: bool = False) -> tuple[dict[str, Any], int]:
    """Verify (report.intake), load, model and write both outputs; returns (model, exit status)."""
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
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "readiness.json", (json.dumps(model, sort_keys=True, separators=(",", ":"),
                                                      ensure_ascii=False) + "\n").encode("utf-8"))
    tmp = out / ".readiness.pdf.tmp"
    render_readiness(model, tmp)
    os.replace(tmp, out / "readiness.pdf")
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
