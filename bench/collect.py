"""Benchmark: `evkit collect` of the emulator's `large` scenario with added latency.

    .venv/bin/python bench/collect.py [--records N] [--days D] [--latency-ms MS] [--concurrency N]
                                      [--service current,legacy] [--sources ual,...] [--keep DIR]
                                      [--profile FILE]

Runs once per service named (`--service`, default both). The three target ratios, per run
(defaults: 1M records over 14 days, 1 s latency per call, concurrency 4):

  calls ratio        requests made for `ual` (every stored response: retries and redirects
                     included) / (ceil(records / 5,000) + 1 for the density probe). Target <= 1.3.
                     Also printed with the answers the service refused counted in the minimum:
                     under `current` some first calls answer nothing but a warning
                     (docs/emulator-fidelity.md UAL-4) and every collector must ask them again.
  fetch ratio        fetch-phase wall time / (calls x latency / concurrency). Target <= 1.25.
  CPU per record     collector CPU until the end of fetching / unique records. Target <= 25 us.

Starts `evkit emulator` in a process of its own (HTTPS on loopback, `latency_ms` added to
every API answer, at most --concurrency requests in flight per service; its own process so the
emulator and the collector do not share one interpreter lock), runs `evkit collect` as a
subprocess and reports besides: records/s, the CPU of the whole run (sealing hashes every byte
twice), and the CPU the emulator process used while the collector ran (its request handling:
on a machine with fewer cores than processes busy it shows up in the fetch ratio).

The fetch phase runs from the `collect.started` to the `collect.finished` event in the
bundle's events.log; sealing is reported on its own. With --keep the scenario is generated once
and reused by later runs with the same parameters. --profile FILE runs the collector under
cProfile in every thread (bench/profiled.py; the CPU figures then include the profiler).
Check free disk first: the scenario takes about 1.3 GB and the bundle about 1.5 GB per million
records.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evkit.manifests.keys import generate_key  # noqa: E402
from evkit.times import parse_iso_utc  # noqa: E402

PASSPHRASE = "bench passphrase"
READY_TIMEOUT = 3600.0  # generating 10M records takes about 15 minutes on the shared machine


def _start_emulator(workdir: Path, args: argparse.Namespace) -> subprocess.Popen:
    """`evkit emulator` in its own process; returns once connection.json exists (ready)."""
    workdir.mkdir(parents=True, exist_ok=True)  # a scenario generated there before is reused
    (workdir / "connection.json").unlink(missing_ok=True)
    log = open(workdir.parent / "emulator.log", "w", encoding="utf-8")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen([sys.executable, "-m", "evkit", "emulator", "--workdir", str(workdir),
                             "--scenario", "large", "--seed", str(args.seed), "--param", f"records={args.records}",
                             "--param", f"days={args.days}",
                             "--latency-ms", str(args.latency_ms), "--max-concurrency", str(args.concurrency),
                             "--service", args.service],
                            stdout=log, stderr=log)
    deadline = time.monotonic() + READY_TIMEOUT
    while not (workdir / "connection.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            raise SystemExit(f"bench/collect.py: the emulator did not start; see {workdir.parent / 'emulator.log'}")
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _process_cpu(pid: int) -> float:
    """utime + stime of a running process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _events(bundle: Path) -> tuple[dict[str, datetime], float]:
    """Times of the run's phase events, and the process CPU seconds at collect.finished."""
    times: dict[str, datetime] = {}
    cpu = 0.0
    for line in (bundle / "data" / "events.log").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["event"] in ("collect.started", "collect.finished", "sealing"):
            times.setdefault(entry["event"], parse_iso_utc(entry["time_utc"]))
        if entry["event"] == "collect.finished":
            cpu = float(entry.get("cpu_seconds", 0.0))
    return times, cpu


def _pages(bundle: Path, sources: list[str]) -> tuple[int, int]:
    """(requests answered 2xx, all stored responses) over the collected sources."""
    ok = total = 0
    for source in sources:
        for meta in (bundle / "data" / "raw" / source).rglob("*.meta.json"):
            side = json.loads(meta.read_bytes())
            total += 1
            ok += 200 <= side["status"] < 300
    return ok, total


def _refused(bundle: Path) -> int:
    """Answers the service refused: no rows and a warning (docs/emulator-fidelity.md UAL-4)."""
    count = 0
    for line in (bundle / "data" / "events.log").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        count += entry["event"] == "ual.warnings" and entry.get("rows") == 0
    return count


