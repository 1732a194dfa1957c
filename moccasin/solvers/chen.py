"""Heuristic baselines users know: checkpoint all, Chen's sqrt(n) segments, Chen's greedy.

Chen, Xu, Zhang, Guestrin, "Training Deep Nets with Sublinear Memory Cost" (2016) describe them
for a chain of layers: keep the outputs of a few layers (checkpoints), drop the rest during the
forward pass, and recompute each segment between two checkpoints once, when its backward pass
needs it. ``sqrt(n)`` segments of ``sqrt(n)`` layers give ``O(sqrt(n))`` memory for one extra
forward pass; the greedy walks the chain and closes a segment whenever the memory accumulated
since the last checkpoint exceeds a threshold ``b``, trying several ``b`` for a given budget.

How they are generalised here from chains to any DAG (the graphs carry no forward/backward
labels in :class:`~moccasin.graph.problem.Problem`, so nothing relies on them):

- **Candidates.** Checkpoints are chosen among the articulation points of the undirected graph
  (the generalisation Checkmate used for its Chen baselines: a node whose removal disconnects the
  graph is a natural segment boundary) when there are at least ``sqrt(n)`` of them, else among all
  nodes that have readers. Candidates are taken in the baseline order.
- **Segments on the stage axis.** For a checkpoint set ``K``, the schedule is stage-structured
  (stage ``s`` computes node ``s`` after what it needs): an instance of a node in ``K`` (or a
  pinned node, which cannot be recomputed) is kept for every later reader; an instance of any
  other node made in stage ``c`` is reused by a reader in stage ``s`` only if no checkpoint lies
  at a position in ``[c, s)``, that is, if the reader is in the same segment. Otherwise the
  reader's stage recomputes it, and recursively whatever it needs that is not at hand, back to
  kept values. On a chain's training graph this is Chen's schedule: forward values are dropped
  when the forward pass leaves their segment; the first backward step needing one of them
  recomputes the segment once, and (no forward checkpoints lie between backward stages) the
  recomputed values serve the rest of that segment's backward pass.
- **Scoring.** The common simulator scores every schedule: an instance lives until its last read,
  so a dropped value is freed as soon as its segment's readers are done.

Each solver returns a Schedule, or status UNKNOWN with a message when its schedule does not fit
the budget (these heuristics cannot prove that none exists).
"""

from __future__ import annotations

import bisect
import math
import time

import networkx as nx

from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import Simulation, baseline, simulate_indices
from moccasin.solvers.base import Found, SolveOptions, make_schedule
from moccasin.solvers.drop import prune_unread

#: Segment-memory thresholds the greedy tries, as fractions of the total size of the candidates.
GREEDY_STEPS = 40


def candidates(problem: Problem) -> list[int]:
    """Candidate checkpoints in the baseline order (see module docstring)."""
    n = problem.n
    readable = [i for i in range(n) if problem.succs[i]]
    U = nx.Graph()
    U.add_nodes_from(range(n))
    U.add_edges_from((u, v) for v in range(n) for u in problem.preds[v])
    arts = sorted(i for i in nx.articulation_points(U) if problem.succs[i])
    if len(arts) >= max(1, math.isqrt(n)):
        return arts
    return readable


def checkpoint_schedule(problem: Problem, kept: set[int], positions: list[int] | None = None) -> list[int]:
    """The stage-structured schedule of checkpoint set ``kept`` (see module docstring).
    ``positions`` are the segment boundaries (default: the checkpoints themselves); a boundary
    ``t`` ends a segment after stage ``t``."""
    n, preds = problem.n, problem.preds
    positions = sorted(kept) if positions is None else sorted(positions)
    made = [-1] * n  # stage of the newest instance of each node
    seq: list[int] = []

    def crosses(c: int, s: int) -> bool:  # a checkpoint at a position in [c, s)
        i = bisect.bisect_left(positions, c)
        return i < len(positions) and positions[i] < s

    def usable(u: int, s: int) -> bool:
        if made[u] < 0:
            return False
        return u in kept or problem.pinned[u] or not crosses(made[u], s)

    for s in range(n):
        plan: set[int] = set()
        stack = [s]
        while stack:
            v = stack.pop()
            for u in preds[v]:
                if u not in plan and not usable(u, s):
                    plan.add(u)
                    stack.append(u)
        steps = sorted(plan) + [s]
        for v in steps:
            made[v] = s
        seq.extend(steps)
    return prune_unread(problem, seq)


