"""Benchmark `evkit export` against the machine's own floor on the same bundle.

The bundle and the floor are bench/report.py's (N MailItemsAccessed records in the collector's
raw layout; floor = SHA-256 of every payload file + one DuckDB JSON scan counting the records).
Measured in one run, --repeat times, alternately:

  export = `evkit export BUNDLE --out DIR --signer-key PUB` (Parquet) in a subprocess,
           verification included

and prints the ratio export/floor (fastest/fastest, and the median of each run's own ratio) and
the export's peak RSS. Targets (issue 18): <= 1.5x the floor at 1M records; peak RSS <= 2 GB at 10M.

  python bench/export.py [--records N] [--workdir DIR] [--keep] [--repeat N] [--format parquet|csv]
"""

from __future__ import annotations

import argparse
import importlib.util
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


def run_export(bundle: Path, out: Path, fmt: str) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB of this run alone, exit status, output) of one `evkit export`."""
    seconds, peak, status, output, _ = _bench_report().run_evkit(
        ["export", str(bundle), "--out", str(out), "--format", fmt,
         "--signer-key", str(bundle.parent / "bench.key.pub")])
    return seconds, peak, status, output


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench/out/export"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated bundle")
    ap.add_argument("--repeat", type=int, default=3, help="measure floor and export this many times")
    ap.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    args = ap.parse_args()
    bench = _bench_report()
    work, bundle = bench.prepared_bundle(args.workdir, args.records, keep=args.keep)
    size = sum(p.stat().st_size for p in (bundle / "data").rglob("*") if p.is_file())
    out = work / "export"
    bench._compile_project()  # noqa: SLF001 - measured as bench/report.py measures the report
    floors, exports, peaks = [], [], []
    for n in range(1, args.repeat + 1):
        shutil.rmtree(out, ignore_errors=True)
        export_s, rss_mb, rc, stdout = run_export(bundle, out, args.format)
        if rc != 0:
            print(stdout)
            return 1
        floor_s, _ = bench.floor(bundle)  # (seconds, CPU seconds)
        floors.append(floor_s)
        exports.append(export_s)
        peaks.append(rss_mb)
        print(f"run {n}: floor {floor_s:.2f}s  export {export_s:.2f}s  ratio {export_s / floor_s:.2f}x  "
              f"peak RSS {rss_mb:.0f} MB  load {os.getloadavg()[0]:.2f}", flush=True)
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"records {args.records:,}  payload {size / 1e6:.0f} MB  export {written / 1e6:.0f} MB ({args.format})  "
          f"cores {os.cpu_count()}  runs {args.repeat}")
    print(f"floor  {min(floors):.2f}s fastest, {statistics.median(floors):.2f}s median "
          "(SHA-256 of the payload + DuckDB JSON scan)")
    ratios = [e / f for e, f in zip(exports, floors)]
    print(f"export {min(exports):.2f}s fastest, {statistics.median(exports):.2f}s median  "
          f"ratio {min(exports) / min(floors):.2f}x (fastest/fastest), {statistics.median(ratios):.2f}x "
          f"(median of the runs' ratios)  peak RSS {max(peaks):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
