"""``--solver cp``: the Moccasin CP-SAT model (:mod:`moccasin.solvers.cpsat`) started from the
heuristics' schedule, with ruin-and-recreate beside it on large graphs, in turns with the window
search (:mod:`moccasin.solvers.window`) where the CP model is built.

OR-Tools is imported only once the starting schedule exists, so that a first schedule comes
before the second or so that importing CP-SAT takes.
"""

from __future__ import annotations

import math
import time

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.schedule import Schedule
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers.base import Found, Progress, SolveOptions, make_schedule
from moccasin.solvers.bounds import knapsack_lower_bound
from moccasin.solvers.cascade_bound import cascade_lower_bound
from moccasin.solvers.greedy import best_greedy
from moccasin.solvers.lns import RuinRecreate
from moccasin.solvers.lp_bound import lp_lower_bound, over_budget

#: From this many nodes on, ruin-and-recreate runs beside CP-SAT (which then gets one worker
#: less); below, CP-SAT alone proves optima faster (bench/README.md).
LNS_MIN_NODES = 200
#: Share of the time limit the starting heuristics may use (each attempt, at least 1 s).
HEURISTIC_SHARE = 0.1
#: Computations per node when the caller sets no cap.
DEFAULT_RECOMPUTE = 2
#: Above this many nodes the CP model is not built (its time grid has n(n+1)/2 events; on
#: generated graphs of 2000-3000 nodes it took gigabytes and found nothing in 60 s): the
#: heuristics and ruin-and-recreate alone (bench/README.md).
CP_MAX_NODES = 1200
#: Share of the time limit the heuristics may use while they have found nothing yet: on
#: graphs with a CP model (which may find the first schedule itself), and above.
FIRST_SHARE = 0.3
FIRST_SHARE_WITHOUT_CP = 0.9
#: Beside CP-SAT, ruin-and-recreate runs this long, then the window search solves one window
#: for at most WINDOW_SECONDS, in turn (bench/README.md).
RUIN_SECONDS = 1.0
WINDOW_SECONDS = 1.0
#: Share of the time limit the lower-bound LPs may take (each, at least half a second).
BOUND_SHARE = 0.25
#: Sizes of the cascade LP (nonzeros) tried in turn, until one keeps every row: small ones
#: first, since the solve time grows fast with the size and under load a large one may not
#: finish in its share (bench/README.md).
CASCADE_SIZES = (50_000, 150_000, 300_000)


def _cascade_bound(problem: Problem, budget: int, options: SolveOptions, stats: dict, deadline: float) -> int | None:
    """The best of the cascade LP's bounds (:mod:`moccasin.solvers.cascade_bound`) within its
    share of the time limit, recorded in ``stats``; None when no LP finishes in time."""
    began = time.perf_counter()
    until = min(began + max(0.5, BOUND_SHARE * options.time_limit), deadline)
    best, rows = None, over_budget(problem, budget)  # the same rows for every size
    for size in CASCADE_SIZES:
        seconds = until - time.perf_counter()
        if seconds < 0.2:
            break
        info: dict = {}
        value = cascade_lower_bound(problem, budget, time_limit=seconds, max_nonzeros=size, info=info, rows=rows)
        if value is not None and (best is None or value > best):
            best = value
        if not info or info["rows_kept"] == info["rows"]:
            break  # every row was in (or none needed): a larger LP would be the same
    stats["cascade_bound"] = best
    stats["cascade_bound_seconds"] = round(time.perf_counter() - began, 3)
    return best


