"""A lower bound from a covering LP over all steps at once (stronger than the per-step cover of
:mod:`moccasin.solvers.bounds`), for schedules whose first computations follow the baseline order.

Why it is valid. Let ``r_0 = u < r_1 < ... < r_k`` be ``u`` and the readers of ``u`` (readers'
first computations come in this order). Take a stage ``s`` strictly inside a gap
``(r_a, r_{a+1})``. At the first computation of ``s`` the instance of ``u`` that the first
computation of ``r_{a+1}`` reads is in memory unless it is computed after that step, i.e. unless
``u`` is recomputed in one of the stages ``s+1 .. r_{a+1}``, all inside ``(r_a, r_{a+1}]``. So
with ``y[u, a] = 1`` when ``u`` is recomputed at least once in stages ``(r_a, r_{a+1}]`` (else 0),
every schedule within the budget satisfies, at each stage ``s``,
``sum(ram[u] * y[u, gap of u at s]) >= excess(s)`` over the outputs ``u`` held across ``s``
(``excess`` as in the per-step cover: ``s``, its inputs and the held outputs, minus the budget;
coefficients may be capped at ``excess(s)`` since ``y`` is 0 or 1), and pays at least
``sum(cost[u] * y[u, a])`` for recomputations (different gaps need different computations).
Memory of recomputations and of their inputs is ignored: that only relaxes. Any subset of the
rows is still a relaxation. The bound returned is the value of a dual feasible solution
(:func:`certified_minimum`).
"""

from __future__ import annotations

import math
from bisect import bisect_right

from moccasin.graph.problem import Problem

#: Largest number of nonzeros put into the LP (rows with the largest excess first).
MAX_NONZEROS = 400_000


def over_budget(problem: Problem, budget: int):
    """``(stage, excess, items)`` for every stage over the budget, ``items`` the outputs held
    across it that may be freed (sorted), or None when a stage cannot fit even with every held
    output recomputed. The rows of this LP and of the cascade LP."""
    n, ram, preds, succs, pinned = problem.n, problem.ram, problem.preds, problem.succs, problem.pinned
    last = [max(succs[u], default=-1) for u in range(n)]
    held: set[int] = set()
    rows = []
    for s in range(n):
        held = {u for u in held if last[u] > s}
        if s and last[s - 1] > s:
            held.add(s - 1)
        inputs = set(preds[s])
        fixed = ram[s] + sum(ram[p] for p in inputs)
        items = []
        for u in held:
            if u in inputs:
                continue
            if pinned[u] or not ram[u]:
                fixed += ram[u]
            else:
                items.append(u)
        if fixed > budget:
            return None
        excess = fixed + sum(ram[u] for u in items) - budget
        if excess > 0:
            rows.append((s, excess, sorted(items)))
    return rows


def certified_minimum(costs: list[float], upper: list[float], rows: list[tuple[dict, float]], time_limit: float) -> float | None:
    """A value at most ``min costs.v`` over ``sum(coefs[j] * v[j]) >= rhs`` for every row
    ``(coefs, rhs)`` and ``0 <= v <= upper``, or None when the LP solver gives no optimal basis in
    ``time_limit`` seconds.

    The value is that of a dual solution (weak duality: for ``pi >= 0``,
    ``sum(pi * rhs) - sum(upper[j] * max(0, (A^T pi)[j] - costs[j]))`` bounds the minimum from
    below, whatever the signs in ``A``), recomputed here from the solver's duals less a rounding
    margin, so it does not rest on the solver's optimality. CLP first (several times faster than
    GLOP on these LPs), GLOP where CLP is missing."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("CLP") or pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    solver.SetTimeLimit(max(1, int(time_limit * 1000)))
    inf = solver.infinity()
    xs = [solver.NumVar(0.0, float(ub), "") for ub in upper]
    cons = []
    for coefs, rhs in rows:
        c = solver.Constraint(float(rhs), inf)
        for j, a in coefs.items():
            c.SetCoefficient(xs[j], float(a))
        cons.append(c)
    obj = solver.Objective()
    for x, c in zip(xs, costs):
        if c:
            obj.SetCoefficient(x, float(c))
    obj.SetMinimization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    pi = [max(0.0, c.dual_value()) for c in cons]
    reduced = [0.0] * len(xs)
    for p, (coefs, _) in zip(pi, rows):
        if p:
            for j, a in coefs.items():
                reduced[j] += p * a
    gain = math.fsum(p * rhs for p, (_, rhs) in zip(pi, rows))
    over = math.fsum(ub * max(0.0, r - c) for ub, r, c in zip(upper, reduced, costs))
    margin = 1e-7 * (abs(gain) + over + 1.0)
    return gain - over - margin


def lp_lower_bound(problem: Problem, budget: int, time_limit: float = 10.0) -> int | None:
    """A lower bound on the total cost under ``budget`` (the baseline cost at least); None when
    no schedule of the family fits. On any LP failure, the baseline cost."""
    rows = over_budget(problem, budget)
    if rows is None:
        return None
    if not rows:
        return problem.base_cost
    rows.sort(key=lambda r: -r[1])
    nnz, kept = 0, []
    for r in rows:
        if kept and nnz + len(r[2]) > MAX_NONZEROS:
            break
        kept.append(r)
        nnz += len(r[2])
    ram, cost = problem.ram, problem.cost
    readers = [[u, *problem.succs[u]] for u in range(problem.n)]  # gap a of u: (readers[a], readers[a+1])
    index: dict = {}
    lp_rows = []
    for s, excess, items in kept:  # each row scaled to right-hand side 1
        coefs = {}
        for u in items:
            j = index.setdefault((u, bisect_right(readers[u], s) - 1), len(index))
            coefs[j] = min(ram[u], excess) / excess
        lp_rows.append((coefs, 1.0))
    costs = [0.0] * len(index)
    for (u, _), j in index.items():
        costs[j] = float(cost[u])
    value = certified_minimum(costs, [1.0] * len(costs), lp_rows, time_limit)
    if value is None:
        return problem.base_cost
    return problem.base_cost + max(0, math.ceil(value - 1e-6))
