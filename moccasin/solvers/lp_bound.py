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
(weak duality), recomputed here from the LP solver's duals, less a rounding margin, so it does
not rest on the LP solver's optimality.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from moccasin.graph.problem import Problem

#: Largest number of nonzeros put into the LP (rows with the largest excess first).
MAX_NONZEROS = 400_000


def cover_rows(problem: Problem, budget: int):
    """The rows: ``(excess, [(u, gap), ...])`` for every stage over the budget, or None when a
    stage cannot fit even with every held output recomputed."""
    n, ram, preds, succs = problem.n, problem.ram, problem.preds, problem.succs
    last_use = [max(succs[u], default=-1) for u in range(n)]
    bounds = [[u, *sorted(succs[u])] for u in range(n)]  # gap a of u: (bounds[a], bounds[a+1])
    start_at: list[list[int]] = [[] for _ in range(n + 1)]
    for u in range(n):
        if last_use[u] > u + 1:
            start_at[u + 1].append(u)
    held: set[int] = set()
    rows = []
    for s in range(n):
        held.update(start_at[s])
        held = {u for u in held if last_use[u] > s}
        inputs = set(preds[s])
        fixed = ram[s] + sum(ram[p] for p in inputs)
        items = []
        for u in held:
            if u in inputs:
                continue
            if problem.pinned[u] or not ram[u]:
                fixed += ram[u]
            else:
                items.append(u)
        excess = fixed + sum(ram[u] for u in items) - budget
        if excess <= 0:
            continue
        if fixed > budget:
            return None
        rows.append((excess, [(u, bisect_right(bounds[u], s) - 1) for u in items]))
    return rows


def lp_lower_bound(problem: Problem, budget: int, time_limit: float = 10.0) -> int | None:
    """A lower bound on the total cost under ``budget`` (the baseline cost at least); None when
    no schedule of the family fits. Uses GLOP; on any LP failure, the baseline cost."""
    rows = cover_rows(problem, budget)
    if rows is None:
        return None
    if not rows:
        return problem.base_cost
    from ortools.linear_solver import pywraplp

    rows.sort(key=lambda r: -r[0])
    nnz, kept = 0, []
    for r in rows:
        if kept and nnz + len(r[1]) > MAX_NONZEROS:
            break
        kept.append(r)
        nnz += len(r[1])
    ram, cost = problem.ram, problem.cost
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return problem.base_cost
    solver.SetTimeLimit(int(time_limit * 1000))
    var: dict = {}
    cons = []
    coef_rows = []
    for excess, items in kept:
        scale = float(excess)
        c = solver.Constraint(1.0, solver.infinity())
        coefs = []
        for key in items:
            y = var.get(key)
            if y is None:
                y = var[key] = solver.NumVar(0.0, 1.0, "")
            a = min(ram[key[0]], excess) / scale
            c.SetCoefficient(y, a)
            coefs.append((key, a))
        cons.append(c)
        coef_rows.append(coefs)
    obj = solver.Objective()
    for (u, _), y in var.items():
        obj.SetCoefficient(y, float(cost[u]))
    obj.SetMinimization()
    if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return problem.base_cost
    # Weak duality: for pi >= 0, sum(pi) - sum(max(0, pi.A_j - c_j)) bounds min c.y over
    # A y >= 1, 0 <= y <= 1 from below (each row is scaled to right-hand side 1).
    pi = [max(0.0, c.dual_value()) for c in cons]
    reduced: dict = {key: 0.0 for key in var}
    for p, coefs in zip(pi, coef_rows):
        if p:
            for key, a in coefs:
                reduced[key] += p * a
    over = math.fsum(max(0.0, r - cost[key[0]]) for key, r in reduced.items())
    value = math.fsum(pi) - over
    margin = 1e-7 * (math.fsum(pi) + over + 1.0)
    extra = max(0, math.ceil(value - margin - 1e-6))
    return problem.base_cost + extra
