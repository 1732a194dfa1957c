"""The budget ladder: whatever it returns is stage-structured, valid and within the budget (the
one simulator checks), its rungs go down to the budget, and it reaches budgets the plain sweep
gives up on."""

from __future__ import annotations

import doctest

from conftest import pinned_problem, small_dags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moccasin_graphs.generators import random_layered

import moccasin.solvers.ladder as ladder_module
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.schedule.stages import stage_of
from moccasin.solvers.ladder import MOVES_PER_NODE, ladder_shave
from moccasin.solvers.sweep_shaving import sweep_shave


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_dags(max_nodes=14), st.floats(0.0, 1.0), st.integers(0, 2**16), st.booleans(), st.sampled_from([None, 1, 2]))
def test_schedules_are_valid_and_within_budget(G, t, seed, direct, cap):
    p, budget, _ = pinned_problem(G, t, seed)
    log: list = []
    seq = ladder_shave(p, budget, cap=cap, direct=direct, log=log)
    if seq is None:
        return
    assert stage_of(p, seq) is not None, "not stage-structured"
    sim = simulate_indices(p, seq)  # raises on a read before a computation, a pinned node twice
    assert sim.peak <= budget
    if cap is not None:
        assert max(seq.count(v) for v in set(seq)) <= cap
    if baseline(p).peak > budget:
        reached = [rung for rung, ok in log if ok]
        assert reached[-1] == budget and reached == sorted(reached, reverse=True)
        if direct:
            assert log[0][0] == budget


def test_reaches_a_budget_the_plain_sweep_gives_up_on():
    """A random layered graph at 0.7 of its peak: the sweep from the baseline gets stuck (a
    step over the budget with no move left), while rungs get there."""
    p = Problem.from_graph(random_layered(400, seed=2))
    budget = int(0.7 * baseline(p).peak)
    assert sweep_shave(p, budget) is None
    assert sweep_shave(p, budget, max_moves=MOVES_PER_NODE * p.n) is None
    log: list = []
    seq = ladder_shave(p, budget, log=log)
    assert seq is not None and simulate_indices(p, seq).peak <= budget
    assert len(log) > 2


def test_gives_up_at_the_deadline():
    p = Problem.from_graph(random_layered(150, seed=1))
    assert ladder_shave(p, int(0.8 * baseline(p).peak), deadline=0.0) is None


def test_a_rung_failing_at_the_smallest_step_is_retried_randomised(monkeypatch):
    """Control flow with a scripted sweep: every rung below 95 fails unless randomised with
    twice the moves (the first retry); the ladder then goes on down to the budget. A sweep that
    never succeeds there is retried RETRIES times, then the ladder gives up."""
    p = Problem.from_graph(random_layered(60, seed=3))
    peak = baseline(p).peak
    budget = int(0.9 * peak)
    calls: list = []

    def scripted(problem, rung, cap=None, stages=None, deadline=None, max_moves=None, rng=None):
        calls.append((rung, max_moves, rng is not None))
        if rung < 0.95 * peak and (rng is None or not works):
            return None
        return sweep_shave(problem, rung, cap=cap, stages=stages)

    monkeypatch.setattr(ladder_module, "sweep_shave", scripted)
    works = True
    seq = ladder_shave(p, budget)
    assert seq is not None and simulate_indices(p, seq).peak <= budget
    retried = [c for c in calls if c[2]]
    assert retried and all(moves == 2 * MOVES_PER_NODE * p.n for _, moves, _ in retried)
    assert calls[-1][0] == budget

    calls.clear()
    works = False
    assert ladder_shave(p, budget) is None
    assert sum(r for _, _, r in calls) == ladder_module.RETRIES
    assert calls[-1][1] == MOVES_PER_NODE * p.n << ladder_module.RETRIES


def test_doctests():
    assert doctest.testmod(ladder_module).failed == 0