def _start(problem: Problem, budget: int, options: SolveOptions, C: int, found_one, stats: dict, started: float):
    """The heuristics' schedule to start from (or None), and the copies per node the model needs
    for it (None: ``C`` each). Without a cap set, the uncapped heuristics run first (they rarely
    get stuck), then the capped ones; where the uncapped schedule is cheaper, the model gets the
    copies it needs."""
    seconds = max(1.0, HEURISTIC_SHARE * options.time_limit)

    def run(cap: int | None, searching: bool) -> tuple[list[int] | None, int | None]:
        """best_greedy and the cost of its schedule (its last report: each is cheaper);
        ``searching``: nothing found yet, so it may take the longer first share."""
        last: list = [None]

        def found(seq: list[int], cost: int) -> None:
            last[0] = cost
            found_one(seq, cost)

        share = FIRST_SHARE_WITHOUT_CP if problem.n > CP_MAX_NODES else FIRST_SHARE
        left = options.time_limit * share - (time.perf_counter() - started)
        # On large graphs shaving with 8 moves per round finds a first schedule sooner (1 move
        # per round is faster and cheaper below; bench/README.md).
        moves = (8, 1) if problem.n > CP_MAX_NODES else (1, 8)
        return best_greedy(problem.items_pinned, budget, cap=cap, seconds=seconds, on_found=found, first_seconds=left if searching else None, shaving_moves=moves), last[0]

    free, free_cost = run(None, True) if options.max_recompute is None else (None, None)
    hint, hint_cost = run(C, free is None) if free is None or problem.n <= CP_MAX_NODES else (None, None)
    if free is None or (hint is not None and free_cost >= hint_cost):
        return hint, None
    at_least = [0] * problem.n
    for v in free:
        at_least[v] += 1
    if max(at_least) <= C:
        return free, None
    stats["max_recompute"] = f"{C}, up to {max(at_least)} where the starting schedule needs it"
    return free, at_least


