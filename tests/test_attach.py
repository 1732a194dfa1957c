"""Attached nodes (items of a multi-output op): schedules put them right after their op."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

import moccasin
from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import simulate_indices
from conftest import small_dags


@st.composite
def dag_with_attached(draw):
    """A small DAG where some nodes (whose anchor, the latest input, is not attached) are attached."""
    G = draw(small_dags(min_nodes=2, max_nodes=7))
    for v in sorted(G):
        preds = sorted(G.predecessors(v))
        if preds and not G.nodes[preds[-1]].get("attached") and draw(st.booleans()):
            G.nodes[v]["attached"] = True
    return G


@st.composite
def valid_sequences(draw, problem: Problem):
    """A valid schedule: the baseline order with random recomputations inserted before reads."""
    seq = list(range(problem.n))
    for _ in range(draw(st.integers(0, 6))):
        k = draw(st.integers(0, len(seq) - 1))
        v = seq[k]
        if problem.pinned[v] or not problem.preds[v]:
            continue
        # recompute one input of step k just before it (its own inputs are computed earlier)
        u = draw(st.sampled_from(problem.preds[v]))
        if not problem.pinned[u]:
            seq.insert(k, u)
    return seq


def _adjacent(problem: Problem, seq: list[int]) -> bool:
    return all(
        k > 0 and (seq[k - 1] == problem.preds[v][-1] or (problem.attached[seq[k - 1]] and _op_run(problem, seq, k)))
        for k, v in enumerate(seq)
        if problem.attached[v]
    )


def _op_run(problem: Problem, seq: list[int], k: int) -> bool:
    """Steps before k back to the input of seq[k] are all attached items of that input."""
    op = problem.preds[seq[k]][-1]
    j = k - 1
    while j >= 0 and seq[j] != op:
        if not problem.attached[seq[j]] or problem.preds[seq[j]][-1] != op:
            return False
        j -= 1
    return j >= 0


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_attach_keeps_schedules_valid_cheaper_and_adjacent(data):
    G = data.draw(dag_with_attached())
    problem = Problem.from_graph(G)
    seq = data.draw(valid_sequences(problem))
    before = simulate_indices(problem, seq)
    out = attach(problem, seq)
    after = simulate_indices(problem, out)  # raises if invalid
    assert after.cost <= before.cost
    assert sorted(set(out)) == sorted(set(seq))
    assert _adjacent(problem, out)
    assert attach(problem, out) == out  # idempotent


def test_attach_moves_a_deferred_item_to_its_op():
    # 0 (8 bytes) is read by op 1 and by 3; op 1's second output 2 (8 bytes) is attached.
    G = nx.DiGraph([(0, 1), (0, 3), (1, 2), (2, 4), (3, 4)])
    nx.set_node_attributes(G, 1, "cost_cpu")
    nx.set_node_attributes(G, {0: 8, 1: 1, 2: 8, 3: 1, 4: 1}, "cost_ram")
    G.nodes[2]["attached"] = True
    problem = Problem.from_graph(G)
    late = [0, 1, 3, 2, 4]
    assert attach(problem, late) == [0, 1, 2, 3, 4]
    # Read as written, the item would appear after 0 is freed (peak 10); PyTorch has it while
    # 0 is still alive, which the attached form shows (8 + 1 + 8).
    assert simulate_indices(problem, late).peak == 10
    assert simulate_indices(problem, attach(problem, late)).peak == 17


@settings(max_examples=25, deadline=None)
@given(G=dag_with_attached(), fraction=st.floats(0.5, 1.0))
def test_solvers_return_attached_items_next_to_their_op(G, fraction):
    problem = Problem.from_graph(G)
    for solver in ("cp", "heuristic"):
        s = moccasin.solve(G, budget=fraction, solver=solver, time_limit=5, workers=1)
        if s.found:
            seq = problem.from_ids(s.sequence)
            assert attach(problem, seq) == seq
            assert s.peak_memory == simulate_indices(problem, seq).peak <= s.budget


def test_validate_flags_an_item_placed_away_from_its_op(tmp_path, capsys):
    import json

    from moccasin_cli.main import main

    G = nx.DiGraph([(0, 1), (0, 3), (1, 2), (2, 4), (3, 4)])
    nx.set_node_attributes(G, 1, "cost_cpu")
    nx.set_node_attributes(G, {0: 8, 1: 1, 2: 8, 3: 1, 4: 1}, "cost_ram")
    G.nodes[2]["attached"] = True
    gpath = tmp_path / "g.json"
    moccasin.save_graph(G, gpath)
    for seq, ok in (([0, 1, 2, 3, 4], 0), ([0, 1, 3, 2, 4], 3)):
        spath = tmp_path / "s.json"
        moccasin.Schedule(
            graph="g", solver="hand", status="FEASIBLE", budget=100, budget_fraction=None, sequence=seq,
            peak_memory=None, total_cost=None, baseline_peak=17, baseline_cost=5, tdi_percent=None,
            lower_bound=None, solve_seconds=0.0, first_solution_seconds=None,
        ).save(spath)
        code = main(["validate", str(gpath), str(spath), "--json"])
        out = json.loads(capsys.readouterr().out)
        assert out["valid"] is (ok == 0)
        assert code == ok or (ok and code != 0)


@settings(max_examples=15, deadline=None)
@given(G=dag_with_attached(), fraction=st.floats(0.5, 1.0))
def test_milp_schedules_keep_items_next_to_their_op(G, fraction):
    problem = Problem.from_graph(G)
    s = moccasin.solve(G, budget=fraction, solver="milp-cpsat", time_limit=5, workers=1)
    assert "internal error" not in (s.message or "")
    if s.found:
        seq = problem.from_ids(s.sequence)
        assert attach(problem, seq) == seq and s.peak_memory <= s.budget
