"""The Checkmate MILP (Jain et al., MLSys 2020): the O(n^2) baseline the Moccasin CP model beats.

Nodes are numbered in the baseline order; stage ``t`` computes node ``t`` for the first time and,
before it, any nodes ``i < t`` it chooses, each at most once and in index order (the same
stage-structured family as :mod:`moccasin.solvers.cp`). Variables, for every stage ``t``:

- ``R[t,i]`` (binary, ``i <= t``): compute ``i`` in stage ``t``; ``R[t,t] = 1``.
- ``S[t,i]`` (binary, ``i < t``): ``i``'s output is kept from stage ``t-1`` into stage ``t``.
- ``FREE[t,(i,k)]`` (binary, one per edge ``(i,k)`` with ``k <= t``): ``i``'s output is freed
  right after ``k`` is computed in stage ``t``.
- ``U[t,k]`` (continuous; integer under CP-SAT): memory in use while ``k`` runs in stage ``t``,
  at most the budget.

Constraints: correctness (what is read is computed in the stage or kept; what is kept was
computed or kept), the freeing indicators linearised with hazard counts, the memory recurrence
along each stage; the objective is ``sum R[t,i] * cost_i`` (no random cost noise, unlike the
public Checkmate code, which perturbs costs by 1% by default).

Where this departs from the paper and its code, and why:

- **A node's own output is freed too.** Checkmate's code frees, after computing ``k``, only the
  inputs of ``k`` whose last reader in the stage is ``k``; an output nobody reads later in the
  stage (and that is not kept) stays counted to the stage's end. DESIGN.md's simulator frees it
  right after its step, so this model adds one more indicator per stage and node,
  ``FREE[t,(k,k)] = R[t,k] * (1 - S[t+1,k]) * prod_{j in succ(k), j <= t} (1 - R[t,j])``,
  linearised the same way. With it, for every stage-structured sequence the tight assignment
  (``S[t,i] = 1`` exactly when the instance of ``i`` alive at stage ``t``'s start is read in stage
  ``t`` or later) makes ``U`` equal the simulator's memory at every step, and every other
  assignment only overstates memory. So this MILP, the CP model and the simulator solve the same
  problem: same optimum over the stage-structured family.
- **Fixed variables are constants.** ``R[t,i] = 0`` for ``t > i`` when ``i`` is marked
  ``no_recompute`` (:attr:`Problem.pinned`) or nobody reads ``i`` (recomputing it is waste);
  ``S[t,i] = 0`` when nothing can read ``i`` in stage ``t`` or later. Rows are written with these
  constants folded in, so the counts in ``stats`` are of the model a solver actually sees.
- **Exact costs and sizes**, divided by their gcd, instead of floating-point noise.

The schedule is read off ``R`` (stage by stage, index order), stripped of recomputations nobody
reads, and re-simulated by :func:`~moccasin.solvers.base.make_schedule`.

Backends: ``milp`` solves the model with a MILP solver shipped with OR-Tools (SCIP, chosen by
measurement, see ``bench/README.md``; ``milp-highs`` uses HiGHS, ``milp-scip`` names SCIP
explicitly); ``milp-cpsat`` solves
the very same rows with CP-SAT, so that the effect of the formulation is separate from the
effect of the solver. Before building, :func:`estimate_size` counts the model; above
``max_model_bytes`` (``SolveOptions.extra``, default :data:`DEFAULT_MAX_MODEL_BYTES`) the solver
refuses with a message giving the size instead of exhausting the machine.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import reduce

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from moccasin.graph.problem import Problem
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers.base import Found, Progress, SolveOptions, make_schedule
from moccasin.solvers.cpsat import ReportingCallback
from moccasin.solvers.cpsat import run_search as _search
from moccasin.schedule.stages import stage_of
from moccasin.solvers.drop import prune_unread
from moccasin.solvers.greedy import best_greedy

#: Bytes per variable, row and nonzero a backend needs while solving, from the peak RSS of
#: runs on the paper graphs (2 workers, 20-60 s; the search tree grows with time, so rounded up):
#: HiGHS 440-580 B per nonzero on random_layered_n250/n500, SCIP 2.0-2.7 KB on n250, CP-SAT
#: 300 B on n250 after 6 s of search but 1.4 KB on resnet50_train after 60 s with 2 workers
#: (see bench/README.md). Used by :func:`estimate_size`.
BYTES_PER = {
    "HIGHS": (100, 100, 700),
    "SCIP": (200, 200, 2800),
    "CP_SAT": (200, 200, 1500),
}


def _default_max_bytes() -> int:
    """Half of this machine's physical memory, at most 12 GiB: leaves room for everything else."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    return int(min(total // 2, 12 << 30))


