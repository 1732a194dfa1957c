"""The one simulator of DESIGN.md's memory model; every solver and command scores schedules here.

The instance computed at step ``i`` of node ``u`` serves every later step that reads ``u`` until
``u`` is computed again. At step ``j`` memory holds the output computed at ``j`` plus every earlier
instance that some step ``>= j`` still reads. Linear in the schedule length plus the edges read.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from moccasin.errors import InvalidSchedule
from moccasin.graph.problem import Problem


@dataclass(frozen=True)
class Simulation:
    """What a schedule does: peak memory, total cost, and the memory in use at each step."""

    peak: int
    cost: int
    memory: tuple[int, ...]  # memory[j]: bytes in use while step j runs
    last_read: tuple[int, ...]  # last_read[i]: last step reading the instance made at step i (i if none)


def simulate_indices(problem: Problem, sequence, *, require_all: bool = True) -> Simulation:
    """Simulate a sequence of node indices (positions in ``problem.ids``).

    Raises :class:`InvalidSchedule` if a step reads a node not computed before it, a node index is
    out of range, a node marked ``no_recompute`` runs twice, or (with ``require_all``) a node never
    runs.

    >>> p = Problem.from_graph(nx.DiGraph([(0, 1), (1, 2)]))  # doctest: +SKIP
    """
    n = problem.n
    ram, preds = problem.ram, problem.preds
    current = [-1] * n  # step of the newest instance of each node
    length = len(sequence)
    last_read = list(range(length))
    cost = 0
    runs = [0] * n
    for k, v in enumerate(sequence):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n:
            raise InvalidSchedule(f"step {k}: {v!r} is not a node of the graph")
        for u in preds[v]:
            i = current[u]
            if i < 0:
                raise InvalidSchedule(
                    f"step {k}: node {problem.ids[v]!r} reads {problem.ids[u]!r}, which is not computed before it"
                )
            last_read[i] = k
        current[v] = k
        runs[v] += 1
        cost += problem.cost[v]
    if require_all and 0 in runs:
        missing = next(problem.ids[v] for v in range(n) if runs[v] == 0)
        raise InvalidSchedule(f"node {missing!r} is never computed")
    never = problem.no_recompute or problem.pinned
    for v in range(n):
        if never[v] and runs[v] > 1:
            raise InvalidSchedule(f"node {problem.ids[v]!r} is marked no_recompute but runs {runs[v]} times")
    delta = [0] * (length + 1)
    for i, v in enumerate(sequence):
        delta[i] += ram[v]
        delta[last_read[i] + 1] -= ram[v]
    memory = []
    live = 0
    for j in range(length):
        live += delta[j]
        memory.append(live)
    return Simulation(peak=max(memory, default=0), cost=cost, memory=tuple(memory), last_read=tuple(last_read))


def simulate_graph(G: nx.DiGraph, sequence) -> Simulation:
    """Simulate a sequence of node ids of ``G``; unknown ids raise :class:`InvalidSchedule`."""
    problem = Problem.from_graph(G)
    index = problem.index
    seq = []
    for k, nid in enumerate(sequence):
        if isinstance(nid, bool) or nid not in index:
            raise InvalidSchedule(f"step {k}: {nid!r} is not a node of the graph")
        seq.append(index[nid])
    return simulate_indices(problem, seq)


def simulate(G: nx.DiGraph, sequence) -> tuple[int, int]:
    """Peak memory and total cost of a schedule (a sequence of node ids of ``G``).

    >>> G = nx.DiGraph([("a", "b")]); nx.set_node_attributes(G, 1, "cost_cpu")
    >>> nx.set_node_attributes(G, 4, "cost_ram")
    >>> simulate(G, ["a", "b"])
    (8, 2)
    """
    sim = simulate_graph(G, sequence)
    return sim.peak, sim.cost


def baseline(problem: Problem) -> Simulation:
    """The baseline schedule: every node once, in the baseline order."""
    return simulate_indices(problem, list(range(problem.n)))
