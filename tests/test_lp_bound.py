"""The covering-LP lower bound (never above the true optimum) and the redundant-recomputation pass."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline
from moccasin.solvers.bounds import knapsack_lower_bound
from moccasin.solvers.lp_bound import lp_lower_bound

from brute import brute_force
from conftest import make_graph, small_dags

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(small_dags(max_nodes=6), st.floats(0, 1))
def test_lp_bound_is_a_lower_bound(G, fraction):
    """At most the optimum of the family with any number of recomputations; None only where
    the family has no schedule."""
    problem = Problem.from_graph(G)
    lo, hi = problem.min_budget, baseline(problem).peak
    budget = lo + int(fraction * (hi - lo))
    optimum = brute_force(problem, budget, cap=problem.n)
    bound = lp_lower_bound(problem, budget)
    if bound is None:
        assert optimum is None
    elif optimum is not None:
        assert problem.base_cost <= bound <= optimum


def test_lp_bound_sums_over_gaps():
    """Node 0 (4 bytes, cost 3) is read by 3 and 6; at budget 9 it must be dropped at step 2
    (before its read by 3) and at steps 4-5 (before its read by 6): two recomputations, which
    the per-step cover (3 * 1/4, rounded up: 1) does not see."""
    G = make_graph(7, [(0, 3), (0, 6), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)],
                   cpu=[3, 1, 1, 1, 1, 1, 1], ram=[4, 5, 1, 1, 5, 1, 1])
    problem = Problem.from_graph(G)
    assert knapsack_lower_bound(problem, 9) == problem.base_cost + 1
    assert lp_lower_bound(problem, 9) == problem.base_cost + 6 == brute_force(problem, 9, cap=problem.n)
    assert lp_lower_bound(problem, 10) == problem.base_cost
    G.nodes[0]["no_recompute"] = True
    assert lp_lower_bound(Problem.from_graph(G), 9) is None



@FAST
@given(small_dags(max_nodes=5), st.floats(0, 1), st.integers(0, 10**6))
def test_drop_redundant_keeps_schedules_valid(G, fraction, seed):
    """On stage-structured schedules within the budget (some with needless recomputations),
    the pass returns a valid, stage-structured schedule within the budget, never costlier."""
    import random

    from moccasin.schedule.simulator import simulate_indices
    from moccasin.schedule.stages import stage_of
    from moccasin.solvers.drop import drop_redundant

    from brute import stage_family

    problem = Problem.from_graph(G)
    lo, hi = problem.min_budget, baseline(problem).peak
    budget = lo + int(fraction * (hi - lo))
    fits = [seq for seq in stage_family(problem.n, 2) if simulate_indices(problem, seq).peak <= budget]
    for seq in random.Random(seed).sample(fits, min(5, len(fits))):
        out = drop_redundant(problem, budget, seq)
        sim = simulate_indices(problem, out)
        assert sim.peak <= budget and sim.cost <= simulate_indices(problem, seq).cost
        assert stage_of(problem, out) is not None
