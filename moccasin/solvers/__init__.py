"""Solvers: each is ``solve(problem, budget, options) -> Schedule`` and registers here by name."""

from __future__ import annotations

from typing import Callable

from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.solvers import chen, cp, greedy
from moccasin.solvers.base import Progress, SolveOptions

SolverFn = Callable[[Problem, int, SolveOptions], Schedule]


def _milp(name: str) -> SolverFn:
    """``moccasin.solvers.milp.<name>``, imported at the first call: the MILP module imports
    OR-Tools' linear solvers and CP-SAT (about 0.3 s), which the CP solver defers until its
    first schedule exists."""

    def solve(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
        from moccasin.solvers import milp

        return getattr(milp, name)(problem, budget, options)

    solve.__name__ = solve.__qualname__ = name
    return solve


#: name -> solve function; ``moccasin plan --solver NAME`` and ``moccasin.solve(solver=NAME)``.
SOLVERS: dict[str, SolverFn] = {
    "cp": cp.solve,  # the Moccasin CP-SAT model, O(n) variables
    "heuristic": greedy.solve,  # memory-aware greedy (DTR-like)
    "milp": _milp("solve"),  # Checkmate's MILP, O(n^2) variables, with the chosen MILP solver
    "milp-highs": _milp("solve_highs"),
    "milp-scip": _milp("solve_scip"),
    "milp-cpsat": _milp("solve_cpsat"),  # the same MILP rows solved by CP-SAT
    "checkpoint-all": chen.solve_checkpoint_all,
    "chen-sqrtn": chen.solve_sqrtn,
    "chen-greedy": chen.solve_greedy,
}

__all__ = ["SOLVERS", "Progress", "SolveOptions"]