#: Default limit on the estimated model size (``SolveOptions.extra["max_model_bytes"]``).
DEFAULT_MAX_MODEL_BYTES = _default_max_bytes()


class ModelTooLarge(Exception):
    """The estimated model does not fit the allowed memory; ``str(e)`` says how big it is."""

    def __init__(self, size: "ModelSize", limit: int):
        self.size, self.limit = size, limit
        super().__init__(
            f"the Checkmate MILP of this graph would need about {_human(size.bytes)} "
            f"({size.variables:,} variables, {size.constraints:,} constraints, {size.nonzeros:,} nonzeros), "
            f"more than the limit of {_human(limit)} (option max_model_bytes)"
        )


def _human(x: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if x < 1024 or unit == "TiB":
            return f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TiB"


@dataclass(frozen=True)
class ModelSize:
    """Counts of the model as built (constants folded) and the bytes a backend would need."""

    variables: int
    constraints: int
    nonzeros: int
    bytes: int


class _Layout:
    """Which R and S entries are variables, and the index sets every family ranges over."""

    def __init__(self, problem: Problem):
        n, succs = problem.n, problem.succs
        self.n = n
        # A node may run again in a later stage unless it is pinned or nobody reads it.
        self.recomputable = [bool(succs[i]) and not problem.pinned[i] for i in range(n)]
        # No recomputation in the stage of an attached node (an item of a multi-output op):
        # PyTorch holds the item from its op's step on (moccasin.schedule.attach).
        self.attached = list(problem.attached) or [False] * n
        # Latest stage in which some reader of i can run: a recomputable reader any time after
        # its own stage, a fixed one only in its own stage. S[t,i] is useful only up to it.
        self.last_use = []
        for i in range(n):
            last = -1
            for j in succs[i]:
                last = max(last, n - 1 if self.recomputable[j] else j)
            self.last_use.append(last)

    def r_free(self, t: int, i: int) -> bool:
        return i < t and self.recomputable[i] and not self.attached[t]

    def s_free(self, t: int, i: int) -> bool:
        return i < t <= self.last_use[i]


def estimate_size(problem: Problem, backend: str = "HIGHS") -> ModelSize:
    """Count variables, rows and nonzeros of :func:`build_model` without building it.

    Closed forms per node and edge (``O(n + E * degree)``), following the builder's folding rules:
    the variable and row counts are exact, the nonzeros within a few percent. ``bytes``
    multiplies them by the backend's measured :data:`BYTES_PER`.
    """
    n, preds, succs = problem.n, problem.preds, problem.succs
    lay = _Layout(problem)
    rec = lay.recomputable
    # R[t,i] free for t > i when i is recomputable; S[t,i] free for i < t <= last_use[i]; U[t,k].
    r_vars = sum(n - 1 - i for i in range(n) if rec[i])
    s_vars = sum(max(0, lay.last_use[i] - i) for i in range(n))
    nvar = r_vars + s_vars + n * (n + 1) // 2
    # Correctness of S: one row of 3 terms per free S[t,i] (t >= 1).
    nrow, nnz = s_vars, 3 * s_vars
    # Correctness of R: per edge (u,v), stage v (R[v,v] = 1) and the stages after v where v may run.
    for v in range(n):
        later_stages = (n - 1 - v) if rec[v] else 0
        for u in preds[v]:
            nrow += 1 + later_stages
            nnz += (1 + rec[u]) + later_stages * (2 + rec[u])
    # FREE: per (k, i in preds(k) + {k}) and stage t in {k} + (k+1..n-1 if k may run again).
    for k in range(n):
        stages = 1 + ((n - 1 - k) if rec[k] else 0)
        last_t = k + stages - 1
        for i in (*preds[k], k):
            nvar += stages
            nrow += 2 * stages
            keep = max(0, min(last_t, n - 2, lay.last_use[i] - 1) - k + 1)  # S[t+1,i] free
            later = 0
            if stages > 1:
                later = sum(n - 1 - j for j in succs[i] if j > k and rec[j]) + sum(1 for j in succs[i] if j > k)
            nnz += 2 * (stages + (stages - 1) + keep + later)
    # Memory: U[t,0] and one recurrence row per (t, k < t).
    nrow += n * (n + 1) // 2
    nnz += n + s_vars + sum(rec[0] for t in range(1, n)) + sum((n - 1 - k) * (3 + len(preds[k])) for k in range(n))
    per = BYTES_PER.get(backend, BYTES_PER["SCIP"])
    return ModelSize(nvar, nrow, nnz, nvar * per[0] + nrow * per[1] + nnz * per[2])


# ---------------------------------------------------------------------------------------------
# Backends: the formulation writes rows of (coefficient, variable id) with constants folded;
# each backend turns ids into its own variables.


@contextlib.contextmanager
def quiet_stdout():
    """Silence file descriptor 1 (HiGHS prints a banner there when created, which would break
    ``--json`` output); Python's own ``sys.stdout`` is flushed first and restored after."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded interpreters): nothing to protect
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _LinearBackend:
    """pywraplp with a MILP solver (HiGHS or SCIP); memory variables are continuous."""

    def __init__(self, solver_name: str):
        with quiet_stdout():
            self.solver = pywraplp.Solver.CreateSolver(solver_name)
        if self.solver is None:
            raise RuntimeError(f"OR-Tools was built without the {solver_name} solver")
        self.name = solver_name
        self.vars: list = []
        self.rows = 0
        self.nonzeros = 0

    def bool_var(self, name: str) -> int:
        self.vars.append(self.solver.BoolVar(name))
        return len(self.vars) - 1

    def memory_var(self, ub: int, name: str) -> int:
        self.vars.append(self.solver.NumVar(0.0, float(ub), name))
        return len(self.vars) - 1

    def row(self, ids, coefs, lb: float, ub: float) -> None:
        c = self.solver.Constraint(float(lb), float(ub))
        vs = self.vars
        for i, a in zip(ids, coefs):
            c.SetCoefficient(vs[i], float(a))
        self.rows += 1
        self.nonzeros += len(ids)

    def minimize(self, ids, coefs) -> None:
        obj = self.solver.Objective()
        for i, a in zip(ids, coefs):
            obj.SetCoefficient(self.vars[i], float(a))
        obj.SetMinimization()


class _CpSatBackend:
    """The same rows as a CP-SAT model (memory in integer units of the gcd of the sizes)."""

    def __init__(self):
        self.model = cp_model.CpModel()
        self.name = "CP_SAT"
        self.vars: list = []
        self.rows = 0
        self.nonzeros = 0

    def bool_var(self, name: str) -> int:
        self.vars.append(self.model.new_bool_var(name))
        return len(self.vars) - 1

    def memory_var(self, ub: int, name: str) -> int:
        self.vars.append(self.model.new_int_var(0, int(ub), name))
        return len(self.vars) - 1

    def row(self, ids, coefs, lb: float, ub: float) -> None:
        vs = self.vars
        expr = cp_model.LinearExpr.weighted_sum([vs[i] for i in ids], [int(a) for a in coefs])
        lo = cp_model.INT_MIN if lb == -math.inf else int(lb)
        hi = cp_model.INT_MAX if ub == math.inf else int(ub)
        self.model.add_linear_constraint(expr, lo, hi)
        self.rows += 1
        self.nonzeros += len(ids)

    def minimize(self, ids, coefs) -> None:
        self.model.minimize(cp_model.LinearExpr.weighted_sum([self.vars[i] for i in ids], [int(a) for a in coefs]))


# ---------------------------------------------------------------------------------------------
# The formulation.


@dataclass
class CheckmateModel:
    """The built model: variable ids of each family (fixed entries are absent) and the scales."""

    backend: object
    layout: _Layout
    R: dict = field(default_factory=dict)  # (t, i) -> id
    S: dict = field(default_factory=dict)  # (t, i) -> id
    FREE: dict = field(default_factory=dict)  # (t, i, k) -> id; (t, k, k) frees k's own output
    U: dict = field(default_factory=dict)  # (t, k) -> id
    ram_scale: int = 1
    cost_scale: int = 1
    infeasible: bool = False  # a row of constants is violated (the budget is too small)

    def r(self, t: int, i: int, value) -> int:
        """R[t,i] in a solution (``value`` maps an id to its value)."""
        if i == t:
            return 1
        vid = self.R.get((t, i))
        return 0 if vid is None else int(value(vid) > 0.5)

    def sequence(self, value) -> list[int]:
        """The schedule read off R: stage by stage, index order."""
        n = self.layout.n
        return [i for t in range(n) for i in range(t + 1) if self.r(t, i, value)]


class _Rows:
    """Writes a row of terms ``(coef, x)`` where ``x`` is a variable id or a constant 0/1."""

    def __init__(self, backend, model: CheckmateModel):
        self.b, self.m = backend, model

    def add(self, terms, lb: float, ub: float) -> None:
        ids, coefs, const = [], [], 0
        for a, x in terms:
            if isinstance(x, Const):
                const += a * x.value
            else:
                ids.append(x)
                coefs.append(a)
        lb, ub = lb - const, ub - const
        if not ids:
            if lb > 1e-9 or ub < -1e-9:
                self.m.infeasible = True
            return
        self.b.row(ids, coefs, lb, ub)


@dataclass(frozen=True)
class Const:
    """A fixed entry of R, S or FREE inside a row."""

    value: int


ZERO, ONE = Const(0), Const(1)


def build_model(problem: Problem, budget: int, backend) -> CheckmateModel:
    """Write the Checkmate MILP of ``problem`` under ``budget`` into ``backend``."""
    n, ram, cost, preds, succs = problem.n, problem.ram, problem.cost, problem.preds, problem.succs
    lay = _Layout(problem)
    g_ram = reduce(math.gcd, ram, 0) or 1
    g_cost = reduce(math.gcd, cost, 0) or 1
    m = CheckmateModel(backend, lay, ram_scale=g_ram, cost_scale=g_cost)
    rows = _Rows(backend, m)
    mem = [r // g_ram for r in ram]
    cap = budget // g_ram

    # Variables R[t,i] and S[t,i]: binary where free, constants elsewhere.
    for t in range(n):
        for i in range(t):
            if lay.r_free(t, i):
                m.R[t, i] = backend.bool_var(f"R_{t}_{i}")
            if lay.s_free(t, i):
                m.S[t, i] = backend.bool_var(f"S_{t}_{i}")

    def R(t: int, i: int):
        return ONE if i == t else m.R.get((t, i), ZERO)

    def S(t: int, i: int):
        return m.S.get((t, i), ZERO) if t < n else ZERO

    # Correctness of S: a value is kept into stage t+1 only if it was kept into or computed in t.
    for t in range(n - 1):
        for i in range(t + 1):
            if (t + 1, i) in m.S:
                rows.add([(1, S(t + 1, i)), (-1, S(t, i)), (-1, R(t, i))], -math.inf, 0)

    # Correctness of R: computing v in stage t needs every input u computed in t or kept.
    for t in range(n):
        for v in range(t + 1):
            if v != t and (t, v) not in m.R:
                continue
            for u in preds[v]:
                rows.add([(1, R(t, v)), (-1, R(t, u)), (-1, S(t, u))], -math.inf, 0)

    # A recomputed item of a multi-output op comes with a recomputation of its op (its latest
    # input) in the same stage: the op makes all its outputs at once.
    for (t, a) in list(m.R):
        if lay.attached[a] and preds[a]:
            rows.add([(1, R(t, a)), (-1, R(t, preds[a][-1]))], -math.inf, 0)

    # Freeing: FREE[t,(i,k)] = R[t,k] (1 - S[t+1,i]) prod_{j in succ(i), k < j <= t} (1 - R[t,j]),
    # for k reading i and for k == i (k's own output). With h hazards and kappa = their number
    # + 1 as bound: 1 - FREE <= h and kappa (1 - FREE) >= h.
    for t in range(n):
        for k in range(t + 1):
            if k != t and (t, k) not in m.R:
                continue
            for i in (*preds[k], k):
                later = [R(t, j) for j in succs[i] if k < j <= t]
                hazards = [(-1, R(t, k)), (1, S(t + 1, i))] + [(1, x) for x in later]
                kappa = len(later) + 2
                f = backend.bool_var(f"FREE_{t}_{i}_{k}")
                m.FREE[t, i, k] = f
                # h + FREE >= 1, with h = 1 - R[t,k] + S[t+1,i] + sum R[t,j]
                rows.add(hazards + [(1, f)], 0, math.inf)
                # h + kappa FREE <= kappa
                rows.add(hazards + [(kappa, f)], -math.inf, kappa - 1)

    # Memory: U[t,0] = R[t,0] m_0 + sum_i S[t,i] m_i;
    # U[t,k+1] = U[t,k] + R[t,k+1] m_{k+1} - sum_{i in preds(k)} m_i FREE[t,(i,k)] - m_k FREE[t,(k,k)].
    # The budget is the upper bound of every U.
    for t in range(n):
        for k in range(t + 1):
            m.U[t, k] = backend.memory_var(cap, f"U_{t}_{k}")
        rows.add([(1, m.U[t, 0]), (-mem[0], R(t, 0))] + [(-mem[i], S(t, i)) for i in range(t)], 0, 0)
        for k in range(t):
            terms = [(1, m.U[t, k + 1]), (-1, m.U[t, k]), (-mem[k + 1], R(t, k + 1))]
            for i in (*preds[k], k):
                f = m.FREE.get((t, i, k))
                if f is not None and mem[i]:
                    terms.append((mem[i], f))
            rows.add(terms, 0, 0)

    # Objective: the cost of recomputations (first computations R[t,t] are a constant).
    ids = [vid for (t, i), vid in m.R.items() if cost[i]]
    backend.minimize(ids, [cost[i] // g_cost for (t, i), vid in m.R.items() if cost[i]])
    return m


def hint_values(m: CheckmateModel, problem: Problem, sequence: list[int]) -> dict[int, float] | None:
    """Values of every variable for a stage-structured ``sequence`` (tight S), or None.

    None when the sequence is not stage-structured or sets a variable the model fixed.
    """
    stages = stage_of(problem, sequence)
    if stages is None:
        return None
    n, preds, succs, ram = problem.n, problem.preds, problem.succs, problem.ram
    sim = simulate_indices(problem, sequence)
    Rv = [[0] * (t + 1) for t in range(n)]
    for s, v in zip(stages, sequence):
        Rv[s][v] = 1
    Sv = [[0] * t for t in range(n)]
    for k, v in enumerate(sequence):
        last = stages[sim.last_read[k]]
        for t in range(stages[k] + 1, last + 1):
            Sv[t][v] = 1
    values: dict[int, float] = {}
    for t in range(n):
        for i in range(t):
            if (t, i) in m.R:
                values[m.R[t, i]] = Rv[t][i]
            elif Rv[t][i]:
                return None
            if (t, i) in m.S:
                values[m.S[t, i]] = Sv[t][i]
            elif Sv[t][i]:
                return None
    for (t, i, k), f in m.FREE.items():
        keep = Sv[t + 1][i] if t + 1 < n else 0
        later = any(Rv[t][j] for j in succs[i] if k < j <= t)
        values[f] = int(Rv[t][k] == 1 and not keep and not later)
    g = m.ram_scale
    for t in range(n):
        u = Rv[t][0] * ram[0] + sum(Sv[t][i] * ram[i] for i in range(t))
        for k in range(t + 1):
            if k > 0:
                u += Rv[t][k] * ram[k]
                for i in (*preds[k - 1], k - 1):
                    f = m.FREE.get((t, i, k - 1))
                    if f is not None and values[f]:
                        u -= ram[i]
            values[m.U[t, k]] = u // g
    return values


# ---------------------------------------------------------------------------------------------
# Solving.


def _hint_sequence(problem: Problem, budget: int, options: SolveOptions, base_peak: int) -> list[int] | None:
    """The caller's hint, else the baseline if it fits, else the greedy (stage-structured)."""
    hint = options.hint
    if hint is None and base_peak <= budget:
        hint = list(range(problem.n))
    if hint is None:
        hint = best_greedy(problem, budget)  # the MILP bounds no node's computations
    if hint is not None and simulate_indices(problem, hint).peak > budget:
        hint = None
    return hint


def _refusal(problem: Problem, budget: int, solver: str, size: ModelSize, limit: int, started: float, stats: dict) -> Schedule:
    stats = dict(stats, variables=size.variables, constraints=size.constraints, nonzeros=size.nonzeros,
                 estimated_bytes=size.bytes, refused="model too large", message=str(ModelTooLarge(size, limit)))
    return make_schedule(problem, budget, solver, Found(None, "UNKNOWN", None, None, stats), started)


def solve_mip(problem: Problem, budget: int, options: SolveOptions, backend_name: str = "HIGHS", solver: str = "milp") -> Schedule:
    """The Checkmate MILP solved by HiGHS or SCIP through ``pywraplp``.

    Warm start: SCIP takes the hint (``SetHint``); pywraplp's HiGHS interface has none (it
    crashes on ``SetHint``), so HiGHS starts cold. First-solution and best-solution times are
    not available through pywraplp (no callbacks): reported as None.
    """
    started = time.perf_counter()
    base = baseline(problem)
    stats: dict = {"method": solver, "backend": backend_name}
    size = estimate_size(problem, backend_name)
    limit = int(options.extra.get("max_model_bytes", DEFAULT_MAX_MODEL_BYTES))
    stats["estimated_bytes"] = size.bytes
    if size.bytes > limit:
        return _refusal(problem, budget, solver, size, limit, started, stats)

    hint = _hint_sequence(problem, budget, options, base.peak)
    hint_seconds = time.perf_counter() - started if hint is not None else None
    backend = _LinearBackend(backend_name)
    m = build_model(problem, budget, backend)
    stats.update(variables=len(backend.vars), constraints=backend.rows, nonzeros=backend.nonzeros)
    stats["build_seconds"] = round(time.perf_counter() - started, 4)
    if m.infeasible:
        stats["message"] = "the budget is below what some step needs (a row of constants is violated)"
        return make_schedule(problem, budget, solver, Found(None, "INFEASIBLE", None, None, stats), started, base=base)

    s = backend.solver
    hinted = False
    if hint is not None and backend_name == "SCIP":
        values = hint_values(m, problem, hint)
        if values is not None:
            s.SetHint([backend.vars[i] for i in values], [float(v) for v in values.values()])
            hinted = True
    stats["hinted"] = hinted
    remaining = max(0.05, options.time_limit - (time.perf_counter() - started))
    s.SetTimeLimit(int(remaining * 1000))
    s.SetNumThreads(options.num_workers)
    if options.log_search:
        s.EnableOutput()
    else:
        s.SuppressOutput()
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
    # HiGHS prints its banner on stdout when Solve creates it, whatever SuppressOutput says.
    with (contextlib.nullcontext() if options.log_search else quiet_stdout()):
        code, interrupted = _solve_interruptibly(s, params)
    if interrupted:
        stats["interrupted"] = True
    names = {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
             pywraplp.Solver.INFEASIBLE: "INFEASIBLE", pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED",
             pywraplp.Solver.ABNORMAL: "ABNORMAL", pywraplp.Solver.UNBOUNDED: "UNBOUNDED"}
    stats["mip_status"] = names.get(code, f"code {code}")
    stats["solver_seconds"] = round(s.wall_time() / 1000.0, 4)
    stats["first_solution"] = "unavailable through pywraplp (no solution callback)"

    seq, lower = None, None
    if code in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        vs = backend.vars
        seq = prune_unread(problem, m.sequence(lambda i: vs[i].solution_value()))
        bound = s.Objective().BestBound()
        if math.isfinite(bound):
            lower = problem.base_cost + max(0, _integral_bound(bound)) * m.cost_scale
        if lower is None and code == pywraplp.Solver.OPTIMAL:
            lower = simulate_indices(problem, seq).cost
    stats["best_solution_seconds"] = None  # not available through pywraplp
    return _finish(problem, budget, solver, seq, code == pywraplp.Solver.OPTIMAL, code == pywraplp.Solver.INFEASIBLE,
                   lower, None, hint, hint_seconds, stats, started, base)


def _solve_interruptibly(s: pywraplp.Solver, params) -> tuple[int, bool]:
    """``s.Solve(params)`` on a helper thread; Ctrl-C on this thread asks the solver to stop
    (``InterruptSolve``, which SCIP and HiGHS honour) and the solve returns what it has."""
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["code"] = s.Solve(params)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = e
        finally:
            done.set()

    thread = threading.Thread(target=run, name="moccasin-milp", daemon=True)
    interrupted = False
    thread.start()
    while True:
        try:
            while not done.wait(0.1):
                if interrupted:
                    s.InterruptSolve()
            break
        except KeyboardInterrupt:
            interrupted = True
    if "error" in outcome:
        raise outcome["error"]
    return outcome["code"], interrupted


def _integral_bound(bound: float) -> int:
    """A MILP's floating-point bound on an integer objective: snap to the nearest integer when
    within the solver's tolerance, else round up."""
    nearest = round(bound)
    return int(nearest) if abs(bound - nearest) <= max(1e-6, 1e-9 * abs(bound)) else math.ceil(bound)


def _finish(problem, budget, solver, seq, optimal, infeasible, lower, first, hint, hint_seconds, stats, started, base) -> Schedule:
    """Common tail: fall back on the warm start when the solver returns nothing; set messages."""
    if seq is not None:
        try:
            sim = simulate_indices(problem, seq)
        except Exception:  # noqa: BLE001 - re-checked in make_schedule, which logs it
            sim = None
        if sim is None or sim.peak > budget:
            stats["discarded"] = "the solver's schedule is over the budget in the simulator (numerical tolerance)"
            seq, optimal = None, False
    if seq is None and hint is not None and not infeasible:
        seq, stats["from_hint"] = hint, True
        first = stats["best_solution_seconds"] = hint_seconds
        stats["message"] = "the solver found no schedule in the time limit; this is its warm start (greedy or baseline)"
    if infeasible:
        status = "INFEASIBLE"
        stats["message"] = "no stage-structured schedule fits the budget (proven by the MILP solver)"
        lower = None
    elif seq is None:
        status = "UNKNOWN"
        stats["message"] = "the time limit ran out before any schedule was found"
    else:
        status = "OPTIMAL" if optimal else "FEASIBLE"
    return make_schedule(problem, budget, solver, Found(seq, status, lower, first, stats), started, base=base)


class _CpSatWatcher(ReportingCallback):
    """First and best solution times of CP-SAT on the MILP rows, and progress reports."""

    def __init__(self, m: CheckmateModel, problem: Problem, started: float, progress, baseline_cost: int):
        super().__init__(progress)
        self.m, self.problem, self.started = m, problem, started
        self.baseline_cost = baseline_cost
        self.lock = threading.Lock()
        self.first: float | None = None
        self.best_at: float | None = None
        self.best: list[int] | None = None

    def on_solution_callback(self) -> None:
        now = time.perf_counter() - self.started
        vs = self.m.backend.vars
        seq = self.m.sequence(lambda i: self.value(vs[i]))
        with self.lock:
            self.first = now if self.first is None else self.first
            self.best_at, self.best = now, seq
        if self.progress:
            cost = self.problem.base_cost + int(round(self.objective_value)) * self.m.cost_scale
            bound = self.problem.base_cost + math.ceil(self.best_objective_bound - 1e-6) * self.m.cost_scale
            self._report(Progress(now, cost, bound, self.baseline_cost))


def solve_cpsat(problem: Problem, budget: int, options: SolveOptions, solver: str = "milp-cpsat") -> Schedule:
    """The Checkmate formulation solved by CP-SAT (hinted; first/best solution times reported)."""
    started = time.perf_counter()
    base = baseline(problem)
    stats: dict = {"method": solver, "backend": "CP_SAT"}
    size = estimate_size(problem, "CP_SAT")
    limit = int(options.extra.get("max_model_bytes", DEFAULT_MAX_MODEL_BYTES))
    stats["estimated_bytes"] = size.bytes
    if size.bytes > limit:
        return _refusal(problem, budget, solver, size, limit, started, stats)

    hint = _hint_sequence(problem, budget, options, base.peak)
    hint_seconds = time.perf_counter() - started if hint is not None else None
    backend = _CpSatBackend()
    m = build_model(problem, budget, backend)
    stats.update(variables=len(backend.vars), constraints=backend.rows, nonzeros=backend.nonzeros)
    stats["build_seconds"] = round(time.perf_counter() - started, 4)
    if m.infeasible:
        stats["message"] = "the budget is below what some step needs (a row of constants is violated)"
        return make_schedule(problem, budget, solver, Found(None, "INFEASIBLE", None, None, stats), started, base=base)
    hinted = False
    if hint is not None:
        values = hint_values(m, problem, hint)
        if values is not None:
            for i, v in values.items():
                backend.model.add_hint(backend.vars[i], int(v))
            hinted = True
    stats["hinted"] = hinted

    cp = cp_model.CpSolver()
    cp.parameters.max_time_in_seconds = max(0.05, options.time_limit - (time.perf_counter() - started))
    cp.parameters.num_workers = options.num_workers
    cp.parameters.random_seed = options.seed
    cp.parameters.log_search_progress = options.log_search
    watcher = _CpSatWatcher(m, problem, started, options.progress, base.cost)
    code, interrupted = _search(cp, backend.model, watcher)
    stats["cp_status"] = cp.status_name(code)
    if interrupted:
        stats["interrupted"] = True
    seq, lower = None, None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vs = backend.vars
        seq = prune_unread(problem, m.sequence(lambda i: cp.value(vs[i])))
        lower = problem.base_cost + math.ceil(cp.best_objective_bound - 1e-6) * m.cost_scale
    first = watcher.first
    if hint is not None and hint_seconds is not None:
        first = hint_seconds if first is None else min(first, hint_seconds)
    stats["best_solution_seconds"] = round(watcher.best_at, 4) if watcher.best_at is not None else None
    return _finish(problem, budget, solver, seq, code == cp_model.OPTIMAL and not interrupted,
                   code == cp_model.INFEASIBLE and not interrupted, lower, first, hint, hint_seconds, stats, started, base)


#: The MILP solver behind ``--solver milp``, chosen by measurement (bench/README.md): SCIP keeps
#: to the time limit (HiGHS overran a 60 s limit by up to 200 s in presolve on resnet50_train)
#: and takes the warm start; HiGHS needs 2-3x less memory and is ``--solver milp-highs``.
MILP_BACKEND = "SCIP"


def solve(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``--solver milp``: the Checkmate MILP with :data:`MILP_BACKEND`."""
    return solve_mip(problem, budget, options, MILP_BACKEND, "milp")


def solve_highs(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``--solver milp-highs``: the Checkmate MILP with HiGHS (cold start: no hints in pywraplp)."""
    return solve_mip(problem, budget, options, "HIGHS", "milp-highs")


def solve_scip(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``--solver milp-scip``: the Checkmate MILP with SCIP (warm-started from the hint); the
    same as ``milp``, under its solver's name."""
    return solve_mip(problem, budget, options, "SCIP", "milp-scip")
