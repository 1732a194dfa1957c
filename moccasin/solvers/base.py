"""What every solver shares: its options, the progress it reports, and how its answer becomes a
:class:`~moccasin.schedule.Schedule` (re-simulated, never over the budget).

A solver is a function ``solve(problem, budget, options) -> Schedule``; it builds its answer
with :func:`make_schedule`, which trusts nothing the solver computed but the sequence.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from moccasin.errors import InvalidSchedule
from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import Simulation, baseline, simulate_indices
from moccasin.solvers.bounds import knapsack_lower_bound

log = logging.getLogger("moccasin")


@dataclass(frozen=True)
class Progress:
    """One report from a running solver: a new best schedule or a better bound."""

    elapsed: float
    best_cost: int | None  # total cost of the best schedule so far
    lower_bound: int | None  # best proven lower bound on the total cost
    baseline_cost: int

    def tdi(self, cost: int | None) -> float | None:
        return None if cost is None else 100.0 * (cost / self.baseline_cost - 1) if self.baseline_cost else 0.0

    @property
    def best_tdi(self) -> float | None:
        return self.tdi(self.best_cost)

    @property
    def bound_tdi(self) -> float | None:
        return self.tdi(self.lower_bound)


@dataclass
class SolveOptions:
    """Options every solver accepts (each uses those that apply to it)."""

    time_limit: float = 60.0
    workers: int = 0  # 0: all cores
    seed: int = 0
    max_recompute: int | None = None  # cap on computations per node (C); None: the solver's default
    progress: Callable[[Progress], None] | None = None
    log_search: bool = False
    hint: list[int] | None = None  # a schedule (node indices) to start from
    extra: dict = field(default_factory=dict)  # solver-specific knobs

    @property
    def num_workers(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


@dataclass
class Found:
    """A candidate answer of a solver, before re-simulation."""

    sequence: list[int] | None
    status: str  # what the solver claims: OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN
    lower_bound: int | None = None
    first_solution_seconds: float | None = None
    stats: dict = field(default_factory=dict)


def tdi_percent(cost: int, baseline_cost: int) -> float:
    return 100.0 * (cost / baseline_cost - 1) if baseline_cost else 0.0


def make_schedule(
    problem: Problem,
    budget: int,
    solver: str,
    found: Found,
    started: float,
    budget_fraction: float | None = None,
    base: Simulation | None = None,
) -> Schedule:
    """Re-simulate ``found.sequence`` (attached steps in place, :func:`attach`) and build the
    Schedule; drop it if invalid or over budget."""
    base = base or baseline(problem)
    status, seq, sim = found.status, found.sequence, None
    extra = dict(found.stats)
    if seq is not None:
        seq = attach(problem, seq)
        try:
            sim = simulate_indices(problem, seq)
        except InvalidSchedule as e:
            log.error("solver %s returned an invalid schedule (%s); discarded", solver, e)
            extra["message"] = f"internal error: solver {solver} returned an invalid schedule ({e})"
            sim, status = None, "UNKNOWN"
        else:
            if sim.peak > budget:
                log.error("solver %s returned a schedule over the budget (%d > %d); discarded", solver, sim.peak, budget)
                extra["message"] = f"internal error: solver {solver} returned a schedule over the budget"
                sim, status = None, "UNKNOWN"
    elif status in ("OPTIMAL", "FEASIBLE"):
        status = "UNKNOWN"
    lower = found.lower_bound
    if status != "INFEASIBLE":
        cover = knapsack_lower_bound(problem, budget)
        lower = max(int(lower) if lower is not None else 0, problem.base_cost, cover or 0)
    if sim is not None and lower is not None and lower > sim.cost:
        lower = sim.cost  # a bound above a schedule we hold is a solver bug or rounding: clamp
    if sim is not None and status == "OPTIMAL" and lower is not None and lower < sim.cost:
        status = "FEASIBLE"
    if sim is not None and lower is not None and lower == sim.cost:
        status = "OPTIMAL"
    if budget < problem.min_budget:
        extra.setdefault("min_budget", problem.min_budget)
    return Schedule(
        graph=problem.name,
        solver=solver,
        status=status,
        budget=int(budget),
        budget_fraction=budget_fraction,
        sequence=problem.to_ids(seq) if sim is not None else [],
        peak_memory=sim.peak if sim else None,
        total_cost=sim.cost if sim else None,
        baseline_peak=base.peak,
        baseline_cost=base.cost,
        tdi_percent=round(tdi_percent(sim.cost, base.cost), 6) if sim else None,
        lower_bound=lower,
        solve_seconds=round(time.perf_counter() - started, 4),
        first_solution_seconds=(round(found.first_solution_seconds, 4) if sim and found.first_solution_seconds is not None else None),
        extra=extra,
    )
