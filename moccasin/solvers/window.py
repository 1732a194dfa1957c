"""Window search: re-solve the CP model on a window of stages, the rest of a schedule fixed.

CP-SAT proves optima of the whole model on graphs of about 100 nodes in seconds but improves
little on larger ones. Here every computation outside the stages ``[a, b)`` keeps its place
(its interval's end stays free: what it serves may change), and inside the window each node
gets the recomputations the schedule has there plus ``extra`` more, on the same time grid as
:mod:`moccasin.solvers.cpsat`: optional intervals, one cumulative memory constraint, every
read inside an interval of its input. The model is exact for that neighbourhood, so its
optimum is the cheapest schedule that differs from the given one only inside the window.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from functools import reduce

from ortools.sat.python import cp_model

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import simulate_indices
from moccasin.schedule.stages import event, stage_of
from moccasin.solvers.drop import drop_redundant, prune_unread
from moccasin.solvers.lns import RuinRecreate


@dataclass
class _Instance:
    """One computation of ``node`` in the window model: fixed (a constant start) or a free slot."""

    node: int
    start: object  # int (fixed) or IntVar
    end: object
    present: object  # 1 or BoolVar
    fixed_event: int | None  # the start of a fixed instance


class WindowModel:
    """The CP model of one window and the map from its solution back to a sequence."""

    def __init__(self, problem: Problem, budget: int, sequence: list[int], a: int, b: int, extra: int = 1, cap: int | None = None):
        n, ram, cost, preds = problem.n, problem.ram, problem.cost, problem.preds
        stages = stage_of(problem, sequence)
        if stages is None:
            raise ValueError("the window search needs a stage-structured schedule")
        self.problem = problem
        horizon = event(n - 1, n - 1) + 1
        w_start, w_end = event(a, 0), event(b, 0) if b < n else horizon
        model = self.model = cp_model.CpModel()
        attached = problem.attached or (False,) * n
        never = problem.no_recompute or problem.pinned
        open_stages = [s for s in range(a, b) if not attached[s]]

        # Instances: every computation outside the window's recomputations is fixed.
        count = [0] * n
        inside = [0] * n  # recomputations inside the window, per node
        for s, v in zip(stages, sequence):
            count[v] += 1
            if a <= s < b and s != v:
                inside[v] += 1
        self.instances: list[_Instance] = []
        intervals: list[tuple[object, int]] = []  # (interval, bytes)
        step_instance = []  # incumbent step -> instance index (None: a recomputation in the window)
        fixed_of: list[list[int]] = [[] for _ in range(n)]  # node -> fixed instance indices, in time order
        for s, v in zip(stages, sequence):
            if a <= s < b and s != v:
                step_instance.append(None)
                continue
            e = event(s, v)
            end = model.new_int_var(e + 1, horizon, f"end_{v}_at_{e}")
            size = model.new_int_var(1, horizon, f"size_{v}_at_{e}")
            intervals.append((model.new_interval_var(e, size, end, f"keep_{v}_at_{e}"), ram[v]))
            fixed_of[v].append(len(self.instances))
            step_instance.append(len(self.instances))
            self.instances.append(_Instance(v, e, end, 1, e))

        # Free slots, for the nodes held during the window: the window's recomputations of each
        # node plus ``extra``, within the cap. Other nodes are never recomputed there (their
        # fixed instances may still be kept longer). Adding their inputs was no better
        # (bench/README.md, item 22).
        sim = simulate_indices(problem, sequence)
        length = len(sequence)
        w_first = next((k for k, s in enumerate(stages) if s >= a), length)
        w_last = next((k for k, s in enumerate(stages) if s >= b), length)
        relevant = [False] * n
        for k, v in enumerate(sequence):
            if k < w_last and sim.last_read[k] >= w_first:
                relevant[v] = True
        free_of: list[list[int]] = [[] for _ in range(n)]
        for v in range(n):
            if not inside[v] and (never[v] or not problem.succs[v] or not relevant[v]):
                continue
            domain = [event(s, v) for s in open_stages if s > v]
            if not domain:
                continue
            slots = inside[v] + extra
            if cap is not None:  # never fewer than the incumbent has here (it may exceed the cap)
                slots = max(inside[v], min(slots, cap - (count[v] - inside[v])))
            prev = None
            for k in range(slots):
                p = model.new_bool_var(f"present_{v}_{k}")
                s = model.new_int_var_from_domain(cp_model.Domain.from_values(domain), f"start_{v}_{k}")
                e = model.new_int_var(domain[0] + 1, horizon, f"end_{v}_{k}")
                size = model.new_int_var(1, horizon, f"size_{v}_{k}")
                interval = model.new_optional_interval_var(s, size, e, p, f"keep_{v}_{k}")
                intervals.append((interval, ram[v]))
                # Slots in time order; an absent slot is pinned to one value (no symmetry).
                model.add(s == domain[0]).only_enforce_if(~p)
                model.add(e == domain[0] + 1).only_enforce_if(~p)
                model.add(e >= s + 2).only_enforce_if(p)  # read by a later event, else waste
                if prev is not None:
                    model.add_implication(p, prev.present)
                    model.add(prev.end <= s).only_enforce_if(p)
                inst = _Instance(v, s, e, p, None)
                free_of[v].append(len(self.instances))
                self.instances.append(inst)
                prev = inst

        if any(len(free_of[v]) < inside[v] for v in range(n)):
            raise ValueError("the window cannot hold the incumbent's recomputations")

        # Which instance served each read in the incumbent (for the hint and fixed reads).
        newest = [-1] * n
        served: dict[tuple[int, int], int] = {}  # (incumbent step, input) -> incumbent step
        for k, v in enumerate(sequence):
            for u in preds[v]:
                served[k, u] = newest[u]
            newest[v] = k
        self._uses: dict[tuple[int, int, int], object] = {}  # (reader instance, input, option) -> Bool

        min_end: dict[int, int] = {}  # fixed instance -> the smallest end its fixed reads allow

        def last_fixed_before(u: int, e: int) -> int:
            """The newest fixed instance of ``u`` before event ``e`` (the first one is fixed)."""
            best = fixed_of[u][0]
            for i in fixed_of[u]:
                if self.instances[i].fixed_event >= e:
                    break
                best = i
            return best

        def add_read(x: int, u: int) -> None:
            """Instance ``x`` reads ``u``: inside one interval of ``u`` that exists before it."""
            X = self.instances[x]
            item = bool(attached[X.node]) and X.fixed_event is None and u == preds[X.node][-1]
            if X.fixed_event is not None:
                f = last_fixed_before(u, X.fixed_event)
                # Before the window, or after a fixed instance past it, the read is served as now.
                if X.fixed_event < w_start or not free_of[u] or self.instances[f].fixed_event >= w_end:
                    min_end[f] = max(min_end.get(f, 0), X.fixed_event + 1)
                    return
                options = [f]
            else:
                # The newest fixed instance before the window's end: before the window, or u's
                # first computation inside it. An item's recomputation comes with its op's.
                options = [] if item else [last_fixed_before(u, w_end)]
            lits = []
            for i in options + free_of[u]:
                U = self.instances[i]
                lit = model.new_bool_var(f"use_{u}_{i}_by_{x}")
                if U.fixed_event is None:
                    model.add_implication(lit, U.present)
                    model.add(U.start < X.start).only_enforce_if(lit)
                    if item:
                        model.add(X.start == U.start + (X.node - u)).only_enforce_if(lit)
                elif X.fixed_event is None:
                    model.add(X.start > U.fixed_event).only_enforce_if(lit)
                model.add(U.end > X.start).only_enforce_if(lit)
                self._uses[x, u, i] = lit
                lits.append(lit)
            if X.fixed_event is None:
                model.add_bool_or(lits).only_enforce_if(X.present)
            else:
                model.add_bool_or(lits)

        for x, X in enumerate(self.instances):
            for u in preds[X.node]:
                add_read(x, u)
        for i, lb in min_end.items():
            domain = model.proto.variables[self.instances[i].end.index].domain
            domain[0] = max(domain[0], lb)

        # Memory: one cumulative over every interval, capacity the budget.
        scale = reduce(math.gcd, ram, 0) or 1
        model.add_cumulative([iv for iv, _ in intervals], [r // scale for _, r in intervals], budget // scale)
        # Objective: the window's recomputations (everything else is fixed).
        model.minimize(sum(cost[v] * self.instances[i].present for v in range(n) for i in free_of[v] if cost[v]))
        self._hint(sequence, stages, sim.last_read, step_instance, free_of, served)

    def _hint(self, sequence, stages, last_read, step_instance, free_of, served) -> None:
        """The incumbent as a complete hint."""
        problem, model = self.problem, self.model
        events = [event(s, v) for s, v in zip(stages, sequence)]
        where = list(step_instance)  # incumbent step -> instance index
        used = [0] * problem.n
        for k, v in enumerate(sequence):
            if where[k] is None:
                where[k] = free_of[v][used[v]]
                used[v] += 1
        hinted = set()
        for k, i in enumerate(where):
            inst = self.instances[i]
            end = events[last_read[k]] + 1
            if inst.fixed_event is None:
                model.add_hint(inst.present, 1)
                model.add_hint(inst.start, events[k])
                end = max(end, events[k] + 2)
            model.add_hint(inst.end, end)
            hinted.add(i)
        for i, inst in enumerate(self.instances):
            if i not in hinted:
                first = model.proto.variables[inst.start.index].domain[0]
                model.add_hint(inst.present, 0)
                model.add_hint(inst.start, first)
                model.add_hint(inst.end, first + 1)
        of_step = {i: k for k, i in enumerate(where)}
        for (x, u, i), lit in self._uses.items():
            k = of_step.get(x)
            model.add_hint(lit, 1 if k is not None and where[served[k, u]] == i else 0)

    def sequence(self, value) -> list[int]:
        """The schedule of a solution: every present instance in time order."""
        steps = []
        for inst in self.instances:
            if inst.fixed_event is not None:
                steps.append((inst.fixed_event, inst.node))
            elif value(inst.present):
                steps.append((value(inst.start), inst.node))
        steps.sort()
        return [v for _, v in steps]


#: The narrowest window (stages) the adaptive size goes down to.
MIN_WIDTH = 8


class WindowSearch:
    """Improves a schedule by solving windows of stages exactly; call :meth:`step`.

    Each window starts a random number of stages before a random recomputation of the best
    schedule. Its width adapts: a window solved to optimality makes the next one wider, one
    cut off by the time limit makes it narrower (as CP-SAT's own neighbourhoods do).
    """

    def __init__(self, problem: Problem, budget: int, sequence: list[int], cap: int | None = None, seed: int = 0, width: int = 16):
        self.problem, self.budget, self.cap = problem, budget, cap
        self.best = list(sequence)
        self.best_cost = simulate_indices(problem, sequence).cost
        self.rng = random.Random(seed)
        self.width = width
        self.steps = self.improvements = 0

    def offer(self, sequence: list[int], cost: int) -> bool:
        """A schedule found elsewhere (within the budget): the incumbent if it is cheaper and
        stage-structured. True if it was taken."""
        if cost >= self.best_cost or stage_of(self.problem, sequence) is None:
            return False
        self.best, self.best_cost = list(sequence), cost
        return True

    def step(self, seconds: float) -> bool:
        """Solve one window for at most ``seconds``; True when the schedule got cheaper."""
        self.steps += 1
        problem, rng, width = self.problem, self.rng, self.width
        stages = stage_of(problem, self.best)
        recomputed = [s for s, v in zip(stages, self.best) if s != v]
        center = rng.choice(recomputed) if recomputed else rng.randrange(problem.n)
        a = max(0, min(center - rng.randrange(width), problem.n - width))
        try:
            m = WindowModel(problem, self.budget, self.best, a, min(problem.n, a + width), cap=self.cap)
        except ValueError:  # a recomputation in a stage the model keeps closed (an item's)
            return False
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = seconds
        solver.parameters.num_workers = 1
        solver.parameters.cp_model_presolve = False
        solver.parameters.catch_sigint_signal = False  # Ctrl-C reaches the caller after the solve
        solver.parameters.random_seed = rng.randrange(1 << 30)
        code = solver.solve(m.model)
        if code == cp_model.OPTIMAL:
            self.width = min(problem.n, 2 * width)
        elif width > MIN_WIDTH:
            self.width = max(MIN_WIDTH, width * 2 // 3)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        seq = attach(problem, drop_redundant(problem, self.budget, prune_unread(problem, m.sequence(solver.value))))
        sim = simulate_indices(problem, seq)
        if sim.peak <= self.budget and sim.cost < self.best_cost and stage_of(problem, seq) is not None:
            self.best, self.best_cost = seq, sim.cost
            self.improvements += 1
            return True
        return False


class Tandem:
    """Ruin-and-recreate and the window search in turns on one thread, each going on from the
    other's best: ``ruin_seconds`` of ruin-and-recreate steps, then one window of at most
    ``window_seconds``."""

    def __init__(self, problem: Problem, budget: int, sequence: list[int], cap: int | None, seed: int = 0,
                 ruin_seconds: float = 1.0, window_seconds: float = 1.0):
        self.ruin = RuinRecreate(problem.items_pinned, budget, sequence, cap, seed)
        self.windows = WindowSearch(problem, budget, sequence, cap, seed)
        self.ruin_seconds, self.window_seconds = ruin_seconds, window_seconds
        self.turn = time.perf_counter() + ruin_seconds

    @property
    def best_cost(self) -> int:
        return min(self.ruin.best_cost, self.windows.best_cost)

    @property
    def best(self) -> list[int]:
        return self.windows.best if self.windows.best_cost < self.ruin.best_cost else self.ruin.best

    @property
    def optimal(self) -> bool:
        return self.ruin.optimal

    @property
    def improvements(self) -> int:
        return self.ruin.improvements + self.windows.improvements

    def stats(self) -> dict:
        r, w = self.ruin, self.windows
        return {"lns_steps": r.steps, "lns_improvements": r.improvements, "window_steps": w.steps, "window_improvements": w.improvements}

    def offer(self, sequence: list[int]) -> bool:
        """A schedule found elsewhere (CP-SAT's): both searches go on from it if it is valid,
        within the budget and cheaper. True if it was taken."""
        problem = self.windows.problem
        seq = attach(problem, prune_unread(problem, sequence))
        sim = simulate_indices(problem, seq)
        if sim.peak > self.windows.budget or sim.cost >= self.best_cost:
            return False
        self.ruin.offer(seq, sim.cost)  # both check the stages
        return self.windows.offer(seq, sim.cost)

    def step(self, deadline: float) -> bool:
        """One step of whichever search has its turn; True when the best schedule got cheaper."""
        now = time.perf_counter()
        if now < self.turn:
            better = self.ruin.step()
            if better:
                self.windows.offer(self.ruin.best, self.ruin.best_cost)
            return better
        better = self.windows.step(max(0.01, min(self.window_seconds, deadline - now)))
        if better:
            self.ruin.offer(self.windows.best, self.windows.best_cost)
        self.turn = time.perf_counter() + self.ruin_seconds
        return better
