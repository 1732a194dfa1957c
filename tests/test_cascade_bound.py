"""The cascade LP lower bound: never above the optimum of the family (brute force), above the
covering LP where recomputations need inputs that are gone."""

from __future__ import annotations

import doctest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline
from moccasin.solvers import cascade_bound
from moccasin.solvers.cascade_bound import cascade_lower_bound
from moccasin.solvers.lp_bound import lp_lower_bound

from brute import brute_force
from conftest import make_graph, small_dags, training_graph

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(small_dags(max_nodes=6), st.floats(0, 1), st.sampled_from([cascade_bound.MAX_NONZEROS, 1]), st.data())
def test_cascade_bound_is_a_lower_bound(G, fraction, max_nonzeros, data):
    """At most the optimum with any number of recomputations (also on a subset of the rows,
    ``max_nonzeros`` 1), with nodes that may not be recomputed; None where nothing fits."""
    for v in G.nodes:
        G.nodes[v]["no_recompute"] = data.draw(st.booleans()) and data.draw(st.booleans())
    problem = Problem.from_graph(G)
    lo, hi = problem.min_budget, baseline(problem).peak
    budget = lo + int(fraction * (hi - lo))
    optimum = brute_force(problem, budget, cap=problem.n)
    bound = cascade_lower_bound(problem, budget, max_nonzeros=max_nonzeros)
    if optimum is None:
        return
    assert bound is not None and problem.base_cost <= bound <= optimum


def test_cascade_bound_sees_a_two_level_cascade():
    """A chain 0 -> 1 -> 2 and a late reader 6 of 2: at budget 5 outputs 3-5 (the whole budget each) leave no
    room to hold 2, 1 or 0 across them, so 2 is recomputed before 6, and 1 and 0 before it
    (costs 4 + 3 + 2); the covering LP counts 2 alone."""
    G = make_graph(7, [(0, 1), (1, 2), (2, 6)], cpu=[2, 3, 4, 1, 1, 1, 1], ram=[1, 1, 1, 5, 5, 5, 1])
    problem = Problem.from_graph(G)
    optimum = brute_force(problem, 5, cap=problem.n)
    assert optimum == problem.base_cost + 9
    assert cascade_lower_bound(problem, 5) == optimum
    assert lp_lower_bound(problem, 5) == problem.base_cost + 4


def test_cascade_bound_on_a_training_graph():
    """On the toy training graph at several budgets: between the covering LP's bound (where all
    rows are kept) and the brute-force-free check that it never exceeds a schedule we hold."""
    from moccasin.solvers.sweep_shaving import sweep_shave
    from moccasin.schedule.simulator import simulate_indices

    problem = Problem.from_graph(training_graph(10))
    peak = baseline(problem).peak
    for fraction in (0.9, 0.8, 0.7, 0.6):
        budget = int(fraction * peak)
        seq = sweep_shave(problem, budget)
        bound = cascade_lower_bound(problem, budget)
        cover = lp_lower_bound(problem, budget)
        assert seq is not None and bound is not None
        assert cover <= bound <= simulate_indices(problem, seq).cost


def test_doctests():
    assert doctest.testmod(cascade_bound).failed == 0
