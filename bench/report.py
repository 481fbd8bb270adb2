"""Benchmark `evkit report` against the machine's own floor on the same bundle.

Generates a sealed bundle of N MailItemsAccessed records (default 1M) in the collector's raw
layout (ual.page responses of 5,000 rows, gzip level 6, sidecars), then measures in one run:

  floor  = SHA-256 of every payload file + a DuckDB JSON scan of the same pages counting their
           records (one parse of each page, read line by line with a typed record list, the
           fastest of DuckDB's JSON readers on them)
  report = `evkit report BUNDLE --case CASE --out DIR --signer-key PUB` in a subprocess (verification
           included)

and prints the ratio report/floor and the report's peak RSS. Targets (issue 5): <= 3x the
floor with peak RSS <= 1.5 GB at 1M records; peak RSS <= 2 GB at 10M.

The machine may be shared, so floor and report are measured --repeat times, alternately, and
the ratio is taken between the fastest of each (the run least disturbed by other load); the
median of each run's own ratio (floor and report measured back to back) and every run are
printed too.

  python bench/report.py [--records N] [--workdir DIR] [--keep] [--repeat N]
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


def floor(root: Path) -> float:
    import duckdb

    from evkit.manifests.hashing import hash_file   # page-aligned reads: the fastest hashing here

    start = time.perf_counter()
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
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench/out/report"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated bundle")
    ap.add_argument("--repeat", type=int, default=3, help="measure floor and report this many times")
    args = ap.parse_args()
    work = args.workdir / f"n{args.records}"
    bundle = work / "BENCH_C1"
    if not (args.keep and bundle.exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t = time.perf_counter()
        generate(bundle, args.records)
        print(f"generated {args.records:,} records in {time.perf_counter() - t:.1f}s", flush=True)
    case = work / "case.toml"
    case.write_text(f'[case]\nid = "BENCH"\nwindow = ["{WINDOW[0]}", "{WINDOW[1]}"]\n[indicators]\n'
                    f'accounts = ["user000@contoso.com"]\nips = ["{ATTACKER_IP}"]\n', encoding="utf-8")
    size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
    out = work / "out"
    _compile_project()
    floors, reports, peaks, headline = [], [], [], ""
    for n in range(1, args.repeat + 1):
        shutil.rmtree(out, ignore_errors=True)
        report_s, rss_mb, rc, stdout = run_report(bundle, case, out)
        if rc != 0:
            print(stdout)
            return 1
        headline = stdout.strip().splitlines()[0]
        floor_s = floor(bundle)
        floors.append(floor_s)
        reports.append(report_s)
        peaks.append(rss_mb)
        print(f"run {n}: floor {floor_s:.2f}s  report {report_s:.2f}s  ratio {report_s / floor_s:.2f}x  "
              f"peak RSS {rss_mb:.0f} MB  load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"records {args.records:,}  payload {size / 1e6:.0f} MB  cores {os.cpu_count()}  runs {args.repeat}")
    print(f"floor  {min(floors):.2f}s fastest, {statistics.median(floors):.2f}s median "
          "(SHA-256 of the payload + DuckDB JSON scan)")
    ratios = [r / f for r, f in zip(reports, floors)]
    print(f"report {min(reports):.2f}s fastest, {statistics.median(reports):.2f}s median  "
          f"ratio {min(reports) / min(floors):.2f}x (fastest/fastest), {statistics.median(ratios):.2f}x "
          f"(median of the runs' ratios)  peak RSS {max(peaks):.0f} MB")
    print(headline)
    return 0


def _compile_project() -> None:
    """Measure evkit as it runs once installed, with its modules' bytecode compiled: pip compiles
    it on install, an editable install on first use, except where PYTHONDONTWRITEBYTECODE is set
    (as on some build machines), where every run would compile about 50 modules again."""
    import compileall

    for package in ("evkit", "manifests", "collector", "report"):
        compileall.compile_dir(REPO / package, quiet=1)


def run_report(bundle: Path, case: Path, out: Path) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB of this run alone, exit status, output) of one `evkit report`."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "evkit", "report", str(bundle), "--case", str(case),
                                 "--out", str(out), "--signer-key", str(bundle.parent / "bench.key.pub")],
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return seconds, usage.ru_maxrss / 1024, proc.returncode, log.read()


if __name__ == "__main__":
    sys.exit(main())
