"""The Moccasin CP-SAT model (Bartan et al., ICML 2023): O(n) integer variables.

Time is a grid of events: stage ``s = 0..n-1`` holds positions ``p = 0..s`` and event
``e(s, p) = s(s+1)/2 + p`` may compute node ``p`` (nodes are numbered in the baseline order).
Node ``v`` gets up to ``C`` retention intervals ``[start, end)``: copy 0 is computed at
``e(v, v)``, the last event of stage ``v``; copy ``i > 0`` at ``e(s, v)`` for a later stage ``s``.
An interval is held from its computation to its last read, so one cumulative constraint over
all intervals is the memory of DESIGN.md's simulator at every event. Every computation of ``v``
lies strictly inside an interval of each input ``u``. The objective is the total cost.
Unlike the original code, interval ends are exact events (no log-spaced length set) and ``C``
is free; the sequence read off a solution is re-simulated before it is returned.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from functools import reduce

from ortools.sat.python import cp_model

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import event, stage_of
from moccasin.solvers.base import Progress


@dataclass
class CpModel:
    """The built model and its named variables, indexed ``[node][copy]``."""

    model: cp_model.CpModel
    copies: list[int]
    present: list[list]
    start: list[list]
    end: list[list]
    size: list[list]
    uses: dict = field(default_factory=dict)  # (u, i, v, j) -> Bool: copy i of u serves copy j of v
    cost_scale: int = 1
    horizon: int = 0
    #: first_open[t]: the first stage from t on that is not an attached node's (absent copies sit there)
    first_open: list = field(default_factory=list)

    def sequence(self, value) -> list[int]:
        """Read the schedule off a solution (``value`` maps a variable to its value)."""
        steps = []
        for v, copies in enumerate(self.copies):
            for i in range(copies):
                if i == 0 or value(self.present[v][i]):
                    steps.append((value(self.start[v][i]), v))
        steps.sort()
        return [v for _, v in steps]


def build_model(problem: Problem, budget: int, max_recompute: int, at_least: list[int] | None = None) -> CpModel:
    """Build the CP-SAT model of ``problem`` under ``budget`` with at most ``max_recompute``
    computations per node, or ``at_least[v]`` where that is more."""
    n, ram, cost, preds, succs = problem.n, problem.ram, problem.cost, problem.preds, problem.succs
    horizon = event(n - 1, n - 1) + 1
    model = cp_model.CpModel()
    model.name = f"moccasin_{problem.name}"

    # Copies: a node nobody reads, or one marked no_recompute, is computed once; no node is
    # computed twice in one stage, so never more often than the stages from its own on.
    copies = []
    for v in range(n):
        if not succs[v] or problem.pinned[v]:
            copies.append(1)
        else:
            copies.append(max(1, min(max(max_recompute, at_least[v] if at_least else 0), n - v)))

    # No recomputation runs in the stage of an attached node (an item of a multi-output op):
    # between the op and its item, PyTorch already holds the item (moccasin.schedule.attach).
    attached = problem.attached or (False,) * n
    open_stages = [t for t in range(n) if not attached[t]]
    later = [0] * (n + 1)  # later[t]: open stages from t on
    for t in range(n - 1, -1, -1):
        later[t] = later[t + 1] + (not attached[t])
    for v in range(n):
        while copies[v] > 1 and not later[min(n, v + copies[v] - 1)]:
            copies[v] -= 1
    # An absent copy i is pinned to the first open stage it may use.
    first_open = [n] * (n + 1)
    for t in range(n - 1, -1, -1):
        first_open[t] = t if not attached[t] else first_open[t + 1]

    # Variables: per copy a start on node v's own positions, an exclusive end, a presence,
    # and an optional interval. Copy i > 0 lives in stage v + i or later.
    present, start, end, size_vars, intervals, demands = [], [], [], [], [], []
    ram_scale = reduce(math.gcd, ram, 0) or 1
    for v in range(n):
        pv, sv, ev, zv = [], [], [], []
        for i in range(copies[v]):
            if i == 0:
                p = model.new_constant(1)
                s = model.new_constant(event(v, v))
            else:
                p = model.new_bool_var(f"present_{v}_{i}")
                s = model.new_int_var_from_domain(
                    cp_model.Domain.from_values([event(t, v) for t in open_stages if t >= v + i]), f"start_{v}_{i}"
                )
            e = model.new_int_var(event(v + i if i == 0 else first_open[v + i], v) + 1, horizon, f"end_{v}_{i}")
            size = model.new_int_var(1, horizon, f"size_{v}_{i}")
            if i == 0:
                iv = model.new_interval_var(s, size, e, f"keep_{v}_{i}")
            else:
                iv = model.new_optional_interval_var(s, size, e, p, f"keep_{v}_{i}")
            pv.append(p)
            sv.append(s)
            ev.append(e)
            zv.append(size)
            intervals.append(iv)
            demands.append(ram[v] // ram_scale)
        present.append(pv)
        start.append(sv)
        end.append(ev)
        size_vars.append(zv)

    # Copies in order: copy i exists only after copy i-1 and starts after it was last read.
    # An absent copy is pinned to one value, so that absent copies add no symmetry.
    for v in range(n):
        for i in range(1, copies[v]):
            model.add_implication(present[v][i], present[v][i - 1])
            model.add(end[v][i - 1] <= start[v][i]).only_enforce_if(present[v][i])
            model.add(start[v][i] == event(first_open[v + i], v)).only_enforce_if(~present[v][i])
            model.add(end[v][i] == event(first_open[v + i], v) + 1).only_enforce_if(~present[v][i])
            # A recomputation is read by a later event, else it is waste.
            model.add(end[v][i] >= start[v][i] + 2).only_enforce_if(present[v][i])

    # Precedence: every computation of v lies inside a retention interval of each input u:
    # start_u < start_v < end_u for one present copy of u.
    uses = {}
    for v in range(n):
        for u in preds[v]:
            for j in range(copies[v]):
                options = []
                for i in range(copies[u]):
                    b = model.new_bool_var(f"use_{u}_{i}_by_{v}_{j}")
                    if i > 0:
                        model.add_implication(b, present[u][i])
                        model.add(start[u][i] < start[v][j]).only_enforce_if(b)
                    model.add(end[u][i] > start[v][j]).only_enforce_if(b)
                    options.append(b)
                    uses[u, i, v, j] = b
                if j == 0:
                    model.add_bool_or(options)
                else:
                    model.add_bool_or(options).only_enforce_if(present[v][j])

    # A recomputed item of a multi-output op comes from a recomputation of its op in the same
    # stage, right before it: the op makes all its outputs at once (moccasin.schedule.attach).
    for a in range(n):
        if not attached[a] or copies[a] < 2:
            continue
        p = preds[a][-1]
        for j in range(1, copies[a]):
            model.add(uses[p, 0, a, j] == 0)
            for i in range(1, copies[p]):
                model.add(start[a][j] == start[p][i] + (a - p)).only_enforce_if(uses[p, i, a, j])

    # Memory: one cumulative constraint, capacity the budget.
    model.add_cumulative(intervals, demands, budget // ram_scale)

    # Objective: the cost of the recomputations (first computations are a constant).
    cost_scale = reduce(math.gcd, cost, 0) or 1
    model.minimize(
        sum((cost[v] // cost_scale) * present[v][i] for v in range(n) for i in range(1, copies[v]) if cost[v])
    )
    return CpModel(model, copies, present, start, end, size_vars, uses, cost_scale, horizon, first_open)


def add_hint(m: CpModel, problem: Problem, sequence: list[int]) -> bool:
    """Hint every variable of ``m`` from a stage-structured schedule; False if it does not fit."""
    stages = stage_of(problem, sequence)
    if stages is None:
        return False
    sim = simulate_indices(problem, sequence)
    events = [event(s, v) for s, v in zip(stages, sequence)]
    copy_of = []  # copy index of the instance made at each step
    made: list[list[int]] = [[] for _ in range(problem.n)]
    for k, v in enumerate(sequence):
        copy_of.append(len(made[v]))
        made[v].append(k)
    if any(len(made[v]) > m.copies[v] for v in range(problem.n)):
        return False
    model = m.model
    model.clear_hints()
    for v in range(problem.n):
        for i in range(m.copies[v]):
            if i < len(made[v]):
                k = made[v][i]
                s, e = events[k], events[sim.last_read[k]] + 1
                p = 1
            else:
                t = m.first_open[v + i] if m.first_open else v + i
                s, e, p = event(t, v), event(t, v) + 1, 0
            if i > 0:
                model.add_hint(m.present[v][i], p)
                model.add_hint(m.start[v][i], s)
            model.add_hint(m.end[v][i], e)
            model.add_hint(m.size[v][i], e - s)
    newest = [-1] * problem.n
    served: dict = {}
    for k, v in enumerate(sequence):
        for u in problem.preds[v]:
            served[u, v, copy_of[k]] = copy_of[newest[u]]
        newest[v] = k
    for (u, i, v, j), b in m.uses.items():
        model.add_hint(b, 1 if served.get((u, v, j)) == i else 0)
    return True


class ReportingCallback(cp_model.CpSolverSolutionCallback):
    """A solution callback that hands progress reports to the caller's ``progress`` safely.

    The progress callback runs on CP-SAT's threads: an exception it raises (KeyboardInterrupt
    included) must not unwind through C++, so it is kept here, the search is stopped, and
    :func:`run_search` re-raises it (or treats it as an interrupt) on the calling thread.
    """

    def __init__(self, progress):
        super().__init__()
        self.progress = progress
        self.stop = None  # set by run_search: stops the running search from any thread
        self.interrupted = False  # the progress callback raised KeyboardInterrupt
        self.error: BaseException | None = None  # it raised something else

    def _report(self, report: Progress) -> None:
        if not self.progress or self.interrupted or self.error is not None:
            return
        try:
            self.progress(report)
        except KeyboardInterrupt:
            self.interrupted = True
        except BaseException as e:  # noqa: BLE001 - re-raised by run_search on the caller's thread
            self.error = e
        else:
            return
        if self.stop is not None:
            self.stop()


class Watcher(ReportingCallback):
    """Keeps the newest solution's sequence and reports progress; thread-safe."""

    def __init__(self, m: CpModel, problem: Problem, started: float, progress, base_extra: int):
        super().__init__(progress)
        self.m, self.problem, self.started = m, problem, started
        self.base_extra = base_extra
        self.lock = threading.Lock()
        self.best: list[int] | None = None
        self.best_cost: int | None = None
        self.first_seconds: float | None = None
        self.best_seconds: float | None = None
        self.bound: int | None = None

    def on_solution_callback(self) -> None:
        seq = self.m.sequence(self.value)
        cost = int(round(self.objective_value)) * self.m.cost_scale + self.problem.base_cost
        bound = int(math.ceil(self.best_objective_bound - 1e-6)) * self.m.cost_scale + self.problem.base_cost
        now = time.perf_counter() - self.started
        with self.lock:
            self.best, self.best_cost = seq, cost
            self.bound = bound if self.bound is None else max(self.bound, bound)
            if self.first_seconds is None:
                self.first_seconds = now
            self.best_seconds = now
        self._report(Progress(now, cost, self.bound, self.base_extra))

    def on_bound(self, bound: float) -> None:
        value = int(math.ceil(bound - 1e-6)) * self.m.cost_scale + self.problem.base_cost
        with self.lock:
            self.bound = value if self.bound is None else max(self.bound, value)
            best = self.best_cost
        self._report(Progress(time.perf_counter() - self.started, best, self.bound, self.base_extra))