def _ual_ratios(bundle: Path, record: dict, args: argparse.Namespace, fetch: float, fetch_cpu: float,
                unique: int) -> None:
    """The three target ratios of the `ual` source."""
    entries = [e for e in record["ledger"] if e["source"] == "ual"]
    ual_unique = sum(e["unique_ids"] for e in entries)
    calls = _pages(bundle, ["ual"])[1]
    minimum = math.ceil(ual_unique / 5000) + 1
    refused = _refused(bundle)
    statuses: dict[str, int] = {}
    for e in entries:
        statuses[e["status"]] = statuses.get(e["status"], 0) + 1
    empty = sum(1 for e in entries if e["status"] == "complete" and not e["received"])
    floor = calls * args.latency_ms / 1000 / args.concurrency
    print(f"ual windows         {statuses}; {empty} empty (asked twice to prove it)")
    print(f"calls ratio         {calls / minimum:.2f} = {calls} calls / (ceil({ual_unique:,} / 5000) + 1 probe "
          f"= {minimum}) (target <= 1.30)")
    print(f"  refusals counted  {calls / (minimum + refused):.2f} = {calls} / ({minimum} + {refused} answers "
          f"refused with a warning and asked again)")
    print(f"fetch ratio         {fetch / max(floor, 1e-9):.2f} = {fetch:.1f} s / ({calls} calls x "
          f"{args.latency_ms} ms / {args.concurrency} = {floor:.1f} s) (target <= 1.25)")
    print(f"CPU per record      {fetch_cpu / max(unique, 1) * 1e6:.1f} us until the end of fetching, start-up "
          f"included (target <= 25)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14, help="the scenario's span, ending 2023-06-15")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--service", default="current,legacy", help="comma-separated: current, legacy")
    parser.add_argument("--sources", default="ual")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    parser.add_argument("--profile", type=Path, default=None, help="write the collector's cProfile statistics here")
    args = parser.parse_args(argv)
    status = 0
    for service in [s.strip() for s in args.service.split(",") if s.strip()]:
        print(f"== service {service}: {args.records:,} records over {args.days} days, {args.latency_ms} ms latency, "
              f"concurrency {args.concurrency}")
        status = max(status, run_one(argparse.Namespace(**{**vars(args), "service": service})))
    return status


def run_one(args: argparse.Namespace) -> int:
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    work = (args.keep / args.service) if args.keep else Path(tempfile.mkdtemp(prefix="evkit-bench-collect-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        key = work / "bench.key"
        if not key.exists():
            generate_key(key, "bench@firm.example", PASSPHRASE)
        t0 = time.perf_counter()
        emu_dir = work / "emu"
        emulator = _start_emulator(emu_dir, args)
        try:
            print(f"scenario ready      {time.perf_counter() - t0:.1f} s")
            connection = json.loads((emu_dir / "connection.json").read_bytes())
            text = (emu_dir / "collect.toml").read_text(encoding="utf-8")
            text, replaced = re.subn(r"(?m)^sources = \[.*\]$", lambda _: "sources = " + json.dumps(sources), text)
            if replaced != 1:
                raise SystemExit(f"bench/collect.py: no `sources = [...]` line in {emu_dir / 'collect.toml'}")
            text += f"\n[tuning]\nconcurrency = {args.concurrency}\n"
            config = emu_dir / "bench-collect.toml"  # beside ca.pem and the app credential
            config.write_text(text, encoding="utf-8")
            bundle = work / "bundle"
            shutil.rmtree(bundle, ignore_errors=True)
            env = dict(os.environ, EVKIT_PASSPHRASE=PASSPHRASE,
                       EVKIT_CERT_PASSPHRASE=connection["certificate"]["key_passphrase"])
            emu_cpu0 = _process_cpu(emulator.pid)
            cpu0, wall0 = _children_cpu(), time.perf_counter()
            runner = [sys.executable]
            if args.profile:
                runner += [str(REPO / "bench" / "profiled.py"), str(args.profile)]
            proc = subprocess.run([*runner, "-m", "evkit", "collect", "--config", str(config),
                                   "--out", str(bundle), "--key", str(key), "--quiet"],
                                  env=env, capture_output=True, text=True, check=False)
            wall, cpu = time.perf_counter() - wall0, _children_cpu() - cpu0
            emulator_cpu = _process_cpu(emulator.pid) - emu_cpu0
            truth = json.loads((emu_dir / "ground-truth.json").read_bytes())
        finally:
            _stop(emulator)
        if proc.returncode not in (0, 4):
            print(proc.stderr, file=sys.stderr)
            return 1
        record = json.loads((bundle / "data" / "collection.json").read_bytes())
        unique = sum(e["unique_ids"] for e in record["ledger"] if e["source"] in ("ual", "mgmt", "graph"))
        events, fetch_cpu = _events(bundle)
        fetch = (events["collect.finished"] - events["collect.started"]).total_seconds()
        seal = wall - fetch
        ok_pages, stored = _pages(bundle, sources)
        size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
        print(f"exit code           {proc.returncode}")
        print(f"records (truth)     {truth['logged']['total']:,}; unique collected {unique:,}")
        print(f"requests            {ok_pages:,} answered, {stored:,} responses stored (retries included)")
        print(f"fetch phase         {fetch:.1f} s; whole run {wall:.1f} s (start-up and sealing {seal:.1f} s)")
        print(f"records/s           {unique / fetch:,.0f} (fetch phase), {unique / wall:,.0f} (whole run)")
        print(f"CPU whole run       {cpu / max(unique, 1) * 1e6:.1f} us per record (sealing hashes every byte "
              f"with SHA-256 and SHA-512)")
        print(f"emulator CPU        {emulator_cpu:.1f} s ({emulator_cpu / max(unique, 1) * 1e6:.1f} us per record) "
              f"in its own process while the collector ran")
        print(f"bundle payload      {size / 1e9:.2f} GB")
        if "ual" in sources:
            _ual_ratios(bundle, record, args, fetch, fetch_cpu, unique)
        if unique != truth["logged"]["total"]:
            print(f"RECORDS DIFFER      {unique:,} collected, {truth['logged']['total']:,} in the ground truth")
            return 1
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
