"""Segment schedules: frontiers against their definition, valid schedules within the budget
on random DAGs (with items of multi-output ops), and Chen's schedule on a chain."""

from __future__ import annotations

import doctest

import networkx as nx
from conftest import small_dags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_attach import dag_with_attached

import moccasin.solvers.segments as segments
from moccasin.graph.problem import Problem
from moccasin.schedule.attach import attach
from moccasin.schedule.simulator import baseline, simulate_indices
from moccasin.solvers.greedy import best_greedy
from moccasin.solvers.segments import forward_end, frontier_bytes, segment_schedule
from moccasin_graphs.generators import chain, training_graph


@settings(max_examples=60, deadline=None)
@given(small_dags(max_nodes=12))
def test_frontier_bytes_match_the_definition(G):
    p = Problem.from_graph(G)
    end = forward_end(p)
    size, count = frontier_bytes(p, end)
    for t in range(end):
        crossing = [v for v in range(t + 1) if any(t < w < end for w in p.succs[v])]
        assert size[t] == sum(p.ram[v] for v in crossing)
        assert count[t] == len(crossing)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_with_attached(), st.floats(0.0, 1.0))
def test_schedules_are_valid_attached_and_within_budget(G, t):
    p = Problem.from_graph(G).items_pinned  # as the heuristics get it
    top = baseline(p).peak
    budget = int(p.min_budget + t * (top - p.min_budget))
    for cap in (None, 2):
        seq = segment_schedule(p, budget, cap=cap)
        if seq is None:
            continue
        assert attach(p, seq) == seq
        assert simulate_indices(p, seq).peak <= budget
        if cap is not None:
            assert max(seq.count(v) for v in range(p.n)) <= cap
    seq = best_greedy(p, budget)
    if seq is not None:
        assert attach(p, seq) == seq and simulate_indices(p, seq).peak <= budget


def test_a_chain_gets_chens_schedule():
    # 16 layers of 1 MiB and their gradients: boundaries every few layers, each forward layer
    # recomputed at most once, the peak well under the baseline's.
    G = training_graph(chain(16))
    p = Problem.from_graph(G)
    base = baseline(p)
    seq = segment_schedule(p, int(0.5 * base.peak))
    assert seq is not None
    sim = simulate_indices(p, seq)
    assert sim.peak <= 0.5 * base.peak
    forward = [v for v in range(p.n) if not G.nodes[p.ids[v]].get("name", "").startswith("grad")]
    assert max(seq.count(v) for v in forward) == 2
    assert sim.cost < 2 * base.cost  # at most one extra forward pass


def test_no_recompute_nodes_stay_single_and_a_cap_of_one_gives_nothing():
    G = training_graph(chain(8))
    nx.set_node_attributes(G, {3: True}, "no_recompute")
    p = Problem.from_graph(G)
    seq = segment_schedule(p, int(0.7 * baseline(p).peak))
    assert seq is not None and seq.count(3) == 1
    assert segment_schedule(p, baseline(p).peak, cap=1) is None


def test_doctests():
    assert doctest.testmod(segments).failed == 0
