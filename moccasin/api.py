"""The planning side of the public API: ``solve`` a graph under a budget."""

from __future__ import annotations

import time

import networkx as nx

from moccasin.budget import resolve_budget
from moccasin.errors import InputError
from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import baseline
from moccasin.solvers import SOLVERS
from moccasin.solvers.base import SolveOptions


def infeasible_schedule(problem: Problem, budget: int, fraction: float | None, solver: str, started: float) -> Schedule:
    """The answer for a budget below :attr:`Problem.min_budget`: no schedule can exist."""
    base = baseline(problem)
    return Schedule(
        graph=problem.name, solver=solver, status="INFEASIBLE", budget=budget, budget_fraction=fraction,
        sequence=[], peak_memory=None, total_cost=None, baseline_peak=base.peak, baseline_cost=base.cost,
        tdi_percent=None, lower_bound=None, solve_seconds=round(time.perf_counter() - started, 4),
        first_solution_seconds=None,
        extra={
            "min_budget": problem.min_budget,
            "message": (
                f"no schedule fits budget {budget}: some node needs {problem.min_budget} "
                f"({problem.min_budget / base.peak:.3f} of the baseline peak) for its output and inputs at once"
            ),
        },
    )


def solve(
    G: nx.DiGraph,
    budget: str | float | int = 1.0,
    time_limit: float = 60.0,
    solver: str = "cp",
    max_recompute: int | None = None,
    workers: int = 0,
    seed: int = 0,
    progress=None,
    **extra,
) -> Schedule:
    """The cheapest schedule of ``G`` whose peak memory is at most ``budget``.

    ``budget``: a fraction of the baseline peak (``0.8``, ``"80%"``), an amount in the graph's
    units (``123456``) or bytes (``"512MiB"``). ``solver``: ``"cp"`` (the Moccasin model),
    ``"heuristic"`` or another name in :data:`moccasin.solvers.SOLVERS`. ``progress`` is called
    with a :class:`~moccasin.solvers.Progress` on every improvement (from the solver's threads).

    Ctrl-C (KeyboardInterrupt, also one raised by ``progress``) stops the search: the best
    schedule so far comes back with status FEASIBLE and ``extra["interrupted"] = True``; with
    none yet the KeyboardInterrupt is re-raised.

    >>> import moccasin
    >>> G = moccasin.load_graph("graphs/chain8_train.json")  # doctest: +SKIP
    >>> s = moccasin.solve(G, budget=0.7, time_limit=5)     # doctest: +SKIP
    >>> s.peak_memory <= s.budget                           # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}: choose one of {', '.join(sorted(SOLVERS))}")
    if time_limit <= 0:
        raise InputError(f"time limit {time_limit} must be positive")
    if max_recompute is not None and max_recompute < 1:
        raise InputError(f"max_recompute {max_recompute} must be at least 1")
    problem = Problem.from_graph(G)
    base_peak = baseline(problem).peak
    amount, fraction = resolve_budget(budget, base_peak)
    if amount < problem.min_budget:
        return infeasible_schedule(problem, amount, fraction, solver, started)
    options = SolveOptions(
        time_limit=time_limit, workers=workers, seed=seed, max_recompute=max_recompute,
        progress=progress, extra=extra,
    )
    schedule = SOLVERS[solver](problem, amount, options)
    schedule.budget_fraction = fraction
    return schedule
