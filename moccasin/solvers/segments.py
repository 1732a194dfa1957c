"""Segment schedules: Chen's checkpointing with its boundaries where little memory crosses the
forward pass.

On a training graph the forward pass ends at the baseline's peak step. A boundary after
forward step ``t`` keeps the values that later forward steps still read (its *frontier*);
whatever else the forward computed before ``t`` is dropped when the forward leaves its segment
and recomputed, one segment at a time, when the backward first needs it
(:func:`~moccasin.solvers.chen.checkpoint_schedule`). Boundaries are chosen among the steps
whose frontier is small (on GPT-2, the residual stream between sub-blocks: one 64 KiB tensor),
and Chen's greedy over the memory of each segment decides how many: this finds per-block
checkpointing from the graph alone, a structure the local moves of the other heuristics do not
reach (bench/README.md, item 21).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers.chen import checkpoint_schedule, greedy_checkpoints

#: Segment-memory thresholds tried per family of candidate boundaries (halving every two).
THRESHOLDS = 24
#: Distinct frontier sizes, smallest first, that give a family of candidates each.
LEVELS = 3
#: Most boundary sets simulated in one call.
MAX_SCHEDULES = 64


def forward_end(problem: Problem) -> int:
    """Steps of the baseline up to and including its (first) peak: the forward pass of a
    training graph."""
    memory = baseline(problem).memory
    return max(range(problem.n), key=lambda k: memory[k]) + 1 if problem.n else 0


def last_forward_reads(problem: Problem, end: int) -> list[int]:
    """Per forward node, its last reader before ``end`` (-1 if none)."""
    return [max((w for w in problem.succs[v] if w < end), default=-1) for v in range(end)]


def frontier_bytes(problem: Problem, end: int, last: list[int] | None = None) -> tuple[list[int], list[int]]:
    """Per forward step ``t < end``: the bytes of the values made at or before ``t`` that a
    forward step after ``t`` reads, and how many values that is. ``last``: the
    :func:`last_forward_reads`, if the caller has them.

    >>> from moccasin.graph.problem import Problem
    >>> p = Problem("g", (0, 1, 2, 3), (1,) * 4, (4, 2, 1, 1), ((), (0,), (0, 1), (2,)),
    ...             ((1, 2), (2,), (3,), ()), (False,) * 4)
    >>> frontier_bytes(p, 4)
    ([4, 6, 1, 0], [1, 2, 1, 0])
    """
    if last is None:
        last = last_forward_reads(problem, end)
    ends_at: list[list[int]] = [[] for _ in range(end)]
    for v, w in enumerate(last):
        if w > v:
            ends_at[w].append(v)
    size, count, cut, members = [], [], 0, 0
    for t in range(end):
        for v in ends_at[t]:  # last forward read at t: no longer crosses after t
            cut -= problem.ram[v]
            members -= 1
        if last[t] > t:
            cut += problem.ram[t]
            members += 1
        size.append(cut)
        count.append(members)
    return size, count


def candidate_families(size: list[int], count: list[int]) -> list[list[int]]:
    """Lists of candidate boundaries: steps whose frontier is one value, local minima of the
    frontier's size, and steps whose frontier is at most each of the :data:`LEVELS` smallest
    sizes."""
    steps = range(len(size) - 1)  # a boundary after the last forward step changes nothing
    families = [[t for t in steps if count[t] == 1]]
    families.append([t for t in steps if (t == 0 or size[t] <= size[t - 1]) and size[t] <= size[t + 1]])
    for level in sorted(set(size[t] for t in steps))[:LEVELS]:
        families.append([t for t in steps if size[t] <= level])
    out = []
    for f in families:
        if f and f not in out:
            out.append(f)
    return out


def segment_schedule(problem: Problem, budget: int, cap: int | None = None, deadline: float | None = None) -> list[int] | None:
    """The cheapest segment schedule within ``budget`` (None if none is), over the candidate
    families and a sweep of Chen's greedy thresholds. ``cap`` bounds the computations of each
    node; ``deadline`` (a ``time.perf_counter()`` value) stops the sweep early.

    An item of a multi-output op is recomputed with its op here even where ``problem`` pins it
    for the other heuristics (:meth:`~moccasin.graph.problem.Problem.items_pinned`): the
    schedule is returned in attached form (:func:`~moccasin.schedule.attach.attach`), in which
    each item follows its op."""
    if problem.no_recompute and problem.no_recompute != problem.pinned:
        problem = dataclasses.replace(problem, pinned=problem.no_recompute)
    if cap is not None and cap < 2:
        return None  # every boundary recomputes something
    end = forward_end(problem)
    if end < 3:
        return None
    last = last_forward_reads(problem, end)
    size, count = frontier_bytes(problem, end, last)
    total = sum(problem.ram[:end])
    frontiers: dict[int, list[int]] = {}  # boundary -> the values its frontier keeps
    tried: set[tuple[int, ...]] = set()
    best, best_cost = None, None
    for family in candidate_families(size, count):
        for k in range(THRESHOLDS):
            if len(tried) >= MAX_SCHEDULES or (deadline is not None and time.perf_counter() > deadline):
                return best
            bounds = tuple(sorted(greedy_checkpoints(problem, family, total * 2 ** (-k / 2))))
            if not bounds or bounds in tried:
                continue
            tried.add(bounds)
            kept: set[int] = set()
            for t in bounds:
                if t not in frontiers:
                    frontiers[t] = [v for v in range(t + 1) if last[v] > t]
                kept.update(frontiers[t])
            seq = attach(problem, checkpoint_schedule(problem, kept, list(bounds)))
            sim = simulate_indices(problem, seq)
            if sim.peak <= budget and (best_cost is None or sim.cost < best_cost):
                if cap is None or max(Counter(seq).values()) <= cap:
                    best, best_cost = seq, sim.cost
    return best

