"""Benchmark `evkit export` against the machine's own floor on the same bundle.

The bundle and the floor are bench/report.py's (N MailItemsAccessed records in the collector's
raw layout; floor = SHA-256 of every payload file + one DuckDB JSON scan counting the records).
Measured in one run, --repeat times, alternately:

  cold   = `evkit export BUNDLE --out DIR --signer-key PUB --cache-dir EMPTY` (Parquet) in a
           subprocess, verification included: parses every page (and stores the table cache)
  warm   = the same with the cache `evkit report` wrote over the same bundle just before (the
           report is not measured): verification in full, then the tables read from the cache

and prints each export's ratio to the floor (the median of each run's own ratio; fastest/fastest
too), its peak RSS (VmHWM) and CPU seconds. Each warm export's files are compared with the cold
one's: the same bytes (export.json aside, which names no cache). Targets (issue 18): <= 1.5x the
floor at 1M records; peak RSS <= 2 GB at 10M.

  python bench/export.py [--records N] [--workdir DIR] [--keep] [--repeat N] [--format parquet|csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_report():
    """bench/report.py (its bundle generator and floor), loaded by path: `report` is also a
    package folder of the repository."""
    spec = importlib.util.spec_from_file_location("bench_report", HERE / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_export(bundle: Path, out: Path, fmt: str, cache: Path) -> tuple[float, float, int, str, float]:
    """(seconds, peak RSS in MB of this run alone, exit status, output, CPU seconds) of one
    `evkit export`."""
    return _bench_report().run_evkit(
        ["export", str(bundle), "--out", str(out), "--format", fmt, "--cache-dir", str(cache),
         "--signer-key", str(bundle.parent / "bench.key.pub")])


def _files(out: Path) -> dict[str, str]:
    """Every file of an export with its SHA-256, as export.json lists them."""
    return json.loads((out / "export.json").read_text(encoding="utf-8"))["files"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench/out/export"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated bundle")
    ap.add_argument("--repeat", type=int, default=3, help="measure floor and exports this many times")
    ap.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    args = ap.parse_args()
    bench = _bench_report()
    work, bundle = bench.prepared_bundle(args.workdir, args.records, keep=args.keep)
    size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
    case = work / "case-export.toml"
    case.write_text(f'[case]\nid = "BENCH"\nwindow = ["{bench.WINDOW[0]}", "{bench.WINDOW[1]}"]\n'
                    f'[indicators]\nips = ["{bench.ATTACKER_IP}"]\n', encoding="utf-8")
    cache, report_out = work / "export-cache", work / "export-report"
    bench._compile_project()  # noqa: SLF001 - measured as bench/report.py measures the report
    m: dict[str, list[float]] = {k: [] for k in ("floor", "cold", "warm", "rss_cold", "rss_warm", "cpu_floor",
                                                  "cpu_cold", "cpu_warm")}
    written = 0
    for n in range(1, args.repeat + 1):
        line = f"run {n}:"
        files: dict[str, dict[str, str]] = {}
        for label in ("cold", "warm"):
            shutil.rmtree(cache, ignore_errors=True)
            if label == "warm":
                shutil.rmtree(report_out, ignore_errors=True)
                _, _, rc, stdout, _ = bench.run_report(bundle, case, report_out, ["--cache-dir", str(cache)])
                if rc != 0 or "now cached" not in stdout:
                    print(stdout)
                    return 1
            out = work / f"export-{label}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, rss_mb, rc, stdout, cpu = run_export(bundle, out, args.format, cache)
            expected = "read from the cache" if label == "warm" else "now cached"
            if rc != 0 or expected not in stdout:
                print(stdout)
                return 1
            files[label] = _files(out)
            written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            m[label].append(seconds)
            m[f"rss_{label}"].append(rss_mb)
            m[f"cpu_{label}"].append(cpu)
            line += f"  {label} {seconds:.2f}s ({rss_mb:.0f} MB, CPU {cpu:.1f}s)"
            shutil.rmtree(out, ignore_errors=True)
        if files["cold"] != files["warm"]:
            print("the warm export's files differ from the cold one's")
            return 1
        floor_s, floor_cpu = bench.floor(bundle)
        m["floor"].append(floor_s)
        m["cpu_floor"].append(floor_cpu)
        print(f"{line}  floor {floor_s:.2f}s  cold/floor {m['cold'][-1] / floor_s:.2f}x  "
              f"warm/floor {m['warm'][-1] / floor_s:.2f}x  load {os.getloadavg()[0]:.2f}", flush=True)
    med = statistics.median
    print(f"records {args.records:,}  payload {size / 1e6:.0f} MB  export {written / 1e6:.0f} MB ({args.format})  "
          f"cores {os.cpu_count()}  runs {args.repeat}")
    bench.print_measures(m, ("cold", "warm"))
    print(f"warm/floor {med([w / f for w, f in zip(m['warm'], m['floor'])]):.2f}x (target <= 1.5)  "
          f"peak RSS {max(m['rss_cold'] + m['rss_warm']):.0f} MB "
          f"(target <= {1.5 if args.records <= 1_000_000 else 2.0} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
