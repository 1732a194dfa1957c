"""Heuristic baselines: every schedule they claim is valid and within the budget."""

from __future__ import annotations

from conftest import chain_train, small_dags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers import SOLVERS, chen
from moccasin.solvers.base import SolveOptions

HEURISTICS = ("checkpoint-all", "chen-sqrtn", "chen-greedy", "heuristic")


def check(p: Problem, budget: int, name: str):
    s = SOLVERS[name](p, budget, SolveOptions(time_limit=2, workers=1))
    if s.found:
        sim = simulate_indices(p, p.from_ids(s.sequence))
        assert sim.peak == s.peak_memory <= budget, name
        assert sim.cost == s.total_cost, name
    else:
        assert s.status == "UNKNOWN" and s.message, name
    return s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_dags(max_nodes=14), st.floats(0.0, 1.0))
def test_heuristic_schedules_are_valid_and_within_budget(G, t):
    p = Problem.from_graph(G)
    top = baseline(p).peak
    budget = int(p.min_budget + t * (top - p.min_budget))
    for name in HEURISTICS:
        check(p, budget, name)


def test_checkpoint_all_is_the_baseline():
    p = Problem.from_graph(chain_train(6))
    base = baseline(p)
    s = check(p, base.peak, "checkpoint-all")
    assert s.found and s.total_cost == base.cost and s.peak_memory == base.peak
    assert not check(p, base.peak - 1, "checkpoint-all").found


def test_chen_saves_memory_on_a_chain():
    """Chen's schedules trade recomputation for memory on a chain's training step."""
    p = Problem.from_graph(chain_train(16))
    base = baseline(p)
    s = check(p, base.peak, "chen-sqrtn")
    assert s.found and s.peak_memory < base.peak and s.total_cost > base.cost
    # The greedy, given a budget the sqrt(n) schedule meets, finds one within it too.
    g = check(p, s.peak_memory, "chen-greedy")
    assert g.found and g.peak_memory <= s.peak_memory


def test_checkpoint_schedule_with_everything_kept_is_the_baseline():
    p = Problem.from_graph(chain_train(5))
    assert chen.checkpoint_schedule(p, set(range(p.n))) == list(range(p.n))
