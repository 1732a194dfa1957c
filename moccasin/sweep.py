"""Budget sweeps: the trade-off curve of TDI (extra compute) against the memory budget.

One solve per budget; budgets with no schedule are rows with status INFEASIBLE (none exists) or
UNKNOWN (none found in time), never errors. A Ctrl-C keeps the rows solved so far (and the best
schedule of the budget being solved) and ends the sweep.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import networkx as nx

from moccasin.api import solve
from moccasin.budget import resolve_budget
from moccasin.errors import InputError
from moccasin.fileio import atomic_write_json
from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import baseline

FORMAT = "moccasin-sweep/1"
MAX_BUDGETS = 200
_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


def _number(text: str, spec: str) -> float:
    t = text.strip()
    percent = t.endswith("%")
    try:
        value = float(t[:-1] if percent else t)
    except ValueError:
        raise InputError(f"budgets {spec!r}: {t!r} is not a number") from None
    return value / 100 if percent else value


def _range(item: str, spec: str) -> list[str]:
    m = _RANGE.match(item)
    start, stop, step = (_number(g, spec) for g in m.groups())
    if not all(math.isfinite(x) for x in (start, stop, step)):
        raise InputError(f"budgets {spec!r}: not finite numbers")
    if step <= 0:
        raise InputError(f"budgets {spec!r}: the step must be positive")
    if not 0 < start <= stop <= 1:
        raise InputError(f"budgets {spec!r}: a range needs 0 < START <= STOP <= 1 (fractions of the baseline peak)")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_BUDGETS:
        raise InputError(f"budgets {spec!r}: {count} budgets, at most {MAX_BUDGETS}")
    return [f"{round(start + k * step, 10):g}" for k in range(count)]


def parse_budgets(spec: str) -> list[str]:
    """Budgets from a comma list whose items are budget specs (``0.5``, ``70%``, ``512MiB``) or
    ranges ``START:STOP:STEP`` (fractions or percentages of the baseline peak, STOP included).

    >>> parse_budgets("0.4:1.0:0.2")
    ['0.4', '0.6', '0.8', '1']
    >>> parse_budgets("0.5, 70%")
    ['0.5', '70%']
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("budgets: give START:STOP:STEP (0.4:1.0:0.1) or a comma list (0.5,0.7,0.9)")
    budgets: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            raise InputError(f"budgets {spec!r}: empty entry in the comma list")
        if ":" in item:
            if not _RANGE.match(item):
                raise InputError(f"budgets {spec!r}: {item!r} is not START:STOP:STEP")
            budgets.extend(_range(item, spec))
        else:
            budgets.append(item)
        if len(budgets) > MAX_BUDGETS:
            raise InputError(f"budgets {spec!r}: more than {MAX_BUDGETS} budgets")
    return budgets


@dataclass
class Sweep:
    """The results of a sweep, one Schedule per budget in increasing budget order."""

    graph: str
    baseline_peak: int
    baseline_cost: int
    results: list[Schedule] = field(default_factory=list)
    time_limit: float | None = None
    solver: str | None = None
    interrupted: bool = False

    @property
    def found(self) -> list[Schedule]:
        return [s for s in self.results if s.found]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "graph": self.graph,
            "solver": self.solver,
            "time_limit": self.time_limit,
            "baseline_peak": self.baseline_peak,
            "baseline_cost": self.baseline_cost,
            "interrupted": self.interrupted,
            "results": [s.to_dict() for s in self.results],
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the sweep JSON atomically."""
        atomic_write_json(path, self.to_dict())


def _not_solved(problem: Problem, amount: int, fraction: float | None, solver: str, message: str) -> Schedule:
    base = baseline(problem)
    return Schedule(
        graph=problem.name, solver=solver, status="UNKNOWN", budget=amount, budget_fraction=fraction,
        sequence=[], peak_memory=None, total_cost=None, baseline_peak=base.peak, baseline_cost=base.cost,
        tdi_percent=None, lower_bound=None, solve_seconds=0.0, first_solution_seconds=None,
        extra={"interrupted": True, "message": message},
    )


def sweep(
    G: nx.DiGraph,
    budgets: str | list,
    time_limit: float = 10.0,
    solver: str = "cp",
    progress=None,
    on_start: Callable[[int, int, str], None] | None = None,
    on_result: Callable[[Schedule], None] | None = None,
    **solve_options,
) -> Sweep:
    """Solve ``G`` at every budget (``parse_budgets`` spec or a list), ``time_limit`` seconds each.

    ``progress`` goes to every :func:`moccasin.solve`; ``on_start(i, count, budget)`` and
    ``on_result(schedule)`` are called around each one. Budgets are solved in increasing order;
    duplicates (same absolute amount) are solved once.
    """
    specs = parse_budgets(budgets) if isinstance(budgets, str) else list(budgets)
    if not specs:
        raise InputError("budgets: no budget given")
    problem = Problem.from_graph(G)
    base = baseline(problem)
    resolved: dict[int, tuple[str, float | None]] = {}
    for spec in specs:  # validate every budget before the first solve
        amount, fraction = resolve_budget(spec, base.peak)
        resolved.setdefault(amount, (str(spec), fraction))
    result = Sweep(problem.name, base.peak, base.cost, time_limit=time_limit, solver=solver)
    order = sorted(resolved)
    for i, amount in enumerate(order):
        spec, fraction = resolved[amount]
        try:
            if on_start:
                on_start(i, len(order), spec)
            try:
                s = solve(G, budget=amount, time_limit=time_limit, solver=solver, progress=progress, **solve_options)
            except KeyboardInterrupt:
                s = _not_solved(problem, amount, fraction, solver, "interrupted before any schedule was found")
            s.budget_fraction = fraction
            result.results.append(s)
            if on_result:
                on_result(s)
        except KeyboardInterrupt:  # between solves: keep what is done
            result.interrupted = True
            break
        if s.extra.get("interrupted"):
            result.interrupted = True
            break
    return result


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep file written by :meth:`Sweep.save`."""
    from moccasin.fileio import read_json

    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a sweep file (format {FORMAT!r})")
    results = [Schedule.from_json(r, source=f"{path} result #{k}") for k, r in enumerate(data.get("results") or [])]
    return Sweep(
        graph=str(data.get("graph", "")), baseline_peak=int(data.get("baseline_peak") or 0),
        baseline_cost=int(data.get("baseline_cost") or 0), results=results,
        time_limit=data.get("time_limit"), solver=data.get("solver"), interrupted=bool(data.get("interrupted")),
    )


__all__ = ["FORMAT", "Sweep", "load_sweep", "parse_budgets", "sweep"]
