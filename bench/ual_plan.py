"""Replay the `ual` window planner offline against a generated scenario's record times.

    .venv/bin/python bench/ual_plan.py SCENARIO_DIR [--concurrency 4] [--service current]
                                       [--window-hours H] [--min-split S] [--set NAME=VALUE ...]

SCENARIO_DIR is an emulator workdir holding `records/` (for example the `emu` folder that
`bench/collect.py --keep DIR` leaves). No network and no emulator: the service is modelled as
docs/emulator-fidelity.md describes it (the newest 5,000 matches of a window, newest first;
under `current` one first call in three answers empty with a warning), every call takes one
unit of time, and `--concurrency` calls run at once. Prints the calls ratio and the fetch ratio
that bench/collect.py measures for real, in seconds rather than minutes, so sizing constants
(`--set FILL=0.9`) can be compared before a real run.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import heapq
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evkit.collector.sources import ualplan  # noqa: E402
from evkit.collector.windows import TimeWindow  # noqa: E402

CAP = 5000
TRACE = False
PREFIX = len('{"CreationTime":"')


def load_times(workdir: Path) -> list[int]:
    """Every record's CreationTime (epoch seconds), ascending."""
    times = []
    for path in sorted((workdir / "records").glob("*.jsonl")):
        with path.open("rb") as handle:
            for line in handle:
                stamp = line[PREFIX:PREFIX + 19].decode()
                times.append(int(datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()))
    times.sort()
    return times


def simulate(times: list[int], whole: TimeWindow, concurrency: int, service: str, min_seconds: float,
             max_seconds: float) -> dict[str, float]:
    text = {t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") for t in set(times)}
    planner = ualplan.Planner.split(whole, concurrency, CAP, min_seconds, max_seconds)
    clock, calls, refused, empty, full, capped = 0.0, 0, 0, 0, 0, 0
    running: list[tuple[float, int, TimeWindow]] = []
    order = 0
    while True:
        while len(running) < concurrency:
            window = planner.cut()
            if window is None:
                break
            lo = bisect.bisect_left(times, int(window.start.timestamp()))
            hi = bisect.bisect_left(times, int(window.end.timestamp()))
            cost = 1
            if service == "current" and hashlib.sha256(window.unit.encode()).digest()[0] % 3 == 0:
                cost, refused = cost + 1, refused + 1
            if hi == lo:
                cost, empty = cost + 1, empty + 1
            calls += cost
            order += 1
            heapq.heappush(running, (clock + cost, order, window))
        if not running:
            break
        clock, _, window = heapq.heappop(running)
        lo = bisect.bisect_left(times, int(window.start.timestamp()))
        hi = bisect.bisect_left(times, int(window.end.timestamp()))
        rows = [text[t] for t in reversed(times[max(lo, hi - CAP):hi])]
        if TRACE:
            print(f"{clock:7.1f} {window.unit} {window.seconds / 3600:6.2f} h {hi - lo:7d}")
        if hi - lo >= CAP and window.can_split(min_seconds):
            full += 1
            planner.full(window, list(rows))
        else:
            capped += hi - lo >= CAP
            planner.complete(window, rows)
    minimum = math.ceil(len(times) / CAP) + 1
    return {"records": len(times), "calls": calls, "minimum": minimum, "refused": refused, "empty": empty,
            "full": full, "capped": capped, "calls_ratio": calls / minimum,
            "refusals_counted": calls / (minimum + refused), "fetch_ratio": clock / (calls / concurrency)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--service", default="current")
    parser.add_argument("--window-hours", type=float, default=24.0)
    parser.add_argument("--min-split", type=float, default=60.0)
    parser.add_argument("--set", action="append", default=[], help="a ualplan constant, NAME=VALUE")
    parser.add_argument("--trace", action="store_true", help="print every window read")
    args = parser.parse_args()
    global TRACE
    TRACE = args.trace
    for item in args.set:
        name, value = item.split("=", 1)
        setattr(ualplan, name, float(value))
    times = load_times(args.workdir)
    first, last = times[0], times[-1]
    day = 86400
    whole = TimeWindow(datetime.fromtimestamp(first - first % day, timezone.utc),
                       datetime.fromtimestamp(last - last % day + day, timezone.utc))
    result = simulate(times, whole, args.concurrency, args.service, args.min_split, args.window_hours * 3600)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
