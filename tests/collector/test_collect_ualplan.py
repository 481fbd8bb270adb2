"""The `ual` window planner (collector/sources/ualplan.py): lanes read backwards, a full answer
read again from the second after its oldest row, windows sized from the profile and the lane,
lanes shared so every call slot stays busy, and calls near the minimum on a working-day load."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

from evkit.collector.sources import ualplan
from evkit.collector.sources.ualplan import Lane, Planner, size_after_full
from evkit.collector.windows import TimeWindow

T0 = datetime(2023, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_full_answer_newest_first_is_read_again_from_the_second_after_its_oldest_row() -> None:
    window = TimeWindow(T0, T0 + timedelta(hours=10))
    newest_first = [stamp(window.end - timedelta(seconds=s)) for s in range(1, 3601)]
    assert size_after_full(window, newest_first, 1, 60) == 3600 - 1
    unsorted = list(reversed(newest_first))
    assert size_after_full(window, unsorted, 1, 60) == window.seconds / 2  # order not shown: halve
    assert size_after_full(window, newest_first, 2, 60) == window.seconds / 2  # full again: halve


def test_a_lane_starts_as_long_as_allowed_and_grows_to_the_limit_after_an_empty_window() -> None:
    planner = Planner.split(TimeWindow(T0, T0 + 14 * DAY), 1, 5000, 60, 86400)
    first = planner.cut()
    assert first is not None and first.seconds == 86400 and first.end == T0 + 14 * DAY
    planner.full(first, [stamp(first.end - timedelta(seconds=s)) for s in range(1, 5001)])
    again = planner.cut()
    assert again is not None and again.end == first.end and again.seconds == 4999  # the part the answer held
    planner.complete(again, [stamp(again.end - timedelta(seconds=s)) for s in range(1, 4999)])
    dense = planner.cut()
    assert dense is not None and dense.end == again.start and dense.seconds < 2 * again.seconds
    planner.complete(dense, [])
    after_empty = planner.cut()
    assert after_empty is not None and after_empty.seconds == 86400


def test_a_lane_that_runs_out_takes_the_older_half_of_the_busiest_lane() -> None:
    planner = Planner([Lane(T0, T0 + timedelta(hours=1)), Lane(T0 + DAY, T0 + 10 * DAY, size=3600.0)],
                      5000, 60, 86400)
    long, short = planner.cut(), planner.cut()  # the longest idle lane goes first
    assert short is not None and long is not None and long.seconds == 3600 and short.seconds == 3600
    assert short.start == T0
    planner.complete(short, [])  # the short lane is done; the long one is busy
    shared = planner.cut()
    assert shared is not None and planner.busy() == 2 and len(planner.lanes) == 3
    assert shared.end <= long.start and shared.start >= T0 + DAY
    spans = sorted((lane.start, lane.end) for lane in planner.lanes if lane.end > lane.start)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # lanes never overlap


def test_lanes_survive_the_resume_state() -> None:
    lane = Lane(T0, T0 + DAY, size=120.0, rate=1.5, scale=0.8, last=600.0, streak=1)
    back = Lane.from_json(lane.to_json())
    assert (back.start, back.end, back.size, back.rate, back.scale, back.last, back.streak) == \
        (lane.start, lane.end, 120.0, 1.5, 0.8, 600.0, 1)


def replay(times: list[float], whole: TimeWindow, concurrency: int) -> tuple[int, set[float]]:
    """Calls the planner needs against a service answering the newest `cap` rows (newest first),
    an empty window asked twice; every window's rows kept to check nothing is skipped."""
    import bisect
    cap = 5000
    planner = Planner.split(whole, concurrency, cap, 60, 86400)
    calls, seen, out = 0, set(), []
    while True:
        while planner.busy() < concurrency and (window := planner.cut()) is not None:
            out.append(window)
        if not out:
            return calls, seen
        window = out.pop(0)
        lo = bisect.bisect_left(times, window.start.timestamp())
        hi = bisect.bisect_left(times, window.end.timestamp())
        rows = [stamp(datetime.fromtimestamp(t, timezone.utc)) for t in reversed(times[max(lo, hi - cap):hi])]
        calls += 1 if hi > lo else 2
        if hi - lo >= cap:
            planner.full(window, rows)
        else:
            seen.update(times[lo:hi])
            planner.complete(window, rows)


def test_a_working_day_load_is_read_in_few_calls_over_more_than_the_minimum() -> None:
    rng = random.Random(7)
    times: list[float] = []
    for day in range(14):
        if day % 7 in (2, 3):  # a weekend: evenings only
            hours = range(18, 23)
        else:
            hours = range(8, 23)
        for hour in hours:
            per_hour = 7000 if hour < 18 else 2200
            base = (T0 + day * DAY + timedelta(hours=hour)).timestamp()
            times += [base + rng.randrange(3600) for _ in range(per_hour)]
    times.sort()
    calls, seen = replay(times, TimeWindow(T0, T0 + 14 * DAY), 4)
    assert seen == set(times)
    minimum = math.ceil(len(times) / 5000) + 1
    assert calls <= 1.3 * minimum, (calls, minimum)
    assert ualplan.FILL < 1


def test_rows_with_impossible_dates_size_nothing_and_break_nothing() -> None:
    planner = Planner.split(TimeWindow(T0, T0 + DAY), 1, 5000, 60, 86400)
    window = planner.cut()
    assert window is not None
    planner.full(window, ["2023-13-45T99:99:99", "2023-06-01T25:00:00"])
    again = planner.cut()
    assert again is not None and again.seconds == window.seconds / 2
    planner.complete(again, ["2023-06-01T12:61:00", "not a date at all"])
    assert planner.cut() is not None


def test_no_sliver_shorter_than_the_smallest_split_is_left_in_a_lane() -> None:
    planner = Planner([Lane(T0, T0 + timedelta(seconds=81), size=60.0)], 5000, 60, 86400)
    window = planner.cut()
    assert window is not None and window.start == T0 and window.seconds == 81  # not 60 + a 21 s rest
