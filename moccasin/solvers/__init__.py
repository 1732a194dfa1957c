"""Solvers: each is ``solve(problem, budget, options) -> Schedule`` and registers here by name."""

from __future__ import annotations

from typing import Callable

from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.solvers import chen, cp, greedy, milp
from moccasin.solvers.base import Progress, SolveOptions

SolverFn = Callable[[Problem, int, SolveOptions], Schedule]

#: name -> solve function; ``moccasin plan --solver NAME`` and ``moccasin.solve(solver=NAME)``.
SOLVERS: dict[str, SolverFn] = {
    "cp": cp.solve,  # the Moccasin CP-SAT model, O(n) variables
    "heuristic": greedy.solve,  # memory-aware greedy (DTR-like)
    "milp": milp.solve,  # Checkmate's MILP, O(n^2) variables, with the chosen MILP solver
    "milp-highs": milp.solve_highs,
    "milp-scip": milp.solve_scip,
    "milp-cpsat": milp.solve_cpsat,  # the same MILP rows solved by CP-SAT
    "checkpoint-all": chen.solve_checkpoint_all,
    "chen-sqrtn": chen.solve_sqrtn,
    "chen-greedy": chen.solve_greedy,
}

__all__ = ["SOLVERS", "Progress", "SolveOptions"]
