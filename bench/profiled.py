"""Run a module under cProfile in every thread, then write the merged statistics.

    .venv/bin/python bench/profiled.py OUT.prof -m evkit collect ...

cProfile sees only the thread that enabled it; the collector reads `ual` windows in worker
threads, so each thread gets its own profiler (around threading.Thread.run) and the results are merged
at exit. Read OUT.prof with `python -m pstats OUT.prof` (sort tottime, stats 30).
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading

profilers: list[cProfile.Profile] = []
lock = threading.Lock()


_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profiler = cProfile.Profile()
    with lock:
        profilers.append(profiler)
    profiler.enable()
    try:
        _run(self)
    finally:
        profiler.disable()


def _dump(out: str) -> None:
    main_profiler = profilers[0]
    main_profiler.disable()
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    stats.dump_stats(out)


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit(__doc__)
    main_profiler = cProfile.Profile()
    profilers.append(main_profiler)
    atexit.register(_dump, out)
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    sys.argv = [module, *rest]
    main_profiler.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
