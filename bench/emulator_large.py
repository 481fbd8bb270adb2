"""Benchmark: generate the `large` emulator scenario and report time, size and peak memory.

    .venv/bin/python bench/emulator_large.py [--records N] [--seed N] [--keep DIR]

Generation streams hour by hour, so peak RSS should stay flat as --records grows (compare
1M and 10M). Output goes to a temporary directory that is deleted afterwards unless --keep
names a directory. Check free disk first: about 1.3 GB per million records.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evkit.emulator.scenarios import build_scenario  # noqa: E402


def _peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None,
                        help="generate into this directory and keep it")
    parser.add_argument("--read", action="store_true",
                        help="also stream every record back and time it")
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="evkit-large-"))
    try:
        rss_before = _peak_rss_mb()
        t0 = time.perf_counter()
        sc = build_scenario("large", args.seed, workdir, {"records": args.records})
        gen = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (workdir / "records").iterdir())
        print(f"records requested   {args.records:,}")
        print(f"records generated   {sc.store.total:,} in {len(sc.mailboxes):,} mailboxes")
        print(f"generation          {gen:.1f} s ({sc.store.total / gen:,.0f} records/s)")
        print(f"on disk             {size / 1e9:.2f} GB ({size / max(1, sc.store.total):.0f} B/record)")
        print(f"peak RSS            {_peak_rss_mb():.0f} MB (at start {rss_before:.0f} MB)")
        if args.read:
            t1 = time.perf_counter()
            n = sum(1 for _ in sc.record_lines(sc.start, sc.end))
            t2 = time.perf_counter()
            print(f"stream lines        {n:,} in {t2 - t1:.1f} s")
            t3 = time.perf_counter()
            c = sc.count(sc.start, sc.end)
            print(f"count (index)       {c:,} in {time.perf_counter() - t3:.3f} s")
            print(f"peak RSS after read {_peak_rss_mb():.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