def run_search(solver: cp_model.CpSolver, model: cp_model.CpModel, watcher: ReportingCallback, idle=None) -> tuple[int, bool]:
    """Run ``solver.solve`` so that Ctrl-C stops the search and keeps what it found.

    Returns ``(status code, interrupted)``. OR-Tools' own SIGINT handling
    (``catch_sigint_signal``) is off: it leaves SIGINT at SIG_DFL after the solve and exits the
    process on a third Ctrl-C. Python only runs signal handlers on the main thread between
    bytecodes, never while it sits in ``solve()``, so the search runs on a helper thread while
    this thread waits; a KeyboardInterrupt here (or from the progress callback) calls
    ``stop_search()`` and the solve returns its best solution. A second Ctrl-C is absorbed.
    While it waits, this thread calls ``idle()`` (one step of other work; False when it has
    none) between checks.
    """
    solver.parameters.catch_sigint_signal = False
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["code"] = solver.solve(model, watcher)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = e
        finally:
            done.set()

    watcher.stop = solver.stop_search
    thread = threading.Thread(target=run, name="moccasin-cp-sat", daemon=True)
    interrupted = False
    thread.start()
    while True:
        try:
            # Event.wait, not Thread.join: a join cut short by KeyboardInterrupt can report a
            # running thread as finished (CPython < 3.13).
            while not done.is_set():
                if interrupted or watcher.interrupted:
                    solver.stop_search()  # again each tick: a stop before solve() starts is lost
                    done.wait(0.1)
                elif idle is None or not idle():
                    done.wait(0.1)
            break
        except KeyboardInterrupt:
            interrupted = True
    if "error" in outcome:
        raise outcome["error"]
    if watcher.error is not None:
        raise watcher.error
    return outcome["code"], interrupted or watcher.interrupted
