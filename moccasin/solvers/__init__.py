"""Solvers: each is ``solve(problem, budget, options) -> Schedule`` and registers here by name."""

from __future__ import annotations

from typing import Callable

from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.solvers import cp, greedy
from moccasin.solvers.base import Progress, SolveOptions

SolverFn = Callable[[Problem, int, SolveOptions], Schedule]

#: name -> solve function; ``moccasin plan --solver NAME`` and ``moccasin.solve(solver=NAME)``.
SOLVERS: dict[str, SolverFn] = {
    "cp": cp.solve,
    "heuristic": greedy.solve,
}

__all__ = ["SOLVERS", "Progress", "SolveOptions"]
