"""Exhaustive search over the stage-structured family, the reference the solvers are tested against.

Family: stage s = 0..n-1 computes a subset of {0..s-1} in increasing order, then s; each node at
most ``cap`` times in all. This is exactly the set of schedules the CP model (with ``C = cap``)
and, for ``cap >= n``, the Checkmate MILP can express.
"""

from __future__ import annotations

from itertools import combinations

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


def brute_force(problem: Problem, budget: int, cap: int | None = None) -> int | None:
    """The least total cost of a family schedule within ``budget`` (at most ``cap``
    computations per node; None: no cap), or None if none fits.

    Depth-first over the stages, cheapest choices first, with two exact cuts: a prefix whose
    cost reaches the best so far, and a prefix over the budget (later reads only lengthen
    lifetimes, so a prefix's peak never exceeds the whole schedule's)."""
    n = problem.n
    subsets = []
    for s in range(n):
        others = [i for i in range(s) if not problem.pinned[i]]
        options = [list(c) + [s] for r in range(len(others) + 1) for c in combinations(others, r)]
        options.sort(key=lambda c: sum(problem.cost[i] for i in c))
        subsets.append(options)
    best: list[int | None] = [None]
    count = [0] * n

    def dfs(s: int, prefix: list[int], cost: int) -> None:
        if best[0] is not None and cost >= best[0]:
            return
        if prefix and simulate_indices(problem, prefix, require_all=False).peak > budget:
            return
        if s == n:
            best[0] = cost
            return
        for steps in subsets[s]:
            if cap is not None and any(count[v] >= cap for v in steps):
                continue
            for v in steps:
                count[v] += 1
            dfs(s + 1, prefix + steps, cost + sum(problem.cost[v] for v in steps))
            for v in steps:
                count[v] -= 1

    dfs(0, [], 0)
    return best[0]
