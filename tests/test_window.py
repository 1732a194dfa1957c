"""The window search: a window over every stage finds the exhaustive optimum; any window keeps
the schedule outside it, hints the incumbent exactly, and never returns one over the budget."""

from __future__ import annotations

import time

from brute import brute_force
from conftest import small_dags, training_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model
from test_attach import dag_with_attached

from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.schedule.stages import split_stages
from moccasin.solvers.greedy import best_greedy
from moccasin.solvers.window import Tandem, WindowModel, WindowSearch

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _budget(p: Problem, t: float) -> int:
    return int(p.min_budget + t * (baseline(p).peak - p.min_budget))


def _start(p: Problem, budget: int) -> list[int] | None:
    seq = best_greedy(p.items_pinned, budget)
    return None if seq is None else attach(p, seq)


def _instance(G, t: float):
    """The problem of ``G``, a budget at ``t`` between its bounds and the heuristics' schedule
    under it (None where they find none)."""
    p = Problem.from_graph(G)
    budget = _budget(p, t)
    return p, budget, _start(p, budget)


def _solve(m: WindowModel, **params) -> tuple[int, cp_model.CpSolver]:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    for k, v in params.items():
        setattr(solver.parameters, k, v)
    return solver.solve(m.model), solver


@FAST
@given(small_dags(min_nodes=2, max_nodes=5), st.floats(0, 1))
def test_a_window_over_every_stage_finds_the_exhaustive_optimum(G, t):
    p, budget, seq = _instance(G, t)
    if seq is None:
        return
    m = WindowModel(p, budget, seq, 0, p.n, extra=p.n)
    code, solver = _solve(m)
    assert code == cp_model.OPTIMAL
    found = m.sequence(solver.value)
    sim = simulate_indices(p, found)
    assert sim.peak <= budget
    assert sim.cost == brute_force(p, budget)


@FAST
@given(dag_with_attached(), st.floats(0, 1), st.data())
def test_any_window_keeps_the_rest_and_hints_the_incumbent(G, t, data):
    p, budget, seq = _instance(G, t)
    if seq is None:
        return
    a = data.draw(st.integers(0, p.n - 1))
    b = data.draw(st.integers(a + 1, p.n))
    m = WindowModel(p, budget, seq, a, b, cap=data.draw(st.sampled_from([None, 2, 3])))
    # The hint is the incumbent itself: fixed to it, the model is feasible.
    code, _ = _solve(m, fix_variables_to_their_hinted_value=True)
    assert code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    code, solver = _solve(m)
    assert code == cp_model.OPTIMAL
    found = attach(p, m.sequence(solver.value))
    sim = simulate_indices(p, found)
    assert sim.peak <= budget
    assert sim.cost <= simulate_indices(p, seq).cost
    before, after = split_stages(p, seq), split_stages(p, found)
    assert after is not None
    assert before[:a] == after[:a] and before[b:] == after[b:]


@FAST
@given(dag_with_attached(), st.floats(0, 1))
def test_window_search_never_returns_a_schedule_over_the_budget(G, t):
    p, budget, seq = _instance(G, t)
    if seq is None:
        return
    cost = simulate_indices(p, seq).cost
    ws = WindowSearch(p, budget, seq, cap=2, seed=1, width=2)
    for _ in range(4):
        ws.step(2.0)
    sim = simulate_indices(p, ws.best)
    assert sim.peak <= budget and sim.cost == ws.best_cost <= cost
    assert max(ws.best.count(v) for v in range(p.n)) <= max(2, max(seq.count(v) for v in range(p.n)))


def test_tandem_improves_a_training_graph_within_the_budget():
    p = Problem.from_graph(training_graph(24))
    budget = int(0.45 * baseline(p).peak)
    seq = _start(p, budget)
    start = simulate_indices(p, seq).cost
    search = Tandem(p, budget, seq, cap=None, seed=0, ruin_seconds=0.2, window_seconds=0.5)
    deadline = time.perf_counter() + 4
    while time.perf_counter() < deadline and not search.optimal:
        search.step(deadline)
    sim = simulate_indices(p, search.best)
    assert sim.peak <= budget and sim.cost == search.best_cost <= start
    stats = search.stats()
    assert stats["window_steps"] >= 1 and stats["lns_steps"] >= 1


def test_tandem_takes_only_cheaper_schedules_within_the_budget():
    p = Problem.from_graph(training_graph(24))
    budget = int(0.45 * baseline(p).peak)
    seq = _start(p, budget)
    # A costlier schedule within the budget: one more recomputation, read by the next step.
    worse = None
    for k in range(1, len(seq)):
        for u in p.preds[seq[k]]:
            trial = attach(p, seq[:k] + [u] + seq[k:])
            sim = simulate_indices(p, trial)
            if sim.peak <= budget and sim.cost > simulate_indices(p, seq).cost and split_stages(p, trial):
                worse = trial
                break
        if worse:
            break
    assert worse is not None
    search = Tandem(p, budget, worse, cap=None)
    assert not search.offer(list(range(p.n)))  # the baseline: over the budget
    assert not search.offer(worse)  # not cheaper
    assert search.offer(seq)
    assert search.best_cost == simulate_indices(p, seq).cost
    assert search.ruin.best_cost == search.windows.best_cost == search.best_cost
