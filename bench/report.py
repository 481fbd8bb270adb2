"""Benchmark `evkit report` against the machine's own floor on the same bundle.

Generates a sealed bundle of N MailItemsAccessed records (default 1M) in the collector's raw
layout (ual.page responses of 5,000 rows, gzip level 6, sidecars), then measures in one run:

  floor  = SHA-256 of every payload file + a DuckDB JSON scan of the same pages counting their
           records (one parse of each page, read line by line with a typed record list, the
           fastest of DuckDB's JSON readers on them)
  cold   = `evkit report BUNDLE --case CASE --out DIR --signer-key PUB --cache-dir EMPTY` in a
           subprocess: the first report over the bundle (verification included), which parses
           every page and stores the normalised tables in the cache (docs/report-cache.md)
  warm   = the same with another case file (one more indicator) and the cache the cold run
           wrote: verification in full, then the tables read from the cache
  (--uncached: also `--no-cache`, what the cold report costs without writing the cache)

and prints cold/floor, warm/cold and each report's peak RSS (VmHWM of the report process), and
the CPU seconds of each (user + system), which other load on a shared machine disturbs less
than the wall-clock ratios.
Targets (issue 18): cold <= 2.5x the floor with peak RSS <= 1.5 GB at 1M records, warm <= 0.4x
the cold report; at 10M records (--records 10000000) peak RSS <= 2 GB.

The machine may be shared, so every measure is taken --repeat times, alternately; each run's
ratios are taken between measures made back to back, and the medians of those are the figures
(the fastest of each measure is printed too).

  python bench/report.py [--records N] [--workdir DIR] [--keep] [--repeat N] [--uncached]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # manifests, for the bundle and the floor

PAGE = 5000
USERS = 200
PASSPHRASE = "bench-passphrase"
WINDOW = ("2023-06-01T00:00:00Z", "2023-07-01T00:00:00Z")
ATTACKER_IP = "203.0.113.7"


def _record(i: int, rng: random.Random) -> dict:
    user = f"user{i % USERS:03d}@contoso.com"
    attacker = i % 997 == 0 and i % USERS < 3
    t = 1685577600 + (i * 2592000) // 1_000_000 % 2592000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    folder = ("\\Inbox", "\\Sent Items", "\\Archive", "\\Projects")[i % 4]
    items = [{"InternetMessageId": f"<m{(i * 7 + k) % 50000}.{i % USERS}@contoso.com>",
              "SizeInBytes": 1000 + k} for k in range(1 + i % 3)]
    return {
        "CreationTime": stamp, "Id": f"{rng.getrandbits(128):032x}", "Operation": "MailItemsAccessed",
        "OrganizationId": "8f4a1c62-77d3-4b0e-9a55-2c1de9f80b31", "RecordType": 50,
        "ResultStatus": "Succeeded", "UserKey": "10032000ABCDEF12", "UserType": 0, "Version": 1,
        "Workload": "Exchange", "UserId": user, "AppId": "00000002-0000-0ff1-ce00-000000000000",
        "ClientIPAddress": ATTACKER_IP if attacker else f"192.0.2.{i % USERS % 250}",
        "ClientInfoString": "Client=OWA;Action=ViaProxy", "ExternalAccess": False, "InternalLogonType": 0,
        "LogonType": 0, "MailboxGuid": "bd6abed2-5d3b-4206-aada-31ca71605e63", "MailboxOwnerUPN": user,
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"},
                                {"Name": "IsThrottled", "Value": "False"}],
        "OrganizationName": "contoso.onmicrosoft.com", "OriginatingServer": "AM0PR01MB1234 (15.20.7409.000)\r\n",
        "SessionId": f"s-{i % USERS}-{i // 50000}" if not attacker else "attacker-session",
        "Folders": [{"Id": "LgAAAAALcWhVmnTeRJS8qp8HxA25AQC/yWJ3KK0XQJ7UyikjUZtEAAAAAAEMAAAB", "Path": folder,
                     "FolderItems": items}],
        "OperationCount": len(items),
    }


def generate(root: Path, records: int) -> None:
    from evkit.manifests.bundle import BundleWriter
    from evkit.manifests.keys import generate_key, load_signing_key

    keyfile = root.parent / "bench.key"
    if not keyfile.exists():
        generate_key(keyfile, "bench@firm.example", PASSPHRASE)
    key = load_signing_key(keyfile, PASSPHRASE)
    rng = random.Random(1)
    writer = BundleWriter.create(root, case_id="BENCH", collection_id="C1")
    unit = "20230601T000000Z_20230701T000000Z"
    for n, start in enumerate(range(0, records, PAGE), 1):
        rows = []
        for i in range(start, min(start + PAGE, records)):
            rec = _record(i, rng)
            rows.append({"RecordId": rec["Id"], "CreationDate": rec["CreationTime"], "RecordType": 50,
                         "Operations": "MailItemsAccessed", "UserIds": rec["UserId"],
                         "AuditData": json.dumps(rec, separators=(",", ":")),
                         "ResultIndex": i - start + 1, "ResultCount": records})
        body = json.dumps({"@odata.context": "bench", "@adminapi.warnings": [], "value": rows},
                          separators=(",", ":")).encode()
        name = f"p{n:06d}"
        writer.write(f"raw/ual/{unit}/{name}.json.gz", gzip.compress(body, 6, mtime=0))
        sidecar = {"kind": "ual.page", "source": "ual", "method": "POST", "url": "bench", "request_body": {},
                   "status": 200, "headers": {}, "received_utc": "2023-07-02T00:00:00Z",
                   "server_date_utc": "2023-07-02T00:00:00Z", "body_file": f"{name}.json.gz",
                   "body_size": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
                   "stored_encoding": "gzip", "attempt": 1, "context": {}}
        writer.write(f"raw/ual/{unit}/{name}.meta.json", json.dumps(sidecar, sort_keys=True).encode() + b"\n")
    collection = {"schema": "evkit.collection/1", "kind": "collect", "case_id": "BENCH", "collection_id": "C1",
                  "window": {"start": WINDOW[0], "end": WINDOW[1]}, "finished_utc": "2023-07-02T00:00:00Z",
                  "ledger": [{"source": "ual", "unit": unit, "window": {"start": WINDOW[0], "end": WINDOW[1]},
                              "expected": records, "received": records, "unique_ids": records, "retries": 0,
                              "status": "complete", "reason": ""}]}
    writer.seal(key, bag_info={"Source-Organization": "bench"}, collection=collection)


def floor(root: Path) -> tuple[float, float]:
    """(seconds, CPU seconds) of the floor."""
    import resource

    import duckdb

    from evkit.manifests.hashing import hash_file   # page-aligned reads: the fastest hashing here

    start, cpu = time.perf_counter(), _cpu(resource.getrusage(resource.RUSAGE_SELF))
    for path in sorted((root / "data").rglob("*")):
        if path.is_file():
            hash_file(path)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET enable_progress_bar = false")  # 10M records: a long scan would draw one
    pages = (root / "data" / "raw" / "ual").as_posix() + "/*/*.json.gz"
    # the fastest way DuckDB has to read, parse and count the records of these pages: read_json
    # with a typed list parses each single-line body once and takes one short field per record
    # (read_json_objects parses every body once to validate it, and json_array_length again)
    con.execute(f"SELECT sum(len(value)) FROM read_json('{pages}', format = 'newline_delimited', "
                "records = true, columns = {value: 'STRUCT(RecordId VARCHAR)[]'}, "
                "maximum_object_size = 100663296)").fetchall()
    return time.perf_counter() - start, _cpu(resource.getrusage(resource.RUSAGE_SELF)) - cpu


def _cpu(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def prepared_bundle(workdir: Path, records: int, *, keep: bool) -> tuple[Path, Path]:
    """(work folder, bundle) of `records` records under `workdir`, generated unless `keep` finds
    one there already."""
    work = workdir / f"n{records}"
    bundle = work / "BENCH_C1"
    if not (keep and bundle.exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t = time.perf_counter()
        generate(bundle, records)
        print(f"generated {records:,} records in {time.perf_counter() - t:.1f}s", flush=True)
    return work, bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench/out/report"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated bundle")
    ap.add_argument("--repeat", type=int, default=3, help="measure floor and reports this many times")
    ap.add_argument("--uncached", action="store_true", help="also measure a cold report with --no-cache")
    args = ap.parse_args()
    work, bundle = prepared_bundle(args.workdir, args.records, keep=args.keep)
    indicators = f'accounts = ["user000@contoso.com"]\nips = ["{ATTACKER_IP}"]\n'
    case = work / "case.toml"
    case.write_text(f'[case]\nid = "BENCH"\nwindow = ["{WINDOW[0]}", "{WINDOW[1]}"]\n[indicators]\n{indicators}',
                    encoding="utf-8")
    case2 = work / "case-warm.toml"   # the analyst's next run: one indicator more
    case2.write_text(case.read_text(encoding="utf-8").replace('ips = ["', 'ips = ["198.51.100.23", "'),
                     encoding="utf-8")
    size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
    out, cache = work / "out", work / "cache"
    _compile_project()
    m: dict[str, list[float]] = {k: [] for k in ("floor", "cold", "warm", "uncached", "rss_cold", "rss_warm",
                                                  "rss_uncached", "cpu_floor", "cpu_cold", "cpu_warm",
                                                  "cpu_uncached")}
    headline = ""
    for n in range(1, args.repeat + 1):
        shutil.rmtree(cache, ignore_errors=True)
        line = f"run {n}:"
        plan = [("cold", case, ["--cache-dir", str(cache)]), ("warm", case2, ["--cache-dir", str(cache)])]
        plan += [("uncached", case, ["--no-cache"])] if args.uncached else []
        for label, case_file, extra in plan:
            shutil.rmtree(out, ignore_errors=True)
            seconds, rss_mb, rc, stdout, cpu = run_report(bundle, case_file, out, extra)
            if rc != 0 or (label == "warm") != ("read from the cache" in stdout):
                print(stdout)
                return 1
            headline = headline or stdout.strip().splitlines()[0]
            m[label].append(seconds)
            m[f"rss_{label}"].append(rss_mb)
            m[f"cpu_{label}"].append(cpu)
            line += f"  {label} {seconds:.2f}s ({rss_mb:.0f} MB)"
        floor_s, floor_cpu = floor(bundle)
        m["floor"].append(floor_s)
        m["cpu_floor"].append(floor_cpu)
        print(f"{line}  floor {m['floor'][-1]:.2f}s  cold/floor {m['cold'][-1] / m['floor'][-1]:.2f}x  "
              f"warm/cold {m['warm'][-1] / m['cold'][-1]:.2f}x  load {os.getloadavg()[0]:.2f}", flush=True)
    med = statistics.median
    print(f"records {args.records:,}  payload {size / 1e6:.0f} MB  cores {os.cpu_count()}  runs {args.repeat}")
    print_measures(m, ("cold", "warm", "uncached"))
    print(f"cold/floor {med([c / f for c, f in zip(m['cold'], m['floor'])]):.2f}x (target <= 2.5)  "
          f"warm/cold {med([w / c for w, c in zip(m['warm'], m['cold'])]):.2f}x (target <= 0.4)  "
          f"peak RSS {max(m['rss_cold'] + m['rss_warm'] + m['rss_uncached']):.0f} MB "
          f"(target <= {1.5 if args.records <= 1_000_000 else 2.0} GB)")
    print(f"in CPU seconds: cold/floor {med([c / f for c, f in zip(m['cpu_cold'], m['cpu_floor'])]):.2f}x  "
          f"warm/cold {med([w / c for w, c in zip(m['cpu_warm'], m['cpu_cold'])]):.2f}x")
    print(headline)
    return 0


def print_measures(m: dict[str, list[float]], labels: tuple[str, ...]) -> None:
    """The floor's line, then one line per measure taken: fastest and median time, the median of
    the runs' ratios to the floor, peak RSS and CPU (bench/export.py prints the same way)."""
    med = statistics.median
    print(f"floor  {min(m['floor']):.2f}s fastest, {med(m['floor']):.2f}s median, CPU {med(m['cpu_floor']):.1f}s "
          "(SHA-256 of the payload + DuckDB JSON scan)")
    for label in labels:
        if m[label]:
            ratios = [r / f for r, f in zip(m[label], m["floor"])]
            cpu = [r / f for r, f in zip(m[f"cpu_{label}"], m["cpu_floor"])]
            print(f"{label:8s} {min(m[label]):.2f}s fastest, {med(m[label]):.2f}s median  "
                  f"{med(ratios):.2f}x the floor (median of the runs' ratios; "
                  f"{min(m[label]) / min(m['floor']):.2f}x fastest/fastest)  "
                  f"peak RSS {max(m[f'rss_{label}']):.0f} MB  CPU {med(m[f'cpu_{label}']):.1f}s, "
                  f"{med(cpu):.2f}x the floor's")


