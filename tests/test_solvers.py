"""Solvers against exhaustive search and the simulator, on random DAGs and budgets."""

from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import moccasin
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers import cp
from moccasin.solvers.base import SolveOptions
from moccasin.solvers.greedy import greedy_sequence
from moccasin.solvers.shaving import shave

from brute import brute_force, stage_family
from conftest import make_graph, small_dags

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def budgets_between(problem: Problem, fraction: float) -> int:
    """A budget between the cheap lower bound and the baseline peak."""
    lo, hi = problem.min_budget, baseline(problem).peak
    return lo + int(fraction * (hi - lo))


def test_stage_family_size():
    # stage s chooses any subset of {0..s-1}: 2^(0+1+2) sequences for n = 3 without a cap
    assert len(list(stage_family(3, cap=3))) == 8
    assert [0, 0, 1, 0, 1, 2] in list(stage_family(3, cap=3))


@FAST
@given(small_dags(max_nodes=6), st.floats(0, 1), st.integers(1, 3))
def test_cp_optimum_equals_exhaustive_search(G, fraction, cap):
    """On graphs of up to 6 nodes the CP optimum equals brute force over the same family:
    stage-structured schedules with at most ``cap`` computations per node."""
    problem = Problem.from_graph(G)
    budget = budgets_between(problem, fraction)
    expected = brute_force(problem, budget, cap)
    s = cp.solve(problem, budget, SolveOptions(time_limit=20, workers=1, max_recompute=cap))
    if expected is None:
        assert s.status == "INFEASIBLE"
    else:
        assert s.status == "OPTIMAL"
        assert s.total_cost == expected
        assert s.peak_memory <= budget


@FAST
@given(small_dags(max_nodes=12), st.floats(0, 1.2), st.sampled_from(["cp", "heuristic"]))
def test_every_schedule_is_valid_and_within_budget(G, fraction, solver):
    problem = Problem.from_graph(G)
    budget = max(1, int(fraction * baseline(problem).peak))
    s = moccasin.solve(G, budget=budget, solver=solver, time_limit=5, workers=1)
    assert s.budget == budget
    if s.found:
        peak, cost = moccasin.simulate(G, s.sequence)
        assert (peak, cost) == (s.peak_memory, s.total_cost)
        assert peak <= budget
        assert s.lower_bound is not None and s.lower_bound <= cost
        assert s.tdi_percent >= 0
    if budget < problem.min_budget:
        assert s.status == "INFEASIBLE" and s.extra["min_budget"] == problem.min_budget


@FAST
@given(small_dags(max_nodes=14), st.floats(0, 1), st.sampled_from([None, 1, 2, 3]))
def test_heuristics_respect_budget_and_cap(G, fraction, cap):
    problem = Problem.from_graph(G)
    budget = budgets_between(problem, fraction)
    for seq in (shave(problem, budget, cap=cap), greedy_sequence(problem, budget, cap=cap)):
        if seq is None:
            continue
        sim = simulate_indices(problem, seq)
        assert sim.peak <= budget
        if cap is not None:
            assert max(seq.count(v) for v in set(seq)) <= cap


def test_recompute_twice_when_needed():
    # A cheap big source (10) read by three small consumers; before the last two runs a private
    # chain of 6-byte layers. Holding the source across a chain needs 22 > 20, so the optimum
    # recomputes the source before each of those two consumers: three computations in all.
    G = nx.DiGraph()
    G.add_node(0, cost_cpu=1, cost_ram=10)
    G.add_node(1, cost_cpu=5, cost_ram=1)
    G.add_edge(0, 1)
    nid = 2
    for branch in range(2):
        for k in range(3):
            G.add_node(nid, cost_cpu=5, cost_ram=6)
            if k:
                G.add_edge(nid - 1, nid)
            nid += 1
        G.add_node(nid, cost_cpu=5, cost_ram=1)
        G.add_edges_from([(nid - 1, nid), (0, nid)])
        nid += 1
    problem = Problem.from_graph(G)
    assert baseline(problem).peak == 22 and problem.min_budget == 17
    s = cp.solve(problem, 20, SolveOptions(time_limit=20, workers=1, max_recompute=3))
    assert s.status == "OPTIMAL"
    assert s.sequence.count(0) == 3
    assert s.total_cost == baseline(problem).cost + 2
    capped = cp.solve(problem, 20, SolveOptions(time_limit=20, workers=1, max_recompute=2))
    assert capped.status == "INFEASIBLE"
    # Without an explicit cap, the model grows copies where the starting heuristic needs them.
    auto = moccasin.solve(G, budget=20, time_limit=20, workers=1)
    assert auto.found and auto.sequence.count(0) == 3 and auto.total_cost == s.total_cost


def test_no_recompute_marks_are_honoured():
    # Source 0 (10 bytes) is read by 1 and, after a chain 2 -> 3 of 5-byte layers, by 4.
    # Budget 16 fits only if 0 is dropped during the chain and recomputed before 4.
    G = make_graph(5, [(0, 1), (0, 4), (2, 3), (3, 4)], cpu=[1] * 5, ram=[10, 1, 5, 5, 1])
    problem = Problem.from_graph(G)
    assert baseline(problem).peak == 20 and problem.min_budget == 16
    free = cp.solve(problem, 16, SolveOptions(time_limit=10, workers=1))
    assert free.status == "OPTIMAL" and free.sequence.count(0) == 2
    G.nodes[0]["no_recompute"] = True
    for solver in ("cp", "heuristic"):
        s = moccasin.solve(G, budget=16, solver=solver, time_limit=10, workers=1)
        assert not s.found
    s = moccasin.solve(G, budget=20, time_limit=10, workers=1)
    assert s.found and s.sequence.count(0) == 1


def test_paper_graph_quick_plan():
    from conftest import paper_graph

    G = moccasin.load_graph(paper_graph("fcn8_vgg_train"))
    s = moccasin.solve(G, budget=0.8, time_limit=10, workers=2)
    assert s.status == "OPTIMAL" and abs(s.tdi_percent - 0.136) < 0.001


@FAST
@given(small_dags(max_nodes=6), st.floats(0, 1))
def test_knapsack_bound_is_a_lower_bound(G, fraction):
    """The cover bound never exceeds the true optimum of the family (any number of
    recomputations), and says None only where the family has no schedule."""
    from moccasin.solvers.bounds import knapsack_lower_bound

    problem = Problem.from_graph(G)
    budget = budgets_between(problem, fraction)
    optimum = brute_force(problem, budget, cap=problem.n)
    bound = knapsack_lower_bound(problem, budget)
    if bound is None:
        assert optimum is None
    elif optimum is not None:
        assert problem.base_cost <= bound <= optimum


def test_knapsack_bound_by_hand():
    from moccasin.solvers.bounds import knapsack_lower_bound

    # Source 0 (10 bytes, cost 3) is held across the chain 2 -> 3 until 4 reads it: at budget
    # 16, 4 bytes too many at step 3, so at least 4/10 of recomputing 0 (1.2, rounded up: 2).
    G = make_graph(5, [(0, 1), (0, 4), (2, 3), (3, 4)], cpu=[3, 1, 1, 1, 1], ram=[10, 1, 5, 5, 1])
    problem = Problem.from_graph(G)
    assert knapsack_lower_bound(problem, 20) == problem.base_cost
    assert knapsack_lower_bound(problem, 16) == problem.base_cost + 2
    G.nodes[0]["no_recompute"] = True
    assert knapsack_lower_bound(Problem.from_graph(G), 16) is None