def solve(problem: Problem, budget: int, options: SolveOptions) -> Schedule:
    """``--solver cp``: the Moccasin model, started from a greedy schedule when one exists."""
    started = time.perf_counter()
    base = baseline(problem)
    # C computations per node; without an explicit cap, 2, and more for the nodes where the
    # starting schedule needs more (so that the search can start from it).
    C = max(1, options.max_recompute or DEFAULT_RECOMPUTE)
    stats: dict = {"method": "cp", "max_recompute": C}

    # A schedule to start from: the caller's, the baseline if it fits, else the heuristics.
    hint, hint_seconds, at_least = options.hint, None, None
    if hint is None and base.peak <= budget:
        hint = list(range(problem.n))
    first_found: list[float] = []  # when the heuristics found their first schedule
    cheapest: list = [None, None]  # the cheapest heuristic schedule so far and its cost

    def found_one(seq: list[int], cost: int) -> None:
        if cheapest[1] is None or cost < cheapest[1]:
            cheapest[:] = [seq, cost]
        if not first_found:
            first_found.append(time.perf_counter() - started)
            if options.progress:
                options.progress(Progress(first_found[0], cost, None, base.cost))

    def interrupted_early(seq: list[int] | None, seconds: float | None) -> Schedule:
        """Ctrl-C before the search: the starting schedule so far is the answer, else re-raise."""
        if seq is None:
            raise KeyboardInterrupt
        stats.update(interrupted=True, message="interrupted before the search: the starting schedule, not optimised")
        return make_schedule(problem, budget, "cp", Found(seq, "FEASIBLE", None, seconds, stats), started, base=base)

    if hint is None:
        try:
            hint, at_least = _start(problem, budget, options, C, found_one, stats, started)
        except KeyboardInterrupt:  # during the heuristics: their cheapest so far, if any
            return interrupted_early(cheapest[0], first_found[0] if first_found else None)
    if hint is not None:
        hint = attach(problem, hint)
        hint_sim = simulate_indices(problem, hint)
        if hint_sim.peak > budget:
            hint = None
        else:
            hint_seconds = first_found[0] if first_found else time.perf_counter() - started

    if hint is not None and hint_sim.cost == problem.base_cost:
        # No recomputation at all: nothing is cheaper, no search needed.
        stats["message"] = "the starting schedule recomputes nothing: optimal without a search"
        return make_schedule(problem, budget, "cp", Found(hint, "OPTIMAL", problem.base_cost, hint_seconds, stats), started, base=base)

    try:
        if hint is not None and options.progress:
            options.progress(Progress(hint_seconds, hint_sim.cost, knapsack_lower_bound(problem, budget) or problem.base_cost, base.cost))
        deadline = started + options.time_limit
        lp_bound = lp_lower_bound(problem, budget, time_limit=max(0.5, 0.1 * options.time_limit))
        stats["lp_bound"] = lp_bound
        if lp_bound is not None and (hint is None or problem.n < LNS_MIN_NODES):
            # Without the local searches' turns to run it in: now, before the search.
            lp_bound = max(lp_bound, _cascade_bound(problem, budget, options, stats, deadline) or 0)
        if lp_bound is not None and hint is not None:
            lp_bound = min(lp_bound, hint_sim.cost)
        if problem.n > CP_MAX_NODES:
            return _local_search_only(problem, budget, options, hint, hint_sim.cost if hint else None, hint_seconds, lp_bound, stats, started, base)
        from ortools.sat.python import cp_model

        from moccasin.solvers.cpsat import Watcher, add_hint, build_model, run_search

        m = build_model(problem, budget, C, at_least)
        hinted = hint is not None and add_hint(m, problem, hint)
    except KeyboardInterrupt:
        return interrupted_early(hint, hint_seconds)
    stats["hinted"] = hinted
    proto = m.model.proto
    stats["variables"] = len(proto.variables)
    stats["constraints"] = len(proto.constraints)
    stats["build_seconds"] = round(time.perf_counter() - started, 4)

    remaining = max(0.05, options.time_limit - (time.perf_counter() - started))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = remaining
    solver.parameters.num_workers = options.num_workers
    solver.parameters.random_seed = options.seed
    solver.parameters.log_search_progress = options.log_search
    # CP-SAT's presolve spends tens of seconds on this model from a few hundred nodes on and
    # helps little below (bench/README.md); the search without it finds and proves optima faster.
    solver.parameters.cp_model_presolve = False
    for k, v in options.extra.get("cp_parameters", {}).items():
        setattr(solver.parameters, k, v)
    watcher = Watcher(m, problem, started, options.progress, base.cost)
    if options.progress:
        try:
            solver.best_bound_callback = watcher.on_bound
        except AttributeError:  # older OR-Tools
            pass
    # On large graphs ruin-and-recreate and the window search take turns on this thread beside
    # CP-SAT (one core each).
    search, lns_best_seconds = None, [0.0]
    if hinted and problem.n >= LNS_MIN_NODES:  # a hint at the base cost returned above
        from moccasin.solvers.window import Tandem

        cap = C if at_least is None else max(at_least)
        search = Tandem(problem, budget, hint, cap, options.seed, RUIN_SECONDS, WINDOW_SECONDS)
        solver.parameters.num_workers = max(1, options.num_workers - 1)

        offered = [None]  # the CP-SAT cost last handed to the local searches
        # The cascade LP runs in the first turn of this thread, while CP-SAT searches.
        bound_due = lp_bound is not None

        def idle() -> bool:
            nonlocal lp_bound, bound_due
            if search.optimal or time.perf_counter() >= deadline:
                return False
            if bound_due:
                bound_due = False
                lp_bound = max(lp_bound, _cascade_bound(problem, budget, options, stats, deadline) or 0)
            with watcher.lock:
                cp_best, cp_cost = watcher.best, watcher.best_cost
            if cp_cost is not None and cp_cost != offered[0] and cp_cost < search.best_cost:
                offered[0] = cp_cost
                search.offer(cp_best)
            # (CP-SAT's own cost may be rounded, cost_scale; the searches' is simulated.)
            if lp_bound is not None and search.best_cost <= lp_bound:
                stats["stopped"] = "a schedule at the proven lower bound"
                solver.stop_search()
                return False
            if search.step(deadline):
                lns_best_seconds[0] = time.perf_counter() - started
                if options.progress:
                    with watcher.lock:
                        bound = watcher.bound
                    options.progress(Progress(lns_best_seconds[0], search.best_cost, bound, base.cost))
            return True
    else:
        idle = None
    code, interrupted = run_search(solver, m.model, watcher, idle)
    if search is not None:
        stats.update(search.stats())
    status = solver.status_name(code)
    stats["cp_status"] = status
    if interrupted:
        stats["interrupted"] = True

    # The cheapest of CP-SAT's schedule, the local search's and the starting one (earliest on ties).
    lower = watcher.bound
    found: list[tuple[int, float, list[int]]] = []  # (cost, seconds when found, sequence)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        cp_seq = m.sequence(solver.value)
        found.append((simulate_indices(problem, cp_seq).cost, watcher.best_seconds or 0.0, cp_seq))
        lower = int(math.ceil(solver.best_objective_bound - 1e-6)) * m.cost_scale + problem.base_cost
    if lp_bound is not None and (lower is None or lp_bound > lower):
        lower = lp_bound
    elif watcher.best is not None:
        found.append((simulate_indices(problem, watcher.best).cost, watcher.best_seconds or 0.0, watcher.best))
    if search is not None and search.improvements:
        found.append((search.best_cost, lns_best_seconds[0], search.best))
    if hint is not None:
        found.append((hint_sim.cost, hint_seconds, hint))
    seq, first, best_seconds = None, None, None
    if found:
        cost, best_seconds, seq = min(found, key=lambda f: (f[0], f[1]))
        first = min(f[1] for f in found)
    if seq is None:
        result = "INFEASIBLE" if code == cp_model.INFEASIBLE else "UNKNOWN"
    else:
        result = "OPTIMAL" if code == cp_model.OPTIMAL and not interrupted else "FEASIBLE"
    if result == "INFEASIBLE":
        stats["message"] = (
            f"no schedule in the stage-structured family with at most {stats['max_recompute']} computations per node fits "
            f"the budget (proven by CP-SAT); a larger --max-recompute may find one"
        )
        lower = None
    elif seq is None:
        if interrupted:
            raise KeyboardInterrupt  # nothing to keep: the caller's Ctrl-C goes on
        stats["message"] = "the time limit ran out before any schedule was found"
    elif interrupted:
        stats["message"] = "interrupted: the best schedule found before Ctrl-C (the search did not finish)"
    stats["best_solution_seconds"] = round(best_seconds, 4) if best_seconds is not None else None
    return make_schedule(problem, budget, "cp", Found(seq, result, lower, first, stats), started, base=base)


