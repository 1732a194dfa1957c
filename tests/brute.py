"""Exhaustive search over the stage-structured family, the reference the solvers are tested against.

Family: stage s = 0..n-1 computes a subset of {0..s-1} in increasing order, then s; each node at
most ``cap`` times in all. This is exactly the set of schedules the CP model (with ``C = cap``)
and, for ``cap >= n``, the Checkmate MILP can express.
"""

from __future__ import annotations

from itertools import combinations

from moccasin.errors import InvalidSchedule
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices


def stage_family(n: int, cap: int):
    """Every stage-structured sequence on ``n`` nodes with at most ``cap`` computations each."""
    count = [0] * n

    def rec(s: int, prefix: list[int]):
        if s == n:
            yield list(prefix)
            return
        for k in range(s + 1):
            for subset in combinations(range(s), k):
                if any(count[v] >= cap for v in subset):
                    continue
                for v in subset:
                    count[v] += 1
                count[s] += 1
                yield from rec(s + 1, prefix + list(subset) + [s])
                count[s] -= 1
                for v in subset:
                    count[v] -= 1

    yield from rec(0, [])


def brute_force(problem: Problem, budget: int, cap: int) -> int | None:
    """The least total cost of a valid family schedule within ``budget``, None if none."""
    best = None
    for seq in stage_family(problem.n, cap):
        try:
            sim = simulate_indices(problem, seq)
        except InvalidSchedule:  # a no_recompute node run twice
            continue
        if sim.peak <= budget and (best is None or sim.cost < best):
            best = sim.cost
    return best
