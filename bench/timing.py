"""Step times that survive a shared, noisy machine: variants timed in interleaved rounds.

Timing variant A for 5 steps and then variant B for 5 steps compares A's quiet minute with B's
busy one (on the 2-core development machine other jobs swung medians by 10x). Here every
round runs each variant once, in a rotating order, so drift hits all of them alike; the
result per variant is the median and the minimum over rounds. Overheads are taken from the
minima (the least disturbed runs) and the medians are reported beside them.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Callable


def interleaved_times(steps: dict[str, Callable[[], None]], rounds: int = 15, warmup: int = 1) -> dict[str, dict]:
    """Time each zero-argument callable ``rounds`` times, interleaved; ``{name: {min, median, all}}``.

    Each callable runs ``warmup`` times first (plans, caches, first-call costs). The garbage
    collector is run before each round and disabled during each timed call.

    >>> t = interleaved_times({"a": lambda: None, "b": lambda: None}, rounds=3)
    >>> sorted(t) == ["a", "b"] and len(t["a"]["all"]) == 3
    True
    """
    names = list(steps)
    for name in names:
        for _ in range(warmup):
            steps[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                steps[name]()
                times[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return {n: {"min": min(ts), "median": statistics.median(ts), "all": ts} for n, ts in times.items()}


def overhead_percent(t: dict, ref: dict, key: str = "min") -> float:
    """Step-time overhead of ``t`` over ``ref`` (entries of :func:`interleaved_times`), percent."""
    return 100.0 * (t[key] / ref[key] - 1.0)
