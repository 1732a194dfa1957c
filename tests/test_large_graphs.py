"""The path for graphs above ``cp.CP_MAX_NODES`` (no CP model: heuristics and ruin-and-recreate),
exercised on small graphs by lowering the threshold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers import cp
from moccasin.solvers.base import SolveOptions

from conftest import small_dags


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(small_dags(max_nodes=7), st.floats(0, 1))
def test_without_cp_model_valid_and_within_budget(monkeypatch, G, fraction):
    monkeypatch.setattr(cp, "CP_MAX_NODES", 0)
    problem = Problem.from_graph(G)
    lo, hi = problem.min_budget, baseline(problem).peak
    budget = lo + int(fraction * (hi - lo))
    s = cp.solve(problem, budget, SolveOptions(time_limit=0.3, workers=1))
    if s.sequence:
        sim = simulate_indices(problem, [problem.index[v] for v in s.sequence])
        assert sim.peak <= budget and sim.cost == s.total_cost
        assert s.lower_bound is None or s.lower_bound <= s.total_cost
        assert "variables" not in s.extra  # no CP model was built


def test_without_cp_model_nothing_found(monkeypatch):
    """No heuristic schedule: UNKNOWN with a message, no crash, no CP model."""
    from conftest import make_graph

    monkeypatch.setattr(cp, "CP_MAX_NODES", 0)
    monkeypatch.setattr(cp, "best_greedy", lambda *a, **k: None)
    G = make_graph(3, [(0, 1), (1, 2), (0, 2)], cpu=[1, 1, 1], ram=[4, 1, 1])
    problem = Problem.from_graph(G)
    s = cp.solve(problem, baseline(problem).peak - 1, SolveOptions(time_limit=0.3, workers=1))
    assert s.status == "UNKNOWN" and not s.sequence and "no schedule" in s.message
