"""Side-by-side comparison of planners on one graph and budget (``moccasin compare``).

Every method runs on the same :class:`~moccasin.graph.problem.Problem` and budget, and every
answer is scored by the one simulator, so the rows differ only by what the methods find.
"""

from __future__ import annotations

import networkx as nx

from moccasin.api import solve
from moccasin.errors import InputError
from moccasin.schedule.schedule import Schedule
from moccasin.solvers import SOLVERS

#: What ``compare`` runs when no methods are named: the CP model, the O(n^2) MILP with a MILP
#: solver and with CP-SAT, and the heuristics. ``milp-scip`` and ``milp-highs`` are opt-in.
DEFAULT_METHODS = ("cp", "milp", "milp-cpsat", "heuristic", "chen-greedy", "chen-sqrtn", "checkpoint-all")


def parse_methods(methods) -> list[str]:
    """Method names from a list and/or comma-separated strings; unknown names are an InputError."""
    if methods is None:
        return list(DEFAULT_METHODS)
    names: list[str] = []
    for item in methods:
        for name in str(item).split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    unknown = [m for m in names if m not in SOLVERS]
    if unknown:
        raise InputError(f"unknown method {unknown[0]!r}: choose among {', '.join(SOLVERS)}")
    if not names:
        raise InputError("no method to compare")
    return names


def gap_percent(s: Schedule) -> float | None:
    """Relative gap between the schedule's cost and its lower bound, in percent of the cost."""
    if not s.found or s.lower_bound is None or not s.total_cost:
        return None
    return round(100.0 * (s.total_cost - s.lower_bound) / s.total_cost, 6)


def compare(
    G: nx.DiGraph,
    budget: str | float | int,
    time_limit: float = 60.0,
    methods=None,
    workers: int = 0,
    seed: int = 0,
    max_recompute: int | None = None,
    progress=None,
    **extra,
) -> list[Schedule]:
    """Run each method on ``G`` under ``budget``; one Schedule per method, in order.

    Each schedule's ``extra`` gains ``method``, ``variables`` and ``constraints`` (None for
    methods without a model), ``best_solution_seconds`` (time to the returned schedule, where the
    method knows it) and ``gap_percent``. ``time_limit`` applies to each method separately.
    ``progress(method, schedule)`` is called after each method.
    """
    results = []
    for method in parse_methods(methods):
        s = solve(G, budget=budget, time_limit=time_limit, solver=method, max_recompute=max_recompute,
                  workers=workers, seed=seed, **extra)
        s.extra["method"] = method
        s.extra.setdefault("variables", None)
        s.extra.setdefault("constraints", None)
        if "best_solution_seconds" not in s.extra:
            # Heuristics return their one schedule: best = first. MILP backends cannot tell.
            s.extra["best_solution_seconds"] = s.first_solution_seconds
        s.extra["gap_percent"] = gap_percent(s)
        results.append(s)
        if progress:
            progress(method, s)
    return results


def compare_dict(graph: str, budget: int, fraction: float | None, results: list[Schedule]) -> dict:
    """The JSON object of ``moccasin compare --json``."""
    return {"graph": graph, "budget": budget, "budget_fraction": fraction, "results": [s.to_dict() for s in results]}
