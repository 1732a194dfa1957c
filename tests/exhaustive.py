"""Exhaustive search over the stage-structured family, the ground truth of the solver tests.

Stage ``s`` computes a subset of ``{0..s}`` containing ``s``, in increasing order. The search is
a depth-first enumeration stage by stage with two exact prunings: a prefix whose cost already
reaches the best known cost, and a prefix whose simulated peak is over the budget (reads later in
the sequence can only lengthen lifetimes, so a prefix's memory never exceeds the full schedule's).
"""

from __future__ import annotations

from itertools import combinations

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices


def stage_subsets(problem: Problem, s: int):
    """Every choice of recomputations for stage ``s``, cheapest first."""
    others = [i for i in range(s) if not problem.pinned[i]]
    subsets = [c for r in range(len(others) + 1) for c in combinations(others, r)]
    subsets.sort(key=lambda c: sum(problem.cost[i] for i in c))
    return [list(c) + [s] for c in subsets]


def exhaustive_optimum(problem: Problem, budget: int) -> int | None:
    """The minimum cost of a stage-structured schedule within ``budget``, or None if none fits."""
    n = problem.n
    best = [None]
    choices = [stage_subsets(problem, s) for s in range(n)]

    def dfs(s: int, prefix: list[int], cost: int) -> None:
        if best[0] is not None and cost >= best[0]:
            return
        if prefix and simulate_indices(problem, prefix, require_all=False).peak > budget:
            return
        if s == n:
            best[0] = cost
            return
        for steps in choices[s]:
            dfs(s + 1, prefix + steps, cost + sum(problem.cost[i] for i in steps))

    dfs(0, [], 0)
    return best[0]
