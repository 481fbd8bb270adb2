"""Collect audit evidence from a Microsoft 365 tenant into a sealed, signed bundle.

Usage:
  evkit collect --config FILE --out DIR [--key KEY] [--resume] [--quiet]
  evkit collect (-h | --help)

Options:
  --config FILE   collect.toml: case, tenant, cloud, auth, window, sources (docs/internals.md)
  --out DIR       the bundle directory to create (must not exist unless --resume)
  --key KEY       signing key (overrides [signing] key); passphrase from EVKIT_PASSPHRASE
  --resume        continue a run that was interrupted, in the same DIR
  --quiet         no progress bars

Secrets come from the environment variables the config names (client secret, certificate
key passphrase) and EVKIT_PASSPHRASE for the signing key; never from the command line.
Exit codes: 0 complete, 4 finished but something is not complete (summary on stderr),
1 failed, 2 usage or configuration error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evkit.collector.config import CollectConfig, load_config
from evkit.collector.errors import CollectorError, ConfigError
from evkit.clitools import UsageError, fail, read_secret, run_cli
from evkit.exitcodes import ExitCode
from evkit.manifests.errors import ManifestsError
from evkit.manifests.sealstate import SealState, seal_state

COMMAND = "collect"
PASSPHRASE_ENV = "EVKIT_PASSPHRASE"


def main(argv: Sequence[str]) -> int:
    return run_cli(__doc__, argv, _body)


def preflight(args: dict[str, Any]) -> tuple[CollectConfig, Any, Any]:
    """Every check that needs no network: config, secrets present, key loads, output dir."""
    from evkit.collector.auth import Credentials
    from evkit.manifests.keys import load_signing_key

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
    credentials = Credentials(client_secret=_env(cfg.auth.client_secret_env) if cfg.auth.method == "secret" else None,
                              key_passphrase=_env(cfg.auth.private_key_passphrase_env)
                              if cfg.auth.method == "certificate" else None)
    if cfg.auth.method == "secret" and not credentials.client_secret:
        raise ConfigError(f"auth.client_secret_env: set the environment variable {cfg.auth.client_secret_env}")
    if (cfg.auth.method == "certificate" and cfg.auth.private_key_passphrase_env
            and credentials.key_passphrase is None):
        raise ConfigError(f"auth.private_key_passphrase_env: set the environment variable "
                          f"{cfg.auth.private_key_passphrase_env}")
    passphrase = read_secret(PASSPHRASE_ENV, f"Passphrase for {key_path}: ")
    key = load_signing_key(key_path, passphrase)
    return cfg, credentials, key


def make_tokens(cfg: CollectConfig, credentials: Any) -> Any:
    """The token provider for a run (MSAL over the verifying session)."""
    from evkit.collector.auth import build_provider
    from evkit.collector.client import make_session

    session = make_session(str(cfg.endpoints.ca_bundle) if cfg.endpoints.ca_bundle else None,
                           cfg.tuning.timeout_seconds)
    return build_provider(cfg.auth, cfg.authority, credentials, session,
                          announce=lambda text: print(text, file=sys.stderr, flush=True))


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def _body(args: dict[str, Any]) -> int:
    from evkit.collector.run import collect

    try:
        cfg, credentials, key = preflight(args)
    except (ConfigError, UsageError) as exc:
        return fail(COMMAND, str(exc), ExitCode.USAGE)
    except (CollectorError, ManifestsError) as exc:
        return fail(COMMAND, str(exc), exc.exit_status)
    out = Path(args["--out"])
    try:
        tokens = make_tokens(cfg, credentials)
        outcome = collect(cfg, out, key=key, tokens=tokens, resume=bool(args["--resume"]),
                          quiet=bool(args["--quiet"]))
    except (CollectorError, ManifestsError) as exc:
        resumable = seal_state(out) is SealState.OPEN and not isinstance(exc, ConfigError)
        hint = f"; fix the cause and run again with --resume --out {out}" if resumable else ""
        return fail(COMMAND, f"{exc}{hint}", exc.exit_status)
    except OSError as exc:
        return fail(COMMAND, f"{exc}; the bundle in {out} stays open: run again with --resume")
    except Exception as exc:  # a bug must still leave one line and a resumable bundle, not a traceback
        logging.getLogger("collector").exception("internal error")
        return fail(COMMAND, f"internal error ({type(exc).__name__}: {exc}); the bundle in {out} stays open "
                             "and can be continued with --resume; please report this")
    if outcome.already_sealed:   # an earlier run committed the seal; this one had nothing to do
        print(f"evkit collect: {out} is already sealed by an earlier run; nothing to resume "
              f"(check it with `evkit verify {out} --signer-key PUB`)", file=sys.stderr)
    if outcome.complete:
        if not args["--quiet"]:
            print(f"evkit collect: complete; sealed {out} ({len(outcome.ledger)} units)", file=sys.stderr)
        return ExitCode.OK
    print(f"evkit collect: finished INCOMPLETE; sealed {out}. Not complete "
          f"({len(outcome.incomplete)} of {len(outcome.ledger)} units):", file=sys.stderr)
    for line in outcome.incomplete:
        print(f"  {line}", file=sys.stderr)
    return ExitCode.INCOMPLETE
