"""The Checkmate MILP: same optimum as the CP model and an exhaustive search; size refusal."""

from __future__ import annotations

import networkx as nx
import pytest
from brute import brute_force
from conftest import chain_train, small_dags
from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

import moccasin
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.schedule.stages import stage_of
from moccasin.solvers import cp, cpsat, milp
from moccasin.solvers.base import SolveOptions
from moccasin.solvers.greedy import best_greedy
from moccasin_cli.main import main

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def budgets(p: Problem) -> list[int]:
    """The smallest possible budget, one between, and the baseline peak."""
    top = baseline(p).peak
    return sorted({p.min_budget, (p.min_budget + top) // 2, top})


@FAST
@given(small_dags(min_nodes=2, max_nodes=7))
def test_cp_and_milp_reach_the_exhaustive_optimum(G):
    p = Problem.from_graph(G)
    opts = SolveOptions(time_limit=10, workers=1, max_recompute=p.n)
    for budget in budgets(p):
        best = brute_force(p, budget)
        for name, solve in (("cp", cp.solve), ("milp", milp.solve), ("milp-cpsat", milp.solve_cpsat)):
            s = solve(p, budget, opts)
            assert s.total_cost == best, (name, budget, s.status, s.message)
            if best is not None:
                assert s.status == "OPTIMAL", (name, budget)
                assert s.peak_memory <= budget
                assert s.lower_bound == best


@pytest.mark.parametrize("solve", [milp.solve_highs, milp.solve_scip])
def test_both_mip_backends_agree_on_a_small_graph(solve):
    G = chain_train(3)
    p = Problem.from_graph(G)
    budget = p.min_budget + 10
    best = brute_force(p, budget)
    s = solve(p, budget, SolveOptions(time_limit=10, workers=1))
    assert (s.status, s.total_cost, s.lower_bound) == ("OPTIMAL", best, best)


@FAST
@given(small_dags(max_nodes=6))
def test_hint_values_satisfy_the_model_and_match_the_simulator(G):
    """The tight assignment of a stage-structured schedule is feasible and U is its memory."""
    p = Problem.from_graph(G)
    budget = baseline(p).peak
    seq = best_greedy(p, p.min_budget + 3) or list(range(p.n))
    sim = simulate_indices(p, seq)
    budget = max(budget, sim.peak)
    b = milp._CpSatBackend()
    m = milp.build_model(p, budget, b)
    values = milp.hint_values(m, p, seq)
    assert values is not None
    for i, v in values.items():
        b.model.add(b.vars[i] == int(v))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False  # else CP-SAT leaves SIGINT at SIG_DFL for later tests
    assert solver.solve(b.model) == cp_model.OPTIMAL
    stages = stage_of(p, seq)
    U = [values[m.U[t, v]] * m.ram_scale for t, v in zip(stages, seq)]
    assert U == list(sim.memory)


def test_pinned_nodes_are_never_recomputed():
    G = chain_train(4)
    for n in G:
        G.nodes[n]["no_recompute"] = n in ("f1", "f2")
    p = Problem.from_graph(G)
    s = milp.solve(p, p.min_budget + 20, SolveOptions(time_limit=10, workers=1))
    if s.found:
        assert s.sequence.count("f1") == 1 and s.sequence.count("f2") == 1
        assert s.peak_memory <= s.budget


def test_size_estimate_counts_the_built_model():
    p = Problem.from_graph(chain_train(5))
    size = milp.estimate_size(p)
    b = milp._CpSatBackend()
    milp.build_model(p, baseline(p).peak, b)
    assert (size.variables, size.constraints) == (len(b.vars), b.rows)
    assert abs(size.nonzeros - b.nonzeros) <= 0.05 * b.nonzeros
    assert size.bytes > 0


@pytest.mark.parametrize("solve", [milp.solve, milp.solve_highs, milp.solve_cpsat])
def test_refuses_a_model_over_the_size_limit(solve):
    p = Problem.from_graph(chain_train(4))
    s = solve(p, baseline(p).peak, SolveOptions(time_limit=5, workers=1, extra={"max_model_bytes": 1000}))
    assert s.status == "UNKNOWN" and not s.found
    assert s.extra["refused"] == "model too large"
    assert "variables" in s.message and "max_model_bytes" in s.message
    assert s.extra["variables"] == milp.estimate_size(p).variables


def test_plan_milp_refusal_is_one_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "g.json"
    moccasin.save_graph(chain_train(4), path)
    code = main(["plan", str(path), "--budget", "0.9", "--solver", "milp", "-t", "5", "--max-model-bytes", "1000"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "would need about" in err[0]


def test_milp_has_quadratic_size():
    """The MILP has many more variables than the CP model (the point of the comparison)."""
    G = nx.gn_graph(40, seed=3).reverse()
    nx.set_node_attributes(G, 1, "cost_cpu")
    nx.set_node_attributes(G, 2, "cost_ram")
    p = Problem.from_graph(G)
    cp_vars = len(cpsat.build_model(p, baseline(p).peak, 2).model.proto.variables)
    assert milp.estimate_size(p).variables >= 5 * cp_vars