def _result(problem: Problem, budget: int, name: str, seq: list[int] | None, sim: Simulation | None, started: float,
            stats: dict, why: str) -> Schedule:
    stats = dict(stats, method=name)
    if seq is None or sim is None or sim.peak > budget:
        peak = f" (its peak is {sim.peak:,}, {sim.peak / max(1, baseline(problem).peak):.3f} of the baseline)" if sim else ""
        stats["message"] = f"{why}{peak}"
        return make_schedule(problem, budget, name, Found(None, "UNKNOWN", None, None, stats), started)
    found = Found(seq, "FEASIBLE", None, time.perf_counter() - started, stats)
    return make_schedule(problem, budget, name, found, started)


def solve_checkpoint_all(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``checkpoint-all``: the baseline order, every output kept, nothing recomputed."""
    started = time.perf_counter()
    seq = list(range(problem.n))
    return _result(problem, budget, "checkpoint-all", seq, simulate_indices(problem, seq), started, {},
                   "keeping every output does not fit the budget")


def solve_sqrtn(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``chen-sqrtn``: every ``ceil(sqrt(c))``-th of the ``c`` candidates is a checkpoint."""
    started = time.perf_counter()
    cands = candidates(problem)
    step = max(1, math.ceil(math.sqrt(len(cands))))
    kept = set(cands[step - 1 :: step])
    seq = checkpoint_schedule(problem, kept)
    sim = simulate_indices(problem, seq)
    return _result(problem, budget, "chen-sqrtn", seq, sim, started, {"checkpoints": len(kept), "candidates": len(cands)},
                   "Chen's sqrt(n) schedule does not fit the budget")


def greedy_checkpoints(problem: Problem, cands: list[int], threshold: float) -> set[int]:
    """Chen's greedy: close a segment (checkpoint the candidate) once the memory of the nodes
    since the last checkpoint exceeds ``threshold``."""
    kept, acc, last = set(), 0, -1
    for c in cands:
        acc += sum(problem.ram[i] for i in range(last + 1, c + 1))
        last = c
        if acc > threshold:
            kept.add(c)
            acc = 0
    return kept


def solve_greedy(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``chen-greedy``: Chen's greedy over a sweep of segment thresholds; the cheapest schedule
    within the budget wins (the sweep is what makes it budget-driven)."""
    started = time.perf_counter()
    cands = candidates(problem)
    total = sum(problem.ram) or 1
    low = max(1, min((problem.ram[c] for c in cands), default=1))
    thresholds = {0.0, float(total)}
    for k in range(GREEDY_STEPS):
        thresholds.add(low * (total / low) ** (k / (GREEDY_STEPS - 1)))
    best, best_sim, tried, seen = None, None, 0, set()
    closest = None
    deadline = started + max(0.5, options.time_limit)
    for b in sorted(thresholds):
        kept = frozenset(greedy_checkpoints(problem, cands, b))
        if kept in seen:
            continue
        seen.add(kept)
        tried += 1
        seq = checkpoint_schedule(problem, set(kept))
        sim = simulate_indices(problem, seq)
        if closest is None or sim.peak < closest.peak:
            closest = sim
        if sim.peak <= budget and (best_sim is None or sim.cost < best_sim.cost):
            best, best_sim = seq, sim
        if time.perf_counter() > deadline:
            break
    return _result(problem, budget, "chen-greedy", best, best_sim or closest, started,
                   {"checkpoint_sets_tried": tried, "candidates": len(cands)},
                   "no segment threshold of Chen's greedy gives a schedule within the budget")