def _compile_project() -> None:
    """Measure evkit as it runs once installed, with its modules' bytecode compiled: pip compiles
    it on install, an editable install on first use, except where PYTHONDONTWRITEBYTECODE is set
    (as on some build machines), where every run would compile about 50 modules again."""
    import compileall

    for package in ("evkit", "manifests", "collector", "report"):
        compileall.compile_dir(REPO / package, quiet=1)


def run_report(bundle: Path, case: Path, out: Path, extra: list[str]) -> tuple[float, float, int, str, float]:
    """(seconds, peak RSS in MB, exit status, output, CPU seconds) of one `evkit report`."""
    return run_evkit(["report", str(bundle), "--case", str(case), "--out", str(out),
                      "--signer-key", str(bundle.parent / "bench.key.pub"), *extra])


def run_evkit(args: list[str]) -> tuple[float, float, int, str, float]:
    """(seconds, peak RSS in MB, exit status, output, CPU seconds) of one `evkit ARGS...`. The peak
    is the process's VmHWM, read until it exits: ru_maxrss would keep this (forking) process's
    figure across exec."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "evkit", *args],
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        peak_kb = 0
        status = Path(f"/proc/{proc.pid}/status")
        while True:
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                hwm = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
                peak_kb = max(peak_kb, int(hwm[0].split()[1])) if hwm else peak_kb
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        log.seek(0)
        return seconds, peak_kb / 1024, proc.returncode, log.read(), _cpu(usage)


if __name__ == "__main__":
    sys.exit(main())