def _local_search_only(problem, budget, options, hint, hint_cost, hint_seconds, lower, stats, started, base) -> Schedule:
    """Graphs above :data:`CP_MAX_NODES`: ruin and recreate from ``hint`` until the time limit."""
    if hint is None:
        stats["message"] = f"the heuristics found no schedule in time (no CP model above {CP_MAX_NODES} nodes)"
        return make_schedule(problem, budget, "cp", Found(None, "UNKNOWN", lower, None, stats), started, base=base)
    stats["message"] = f"no CP model above {CP_MAX_NODES} nodes: the heuristics and ruin-and-recreate only"
    # Ruin-and-recreate alone: taking turns with the window search was no better on these
    # graphs (bench/README.md, item 22).
    search = RuinRecreate(problem.items_pinned, budget, hint, options.max_recompute, seed=options.seed)
    deadline, best_seconds = started + options.time_limit, hint_seconds
    if lower is not None:
        lower = min(hint_cost, max(lower, _cascade_bound(problem, budget, options, stats, deadline) or 0))
    try:
        while not search.optimal and search.best_cost > (lower or 0) and time.perf_counter() < deadline:
            if search.step():
                best_seconds = time.perf_counter() - started
                if options.progress:
                    options.progress(Progress(best_seconds, search.best_cost, lower, base.cost))
    except KeyboardInterrupt:
        stats.update(interrupted=True, message="interrupted: the best schedule found before Ctrl-C (the search did not finish)")
    stats["lns_steps"], stats["lns_improvements"] = search.steps, search.improvements
    stats["best_solution_seconds"] = round(best_seconds, 4)
    seq = search.best if search.best_cost < hint_cost else hint
    return make_schedule(problem, budget, "cp", Found(seq, "FEASIBLE", lower, hint_seconds, stats), started, base=base)
