"""A cheap lower bound on the cost of any schedule whose first computations follow the
baseline order (the stage-structured family every solver here searches).

At the first computation of node ``s``, memory holds ``s``, its inputs, and every earlier output
some later first computation reads, unless that output is recomputed after ``s``. Where this
exceeds the budget, outputs worth at least the excess must be recomputed, each at least once:
a fractional knapsack cover per step, and the largest over the steps, bounds the extra cost.
"""

from __future__ import annotations

import math

from moccasin.graph.problem import Problem


def knapsack_lower_bound(problem: Problem, budget: int) -> int | None:
    """A lower bound on the total cost under ``budget``; None when no schedule of the family
    can fit (some step cannot shed enough even by recomputing everything it may)."""
    n, ram, cost, preds, succs = problem.n, problem.ram, problem.cost, problem.preds, problem.succs
    last_use = [max(succs[u], default=-1) for u in range(n)]
    # Outputs held across step s in the baseline: u < s, not read by s, read after s.
    start_at: list[list[int]] = [[] for _ in range(n + 1)]
    for u in range(n):
        if last_use[u] > u + 1:
            start_at[u + 1].append(u)  # held from stage u+1 on, up to its last reader
    held: set[int] = set()
    best = 0.0
    for s in range(n):
        held.update(start_at[s])
        held = {u for u in held if last_use[u] > s}
        inputs = set(preds[s])
        base = ram[s] + sum(ram[p] for p in inputs)
        movable, pinned_mem = [], 0
        for u in held:
            if u in inputs:
                continue
            if problem.pinned[u]:
                pinned_mem += ram[u]
            elif ram[u]:
                movable.append(u)
        excess = base + pinned_mem + sum(ram[u] for u in movable) - budget
        if excess <= 0:
            continue
        if base + pinned_mem > budget:
            return None
        extra = 0.0
        for u in sorted(movable, key=lambda u: cost[u] / ram[u]):
            take = min(ram[u], excess)
            extra += cost[u] * take / ram[u]
            excess -= take
            if excess <= 0:
                break
        best = max(best, extra)
    return problem.base_cost + math.ceil(best - 1e-9)
