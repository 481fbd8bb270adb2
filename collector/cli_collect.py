"""Collect audit evidence from a Microsoft 365 tenant into a sealed, signed bundle.

Usage:
  evkit collect --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit collect --config FILE --check
  evkit collect (-h | --help)

Options:
  --config FILE   collect.toml: case, tenant, cloud, auth, window, sources (docs/internals.md)
  --out DIR       the bundle directory to create (must not exist unless --resume)
  --key KEY       signing key (overrides [signing] key); passphrase from EVKIT_PASSPHRASE
  --resume        continue a run that was interrupted, in the same DIR
  --quiet         no progress bars (the final summary line is still printed)
  --check         pre-flight: ask each source's API once and name every missing permission or
                  role with its fix; writes nothing; exit 0 only when all is in place, else 1

Secrets come from the environment variables the config names (client secret, certificate
key passphrase) and EVKIT_PASSPHRASE for the signing key; never from the command line.
Exit codes: 0 complete, 4 finished but something is not complete (summary on stderr),
1 failed, 2 usage or configuration error, 130 interrupted (Ctrl-C): the bundle stays open and
`evkit collect --config FILE --out DIR --resume` continues it without losing or repeating a record.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.collector.config import CollectConfig, load_config
from evkit.collector.errors import ConfigError
from evkit.collector.ledger import covered
from evkit.clitools import read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.terminal import safe_text
from evkit.manifests.sealstate import SealState, seal_state

COMMAND = "collect"
PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def main(argv: Sequence[str]) -> int:
    return run_cli(__doc__, argv, _body, hint=resume_hint)


def resume_hint(args: dict[str, Any], exc: BaseException) -> str:
    """After a failure or Ctrl-C: how to continue, when the bundle in --out was left open."""
    if not args["--out"]:
        return ""
    out = Path(args["--out"])
    if isinstance(exc, ConfigError) or seal_state(out) is not SealState.OPEN:
        return ""
    command = ["evkit", "collect", "--config", args["--config"], "--out", args["--out"]]
    command += ["--key", args["--key"]] if args["--key"] else []
    step = "continue" if isinstance(exc, KeyboardInterrupt) else "fix the cause, then continue"
    return f"; the bundle in {out} stays open: {step} with `{shlex.join([*command, '--resume'])}`"


def preflight(args: dict[str, Any]) -> tuple[CollectConfig, Any, Any]:
    """Every check that needs no network: config, secrets present, key loads, output dir."""
    from evkit.manifests.keys import load_signing_key  # noqa: PLC0415 - keeps `--help` start-up light

    cfg = load_config(Path(args["--config"]))
    out = Path(args["--out"])
    if args["--resume"]:
        if not out.is_dir():
            raise ConfigError(f"--out {out}: nothing to resume (no such bundle directory)")
    elif os.path.lexists(out):
        raise ConfigError(f"--out {out}: already exists; choose a new directory or add --resume")
    key_path = Path(args["--key"]) if args["--key"] else cfg.signing_key
    if key_path is None:
        raise ConfigError("signing.key: missing (give --key KEY or set [signing] key in the config)")
    credentials = credentials_for(cfg)
    passphrase = read_secret(PASSPHRASE_ENV, f"Passphrase for {key_path}: ")
    key = load_signing_key(key_path, passphrase)
    return cfg, credentials, key


def credentials_for(cfg: CollectConfig) -> Any:
    """The app's secret or certificate passphrase from the environment variables the config names."""
    from evkit.collector.auth import Credentials  # noqa: PLC0415 - keeps `--help` start-up light

    credentials = Credentials(client_secret=_env(cfg.auth.client_secret_env) if cfg.auth.method == "secret" else None,
                              key_passphrase=_env(cfg.auth.private_key_passphrase_env)
                              if cfg.auth.method == "certificate" else None)
    if cfg.auth.method == "secret" and not credentials.client_secret:
        raise ConfigError(f"auth.client_secret_env: set the environment variable {cfg.auth.client_secret_env}")
    if (cfg.auth.method == "certificate" and cfg.auth.private_key_passphrase_env
            and credentials.key_passphrase is None):
        raise ConfigError(f"auth.private_key_passphrase_env: set the environment variable "
                          f"{cfg.auth.private_key_passphrase_env}")
    return credentials


def run_check(args: dict[str, Any]) -> int:
    """`--check`: one line per probe on stdout; exit 0 only when nothing is missing."""
    from evkit.collector.auth import make_tokens  # noqa: PLC0415 - keeps `--help` start-up light
    from evkit.collector.check import check  # noqa: PLC0415 - keeps `--help` start-up light

    cfg = load_config(Path(args["--config"]))
    report = check(cfg, make_tokens(cfg, credentials_for(cfg)))
    for line in report.render():
        print(line)
    if report.ok:
        print("evkit collect --check: every permission the configured sources need is in place", file=sys.stderr)
        return ExitCode.OK
    print(f"evkit collect --check: {len(report.problems())} problem(s); fix them and run --check again",
          file=sys.stderr)
    return ExitCode.FAILED


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def _body(args: dict[str, Any]) -> int:
    from evkit.collector.auth import make_tokens  # noqa: PLC0415 - keeps `--help` start-up light
    from evkit.collector.run import collect  # noqa: PLC0415 - keeps `--help` start-up light

    if args["--check"]:
        return run_check(args)
    cfg, credentials, key = preflight(args)
    out = Path(args["--out"])
    tokens = make_tokens(cfg, credentials)
    outcome = collect(cfg, out, key=key, tokens=tokens, resume=bool(args["--resume"]),
                      quiet=bool(args["--quiet"]))
    if outcome.already_sealed:   # an earlier run committed the seal; this one had nothing to do
        print(f"evkit collect: {out} is already sealed by an earlier run; nothing to resume "
              f"(check it with `evkit verify {out} --signer-key PUB`)", file=sys.stderr)
    if outcome.complete:  # the summary line even with --quiet: scripts log what happened
        print(f"evkit collect: complete; sealed {out} ({len(outcome.ledger)} units)", file=sys.stderr)
        for line in outcome.notes:  # skips another source covers: stated in the ledger, not gaps
            print(f"  skipped, covered by another source: {safe_text(line)}", file=sys.stderr)
        return ExitCode.OK
    gaps = sum(e.status != "complete" and not covered(e) for e in outcome.ledger)
    print(f"evkit collect: finished INCOMPLETE; sealed {out}. Not complete "
          f"({gaps} of {len(outcome.ledger)} units):", file=sys.stderr)
    for line in outcome.incomplete:
        print(f"  {safe_text(line)}", file=sys.stderr)
    return ExitCode.INCOMPLETE
