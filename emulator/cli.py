"""`evkit emulator`: run the fake Microsoft 365 in the foreground until SIGINT/SIGTERM.

Parsed with argparse (the emulator imports no product code, and docopt lives in evkit only).
Usage errors are one line on stderr with exit 2; start-up failures one line with exit 1."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from evkit.emulator.errors import EmulatorError, UsageError
from evkit.emulator.faults import parse_faults
from evkit.emulator.options import SERVICES, WITHHOLDABLE, Options
from evkit.emulator.server import Emulator

USAGE = "evkit emulator --workdir DIR [--scenario NAME] [--seed N] [--port N] [--faults SPEC] [options]"
EPILOG = """\
fault SPEC: comma-separated NAME=VALUE items, e.g.
  429=0.05,429-no-retry-after=0.02,503=0.02,504=0.01,reset=0.01,slow=0.02:2.0,truncate=0.01,
  token-expiry=120,restart=0.05,cap-window=2026-06-10T00:00:00Z/2026-06-10T01:00:00Z
  429 / 429-no-retry-after / af429-403 / 503 / 504 / reset / truncate / restart = P (0..1)
  slow=P:SECONDS   token-expiry=SECONDS   retry-after=SECONDS   cap-window=START/END (repeatable)
Faults are deterministic for a given --seed and never touch the login authority.
See emulator/README.md for every endpoint and option.
Exit codes: 0 clean shutdown, 1 could not start, 2 usage error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    p = _Parser(prog="evkit emulator", usage=USAGE, epilog=EPILOG, add_help=True,
                formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Fake Microsoft 365 over HTTPS on loopback, with scenarios, ground truth and faults.")
    p.add_argument("--workdir", required=True, metavar="DIR", help="where connection.json, ca.pem, ... are written")
    p.add_argument("--scenario", default="bec-basic", metavar="NAME", help="bec-basic | throttled | misconfigured | large")
    p.add_argument("--service", choices=SERVICES, default="current",
                   help="current: Microsoft 365 as of 2026 (default) | legacy: the older behaviour")
    p.add_argument("--seed", type=int, default=1, metavar="N")
    p.add_argument("--port", type=int, default=0, metavar="N", help="0 (default): any free port")
    p.add_argument("--faults", default=None, metavar="SPEC")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="scenario parameter, repeatable (e.g. --scenario large --param records=10000000)")
    p.add_argument("--latency-ms", type=int, default=0, metavar="MS",
                   help="every API answer takes at least this long (its own work included)")
    p.add_argument("--token-lifetime", type=int, default=3599, metavar="S", help="expires_in of issued tokens")
    p.add_argument("--max-concurrency", type=int, default=0, metavar="N",
                   help="per-service in-flight cap; requests over it get 429 (0: none)")
    p.add_argument("--now", default=None, metavar="TIME", help="virtual now (default: scenario end)")
    p.add_argument("--withhold", action="append", default=[], metavar="PERM",
                   help=f"permission the app lacks, repeatable: {', '.join(WITHHOLDABLE)}")
    p.add_argument("--deny-cmdlet", action="append", default=[], metavar="NAME",
                   help="cmdlet answered with adminapi's NUL-byte 403, repeatable")
    p.add_argument("--graph-v1", action="store_true", help="legacy only: serve v1.0 audit queries (current always does)")
    p.add_argument("--mgmt-subscriptions", choices=("enabled", "none"), default="",
                   help="whether subscriptions are on before anyone starts them (default: off under current, "
                        "on under legacy)")
    p.add_argument("--device-interval", type=int, default=5, metavar="S")
    return p


def _options(argv: Sequence[str]) -> tuple[Options, str]:
    args = _parser().parse_args(list(argv))
    parse_faults(args.faults)  # fail before anything is generated
    params: dict[str, Any] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    now = None
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--now {args.now!r}: not an ISO 8601 time like 2026-06-30T00:00:00Z") from None
        now = (now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    options = Options.from_kwargs(
        scenario=args.scenario, service=args.service, seed=args.seed, port=args.port, faults=args.faults,
        latency_ms=args.latency_ms,
        token_lifetime=args.token_lifetime, max_concurrency=args.max_concurrency, now=now,
        withhold=tuple(args.withhold), deny_cmdlets=tuple(args.deny_cmdlet), graph_v1=args.graph_v1,
        mgmt_subscriptions=args.mgmt_subscriptions, device_interval=args.device_interval,
        scenario_params=params or None)
    return options, args.workdir


def main(argv: Sequence[str]) -> int:
    """argv[0] is the command name ("emulator"), as evkit's dispatcher passes it."""
    args = list(argv[1:]) if argv and argv[0] == "emulator" else list(argv)
    try:
        options, workdir = _options(args)
        emulator = Emulator(workdir, options)
        emulator.start()
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except EmulatorError as exc:
        print(f"evkit emulator: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:  # Ctrl-C while the scenario is built, before the signal handler below
        print("evkit emulator: interrupted.", file=sys.stderr)
        return 130
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    info = emulator.connection
    print(f"evkit emulator: {info['scenario']} (seed {info['seed']}) serving {info['url']}; "
          f"connection details in {workdir}/connection.json. Ctrl-C to stop.", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("evkit emulator: stopped.", file=sys.stderr)
    return 0
