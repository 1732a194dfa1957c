"""Ruin and recreate: a local search that improves a stage-structured schedule under a budget.

Each step removes a few recomputations (chosen at random, more likely the costly ones, or all
of those in a random window of stages), repairs the memory by sweep shaving, drops
recomputations nobody reads, and keeps the result when it is cheaper. It runs beside CP-SAT,
which is strong on small graphs but improves little on large ones within a minute.
"""

from __future__ import annotations

import random

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import join_stages, split_stages
from moccasin.solvers.drop import drop_redundant, prune_unread
from moccasin.solvers.sweep_shaving import sweep_shave


class RuinRecreate:
    """The search state: the best schedule so far and a random source; call :meth:`step`."""

    def __init__(self, problem: Problem, budget: int, sequence: list[int], cap: int | None, seed: int = 0):
        stages = split_stages(problem, sequence)
        if stages is None:
            raise ValueError("ruin and recreate needs a stage-structured schedule")
        self.problem, self.budget, self.cap = problem, budget, cap
        self.stages = stages
        self.best = list(sequence)
        self.best_cost = simulate_indices(problem, sequence).cost
        self.rng = random.Random(seed)
        self.steps = self.improvements = 0

    @property
    def optimal(self) -> bool:
        """No recomputation left: nothing can be cheaper."""
        return self.best_cost == self.problem.base_cost

    def offer(self, sequence: list[int], cost: int) -> bool:
        """A schedule found elsewhere (within the budget): the new start if it is cheaper."""
        if cost >= self.best_cost:
            return False
        stages = split_stages(self.problem, sequence)
        if stages is None:
            return False
        self.best, self.best_cost, self.stages = list(sequence), cost, stages
        return True

    def step(self) -> bool:
        """One ruin-and-recreate move; True when it found a cheaper schedule."""
        self.steps += 1
        problem, rng = self.problem, self.rng
        recomputed = [(t, x) for t, stage in enumerate(self.stages) for x in stage if x != t]
        if not recomputed:
            return False
        trial = [list(stage) for stage in self.stages]
        if rng.random() < 0.5:
            k = min(len(recomputed), rng.choice((1, 1, 2, 3, 4)))
            weights = [problem.cost[x] + 1 for _, x in recomputed]
            victims = set()
            while len(victims) < k:
                victims.add(rng.choices(range(len(recomputed)), weights)[0])
            for idx in victims:
                t, x = recomputed[idx]
                trial[t].remove(x)
        else:
            t0, _ = rng.choice(recomputed)
            width = rng.choice((1, 2, 4, 8, 16))
            for t in range(max(0, t0 - width // 2), min(problem.n, t0 + width)):
                trial[t] = [x for x in trial[t] if x == t]
        seq = sweep_shave(problem, self.budget, cap=self.cap, stages=trial, max_moves=4 * len(recomputed) + 20, rng=rng)
        if seq is None:
            return False
        # Attached form, re-simulated: a ruin or drop that removes an op's recomputation but not
        # its item's moves the item back to the op's older instance, which may not fit.
        seq = attach(problem, drop_redundant(problem, self.budget, prune_unread(problem, seq)))
        sim = simulate_indices(problem, seq)
        cost = sim.cost
        # Equal cost moves too: they let the search drift off plateaus.
        if sim.peak <= self.budget and cost <= self.best_cost:
            stages = split_stages(problem, seq)
            if stages is None:
                return False
            better = cost < self.best_cost
            self.best, self.best_cost = seq, cost
            self.stages = stages
            self.improvements += better
            return better
        return False


def improve(problem: Problem, budget: int, sequence: list[int], cap: int | None, steps: int, seed: int = 0) -> list[int]:
    """Run ``steps`` moves of ruin and recreate from ``sequence``; the best schedule found."""
    search = RuinRecreate(problem, budget, sequence, cap, seed)
    for _ in range(steps):
        if search.optimal:
            break
        search.step()
    return search.best


__all__ = ["RuinRecreate", "improve", "join_stages"]
