"""A memory-aware greedy in the spirit of DTR (Kirisame et al., 2021), in stage form.

It walks the baseline order; stage ``s`` recomputes whatever inputs of ``s`` were evicted
(recursively, in index order) and then computes ``s``. When a step would exceed the budget it
evicts the resident output with the lowest ``recompute cost / (size * distance to next use)``.
Its schedules follow the stage structure of the CP and MILP models, so they serve as hints.
"""

from __future__ import annotations

import time
from collections import Counter

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import simulate_indices
from moccasin.solvers.base import Found, SolveOptions, make_schedule
from moccasin.solvers.drop import drop_redundant, prune_unread
from moccasin.solvers.ladder import MOVES_PER_NODE, ladder_shave
from moccasin.solvers.segments import segment_schedule
from moccasin.solvers.shaving import shave
from moccasin.solvers.sweep_shaving import sweep_shave

#: Moves per round of the peak-shaving runs (see :func:`shave`).
SHAVING_MOVES = (1, 8)
#: Exponents of the distance to the next use in the eviction score; each is one greedy run.
DISTANCE_WEIGHTS = (1.0, 0.0, 2.0, 0.5)


def greedy_sequence(
    problem: Problem, budget: int, cap: int | None = None, distance_weight: float = 1.0, deadline: float | None = None
) -> list[int] | None:
    """One greedy run; returns a schedule (node indices) within ``budget`` or None.

    ``cap`` bounds the computations of each node (None: unbounded). The memory it accounts is
    never below the simulator's (it frees an output only once nothing can read it), so the
    result is within budget whenever it returns one.
    """
    n, ram, cost, preds, succs = problem.n, problem.ram, problem.cost, problem.preds, problem.succs
    pinned = problem.pinned
    resident: set[int] = set()
    count = [0] * n
    seq: list[int] = []
    mem = 0

    def next_use(u: int, s: int) -> int:
        for w in succs[u]:  # sorted; the first consumer not yet computed for the first time
            if w > s:
                return w
        return n + 1

    for s in range(n):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        plan: set[int] = set()
        stack = [u for u in preds[s] if u not in resident]
        while stack:
            u = stack.pop()
            if u in plan or u in resident:
                continue
            if pinned[u] or (cap is not None and count[u] >= cap):
                return None
            plan.add(u)
            stack.extend(p for p in preds[u] if p not in resident and p not in plan)
        steps = sorted(plan)
        steps.append(s)
        stage_reads = Counter(p for v in steps for p in preds[v])
        for v in steps:
            while mem + ram[v] > budget:
                best, best_score = None, None
                for u in resident:
                    if stage_reads[u] > 0 or pinned[u] or (cap is not None and count[u] >= cap):
                        continue
                    rec = cost[u] + sum(cost[p] for p in preds[u] if p not in resident)
                    dist = next_use(u, s) - s
                    score = (rec + 1e-9) / ((ram[u] + 1e-9) * dist ** distance_weight)
                    if best_score is None or score < best_score:
                        best, best_score = u, score
                if best is None:
                    return None
                resident.discard(best)
                mem -= ram[best]
            seq.append(v)
            count[v] += 1
            resident.add(v)
            mem += ram[v]
            for p in preds[v]:
                stage_reads[p] -= 1
            for u in (*preds[v], v):
                if u in resident and stage_reads[u] <= 0 and (not succs[u] or succs[u][-1] <= s):
                    resident.discard(u)
                    mem -= ram[u]
    return prune_unread(problem, seq)


def best_greedy(
    problem: Problem,
    budget: int,
    cap: int | None = None,
    seconds: float | None = None,
    on_found=None,
    first_seconds: float | None = None,
    shaving_moves: tuple[int, ...] = SHAVING_MOVES,
) -> list[int] | None:
    """The cheapest of sweep shaving, segment schedules, the sweep in rungs (only where nothing
    else fits yet: :mod:`.ladder`), peak shaving and the eviction greedy over
    :data:`DISTANCE_WEIGHTS`;
    each gives up once ``seconds`` have passed since the call, or, for a run started while
    nothing was found yet, ``first_seconds`` (at least ``seconds``). ``on_found(sequence, cost)``
    is called with every cheaper schedule a run finds (the first one is a first solution).
    ``shaving_moves``: the moves per round of the shaving runs, in the order they run."""
    best, best_cost = None, None
    now = time.perf_counter()
    deadline = None if seconds is None else now + seconds
    first_deadline = deadline if first_seconds is None or deadline is None else now + max(seconds, first_seconds)
    max_moves = MOVES_PER_NODE * problem.n  # a sweep that gets stuck gives up soon (.ladder)
    runs = [lambda d: sweep_shave(problem, budget, cap=cap, deadline=d, max_moves=max_moves)]
    runs += [lambda d: segment_schedule(problem, budget, cap=cap, deadline=d)]
    # Only while nothing fits yet: the sweep in rungs (its first rung, the budget itself, was
    # the plain sweep above).
    runs += [lambda d: None if best is not None else ladder_shave(problem, budget, cap=cap, deadline=d, direct=False)]
    runs += [lambda d, m=m: shave(problem, budget, cap=cap, deadline=d, moves_per_round=m) for m in shaving_moves]
    runs += [lambda d, w=w: greedy_sequence(problem, budget, cap=cap, distance_weight=w, deadline=d) for w in DISTANCE_WEIGHTS]
    for run in runs:
        seq = run(deadline if best is not None else first_deadline)
        if seq is None:
            continue
        # In attached form (segment schedules recompute items with their op; dropping the op's
        # recomputation but not its item's would leave the item where PyTorch cannot run it).
        seq = attach(problem, drop_redundant(problem, budget, seq))
        sim = simulate_indices(problem, seq)
        if sim.peak <= budget and (best_cost is None or sim.cost < best_cost):
            best, best_cost = seq, sim.cost
            if on_found:
                on_found(seq, sim.cost)
    return best


def solve(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``--solver heuristic``: the best of the greedy heuristics (no cap unless one is set)."""
    started = time.perf_counter()
    seq = best_greedy(problem.items_pinned, budget, cap=options.max_recompute)
    found = Found(
        sequence=seq,
        status="FEASIBLE" if seq is not None else "UNKNOWN",
        first_solution_seconds=time.perf_counter() - started if seq is not None else None,
        stats={"method": "greedy"},
    )
    if seq is None:
        found.stats["message"] = "the greedy found no schedule under the budget (try --solver cp)"
    return make_schedule(problem, budget, "heuristic", found, started)
