"""A lower bound that sees cascades: the covering LP of :mod:`moccasin.solvers.lp_bound` with the
inputs a recomputation needs, for schedules whose first computations follow the baseline order.

The covering LP frees an output ``u`` held across a stage ``s`` at the price of one recomputation
of ``u``, as if its inputs were always at hand. On the random layered graphs they rarely are:
most inputs of an old output were last read long before, so recomputing it late means keeping
an input longer (memory) or recomputing that input too (cost). Here, with ``last(p)`` the stage
of the last reader of ``p`` (steps are named by stages, as in the covering LP; "at row ``s``" is
the step that first computes ``s``):

- ``w[u, s] = 1`` when ``u`` is computed in stages ``s+1 .. r`` (``r`` its next reader after
  ``s``): the covering rows' credit for freeing ``u`` at ``s``, at most ``y[u, gap]``, which
  carries the cost as before;
- ``v[p, s] = 1`` for ``s > last(p)`` when ``p`` is computed in a stage after ``s``; its cost,
  ``cost[p]`` once, goes through ``x[p] >= v[p, s]`` (those computations come after every gap
  of ``p``, so they are not counted twice);
- ``z[p, s] = 1`` for ``s > last(p)`` when an instance of ``p`` computed before the step of
  ``s`` is read after it: it is then in memory there, so row ``s`` gets ``-ram[p] * z[p, s]``.

Cascades: if ``w[u, s] = 1``, the recomputation of ``u`` (after row ``s``) reads each input
``p``; when ``last(p) < s`` that instance was computed before row ``s`` and so is held there
(``z[p, s]``), or after it (``v[p, s]``): ``w[u, s] <= z[p, s] + v[p, s]``, and the same for
``v[p, s]`` and the inputs of ``p`` (:data:`MAX_DEPTH` levels). Between rows ``s1 < s2``, an
instance held at ``s2`` was held at ``s1`` or computed after it: ``z[p, s2] <= z[p, s1] +
v[p, s1]``. Every schedule gives a 0/1 point of these rows with its extra cost as the
objective, so the LP minimum (certified through its duals) is a lower bound; any subset of the
rows is still a relaxation, which is how the LP is kept to a size that solves in seconds. (The
memory of the recomputed instances themselves, and of their inputs at the step they are
computed, is left out: that only relaxes.)
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from moccasin.graph.problem import Problem
from moccasin.solvers.lp_bound import certified_minimum, over_budget

#: About this many nonzeros at most: rows are kept at an even spacing to stay below it (on
#: random_layered_n1000 at 0.8 all rows are 1.8 million nonzeros and take about 50 s to solve).
MAX_NONZEROS = 300_000
#: How deep the inputs of inputs are followed (each level: the inputs gone at that row).
MAX_DEPTH = 2


def cascade_lower_bound(
    problem: Problem,
    budget: int,
    time_limit: float = 10.0,
    max_nonzeros: int = MAX_NONZEROS,
    max_depth: int = MAX_DEPTH,
    info: dict | None = None,
    rows: list | None = None,
) -> int | None:
    """A lower bound on the total cost under ``budget``, or None when the LP gives none in
    ``time_limit`` seconds or no schedule of the family fits (the covering LP says which).
    ``info``, when given, receives ``rows`` (stages over the budget) and ``rows_kept``; ``rows``
    is :func:`~moccasin.solvers.lp_bound.over_budget`'s result when the caller has it already.

    >>> from moccasin.graph.problem import Problem
    >>> from moccasin.solvers.lp_bound import lp_lower_bound
    >>> # Node 5 reads 2 (3 bytes), which reads 0 (1 byte); nodes 3 and 4 take 4 bytes each, the
    >>> # whole budget: 2 is recomputed before 5, and 0 before it (costs 2 and 2).
    >>> p = Problem("g", tuple(range(6)), (2, 1, 2, 0, 5, 2), (1, 2, 3, 4, 4, 1),
    ...             ((), (), (0,), (), (), (2,)), ((2,), (), (5,), (), (), ()), (False,) * 6)
    >>> cascade_lower_bound(p, budget=4) - p.base_cost, lp_lower_bound(p, budget=4) - p.base_cost
    (4, 2)
    """
    if rows is None:
        rows = over_budget(problem, budget)
    if not rows:
        return None if rows is None else problem.base_cost
    ram, cost, preds, succs, pinned = problem.ram, problem.cost, problem.preds, problem.succs, problem.pinned
    last = [max(succs[u], default=-1) for u in range(problem.n)]
    readers = [[u, *succs[u]] for u in range(problem.n)]  # gap a of u: (readers[a], readers[a+1])

    def build(rows):
        """The LP on ``rows``: (costs, rows as ``({var: coef}, rhs)``, meaning ``>= rhs``)."""
        stages = [s for s, _, _ in rows]
        index: dict = {}
        costs: list[float] = []
        lp: list[tuple[dict, float]] = []

        def var(key, c: float = 0.0) -> int:
            j = index.get(key)
            if j is None:
                j = index[key] = len(costs)
                costs.append(c)
            return j

        held: dict[int, set[int]] = {}  # p -> rows where z[p, .] is used

        def needs(j: int, u: int, s: int, depth: int) -> None:
            """Variable ``j`` = 1 means ``u`` is computed after row ``s``: each input of ``u`` gone by
            then is held at ``s`` (``z``) or computed after ``s`` too (``v``), recursively."""
            for p in preds[u]:
                if last[p] >= s or not ram[p]:
                    continue
                z = var(("z", p, s))
                held.setdefault(p, set()).add(s)
                if pinned[p] or depth >= max_depth:
                    lp.append(({z: 1.0, j: -1.0}, 0.0) if pinned[p] else ({z: 1.0, var(("v", p, s)): 1.0, j: -1.0}, 0.0))
                    continue
                fresh = ("v", p, s) not in index
                v = var(("v", p, s))
                lp.append(({z: 1.0, v: 1.0, j: -1.0}, 0.0))
                if fresh:
                    needs(v, p, s, depth + 1)

        # Covering rows (memory at row s), with w where freeing u needs an input that is gone.
        covers = []
        for s, excess, items in rows:
            credit: dict = {}
            for u in items:
                y = var(("y", u, bisect_right(readers[u], s) - 1), cost[u])
                if not any(last[p] < s and ram[p] for p in preds[u]):
                    credit[y] = float(ram[u])
                    continue
                w = var(("w", u, s))
                lp.append(({y: 1.0, w: -1.0}, 0.0))
                credit[w] = float(ram[u])
                needs(w, u, s, 1)
            covers.append((s, excess, credit))

        # An instance of p made before row s2 and read after it was made before s1 < s2 (and is
        # read after s1) or p was computed after s1: z[p, s2] <= z[p, s1] + v[p, s1].
        extra: dict[int, list[tuple[int, int]]] = {}
        for p, used in held.items():
            prev = None
            for s in stages[bisect_right(stages, last[p]) : bisect_left(stages, max(used)) + 1]:
                z = var(("z", p, s))
                extra.setdefault(s, []).append((p, z))
                if prev is not None:
                    link = {prev[0]: 1.0, z: -1.0}
                    if not pinned[p]:
                        link[var(("v", p, prev[1]))] = 1.0
                    lp.append((link, 0.0))
                prev = (z, s)

        # p computed after a row costs cost[p] once (x[p]).
        for key in [k for k in index if k[0] == "v"]:
            _, p, s = key
            lp.append(({var(("x", p), cost[p]): 1.0, index[key]: -1.0}, 0.0))

        for s, excess, credit in covers:
            # The row without the held inputs (they only add memory) may cap each credit at the
            # excess (a 0/1 credit above it never matters); the full row only above that.
            lp.append(({j: min(a, excess) / excess for j, a in credit.items()}, 1.0))
            gone = extra.get(s)
            if gone:
                cap = excess + sum(ram[p] for p, _ in gone)
                row = {j: min(a, cap) / excess for j, a in credit.items()}
                for p, z in gone:
                    row[z] = -ram[p] / excess
                lp.append((row, 1.0))
        return costs, lp

    # Rows at an even spacing, so that the LP has about max_nonzeros nonzeros (counted on a sample).
    sample = rows[:: max(1, len(rows) // 32)]
    per_row = sum(len(coefs) for coefs, _ in build(sample)[1]) / len(sample)
    kept = rows[:: max(1, math.ceil(per_row * len(rows) / max_nonzeros))]
    costs, lp = build(kept)
    if info is not None:
        info.update(rows=len(rows), rows_kept=len(kept))
    upper = [1.0] * len(costs)
    value = certified_minimum(costs, upper, lp, time_limit)
    if value is None:
        return None
    return problem.base_cost + max(0, math.ceil(value - 1e-6))
