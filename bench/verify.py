"""Benchmark `evkit verify` against the machine's floor on the same bytes.

Builds (once; reused while the size matches) a sealed bundle of about --size-gb GB under
bench/out/: many files of realistic sizes (log-uniform 64 KiB .. 8 MiB, random bytes like
gzip-compressed pages). Then times, with a warm page cache, alternately and --repeat times:

- the floor: ONE `openssl dgst -sha256` process over the same payload files (single-core
  hardware SHA-256);
- `evkit verify BUNDLE --signer-key KEY.pub` as a subprocess (all cores), with its peak RSS.

Prints the best time of each, the ratio floor/evkit (target >= 1.6 on 2 cores) and the peak
RSS (target < 200 MB). The CPU may be shared: the best of several runs is the fair figure.

    python bench/verify.py [--size-gb 2] [--repeat 3] [--out bench/out] [--rebuild]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evkit.manifests.bundle import BundleWriter  # noqa: E402
from evkit.manifests.keys import generate_key, load_signing_key  # noqa: E402

PASSPHRASE = "bench passphrase (throw-away key)"
MIN_SIZE, MAX_SIZE = 64 << 10, 8 << 20


def build(out: Path, size_bytes: int) -> tuple[Path, Path]:
    """Create bench key and bundle; returns (bundle, public key)."""
    key_path = out / "bench.key"
    if not key_path.exists():
        generate_key(key_path, "bench@evkit.example", PASSPHRASE)
    key = load_signing_key(key_path, PASSPHRASE)
    bundle = out / "bundle"
    marker = out / "bundle.size"
    if bundle.exists() and marker.exists() and marker.read_text() == str(size_bytes):
        return bundle, Path(f"{key_path}.pub")
    shutil.rmtree(bundle, ignore_errors=True)
    rng = random.Random(42)
    writer = BundleWriter.create(bundle, case_id="BENCH", collection_id="BENCH-1")
    total, n = 0, 0
    started = time.perf_counter()
    while total < size_bytes:
        size = int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))
        size = min(size, max(MIN_SIZE, size_bytes - total))
        n += 1
        writer.write(f"raw/mgmt/Audit.Exchange/blob-{n:06d}.json.gz", os.urandom(size))
        total += size
    writer.seal(key, bag_info={"Source-Organization": "evkit bench"},
                collection={"schema": "evkit.collection/1", "kind": "bench"})
    marker.write_text(str(size_bytes))
    print(f"built {bundle}: {n} files, {total / 1e9:.2f} GB in {time.perf_counter() - started:.1f} s")
    return bundle, Path(f"{key_path}.pub")


def payload_files(bundle: Path) -> list[str]:
    lines = (bundle / "manifest-sha256.txt").read_text().splitlines()
    return [str(bundle / line.split("  ", 1)[1]) for line in lines]


def run_timed(cmd: list[str]) -> tuple[float, int, int, float]:
    """Wall seconds, exit status, peak RSS (bytes) and CPU seconds (user+sys) of one child."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, proc.returncode, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        shutil.rmtree(args.out / "bundle", ignore_errors=True)
    bundle, pub = build(args.out, int(args.size_gb * 1e9))
    files = payload_files(bundle)
    total = sum(os.path.getsize(f) for f in files)
    floor_cmd = ["openssl", "dgst", "-sha256", *files]
    evkit_cmd = [sys.executable, "-m", "evkit", "verify", str(bundle), "--signer-key", str(pub)]
    subprocess.run(floor_cmd, stdout=subprocess.DEVNULL, check=True)   # warm the page cache
    floors, evkits, rss, floor_cpu, evkit_cpu = [], [], 0, [], []
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        seconds, code, _, cpu = run_timed(floor_cmd)
        assert code == 0, "openssl dgst failed"
        floors.append(seconds)
        floor_cpu.append(cpu)
        seconds, code, peak, cpu = run_timed(evkit_cmd)
        if code != 0:
            print(f"evkit verify exited {code}: the bench bundle does not verify", file=sys.stderr)
            return 1
        evkits.append(seconds)
        evkit_cpu.append(cpu)
        rss = max(rss, peak)
    floor, ours = min(floors), min(evkits)
    cores = len(os.sched_getaffinity(0))
    print(f"payload: {len(files)} files, {total / 1e9:.2f} GB; cores: {cores}; runs: {args.repeat} (best shown); "
          f"load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    print(f"floor  openssl dgst -sha256 (1 process): {floor:6.2f} s  {total / floor / 1e9:5.2f} GB/s")
    print(f"evkit  verify (sha256, all cores):      {ours:6.2f} s  {total / ours / 1e9:5.2f} GB/s")
    print(f"ratio floor/evkit: {floor / ours:.2f}x (target >= 1.6x)   peak RSS of evkit verify: "
          f"{rss / 1e6:.0f} MB (target < 200 MB)")
    print(f"all runs: floor {[round(s, 2) for s in floors]}  evkit {[round(s, 2) for s in evkits]}")
    print(f"CPU seconds (user+sys), best: floor {min(floor_cpu):.2f}  evkit {min(evkit_cpu):.2f}; "
          f"a busy machine (load above {cores}) starves the parallel run first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
