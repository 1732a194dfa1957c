"""The simulator against hand-computed cases of DESIGN.md's memory model."""

import networkx as nx
import pytest

from moccasin import InvalidSchedule, simulate
from moccasin.graph.problem import Problem
from moccasin.schedule.simulator import simulate_graph, simulate_indices

from conftest import make_graph


def chain3():
    # a -> b -> c, sizes 1, 10, 100, costs 1, 2, 3
    return make_graph(3, [(0, 1), (1, 2)], cpu=[1, 2, 3], ram=[1, 10, 100])


def test_chain_frees_inputs_after_last_read():
    G = chain3()
    sim = simulate_graph(G, [0, 1, 2])
    # step 0: a; step 1: a read + b; step 2: b read + c (a no longer read)
    assert sim.memory == (1, 11, 110)
    assert (sim.peak, sim.cost) == (110, 6)


def test_output_nobody_reads_lives_one_step():
    # a and b both sources; c reads b only; a is a sink
    G = make_graph(3, [(1, 2)], cpu=[1, 1, 1], ram=[5, 7, 11])
    assert simulate_graph(G, [0, 1, 2]).memory == (5, 7, 18)


def test_several_consumers_keep_the_instance_until_the_last():
    # a feeds b, c, d; b, c, d are sinks
    G = make_graph(4, [(0, 1), (0, 2), (0, 3)], cpu=[1] * 4, ram=[8, 1, 2, 4])
    assert simulate_graph(G, [0, 1, 2, 3]).memory == (8, 9, 10, 12)


def test_recomputation_frees_the_old_instance():
    # a -> b, a -> d, b -> c; recomputing a before d frees the first a after b
    G = make_graph(4, [(0, 1), (0, 3), (1, 2)], cpu=[3, 1, 1, 1], ram=[10, 1, 1, 1])
    keep = simulate_graph(G, [0, 1, 2, 3])
    assert keep.memory == (10, 11, 12, 11)  # a held through c
    rec = simulate_graph(G, [0, 1, 2, 0, 3])
    assert rec.memory == (10, 11, 2, 10, 11)
    assert (rec.peak, rec.cost) == (11, 9)


def test_node_recomputed_twice():
    # a -> b, a -> c, a -> d; run a three times, each copy read by one consumer
    G = make_graph(4, [(0, 1), (0, 2), (0, 3)], cpu=[5, 1, 1, 1], ram=[4, 1, 1, 1])
    sim = simulate_graph(G, [0, 1, 0, 2, 0, 3])
    assert sim.memory == (4, 5, 4, 5, 4, 5)  # each copy freed after its one read
    assert sim.cost == 18
    assert sim.last_read == (1, 1, 3, 3, 5, 5)


def test_newest_instance_serves_later_reads():
    # a -> b, a -> c; the second a is computed before b, so the first a is never read
    G = make_graph(3, [(0, 1), (0, 2)], cpu=[1] * 3, ram=[6, 1, 1])
    sim = simulate_graph(G, [0, 0, 1, 2])
    assert sim.memory == (6, 6, 7, 7)
    assert sim.last_read[0] == 0


def test_sink_node_and_zero_sizes():
    G = make_graph(3, [(0, 2), (1, 2)], cpu=[0, 0, 0], ram=[0, 3, 0])
    assert simulate(G, [0, 1, 2]) == (3, 0)


@pytest.mark.parametrize(
    "seq, message",
    [
        ([1, 0, 2], "reads 0, which is not computed before it"),
        ([0, 1], "node 2 is never computed"),
        ([0, 1, 2, 7], "7 is not a node of the graph"),
        ([0, 1, True, 2], "is not a node of the graph"),
    ],
)
def test_invalid_schedules(seq, message):
    with pytest.raises(InvalidSchedule, match=message):
        simulate(chain3(), seq)


def test_no_recompute_mark_is_enforced():
    G = chain3()
    G.nodes[0]["no_recompute"] = True
    with pytest.raises(InvalidSchedule, match="no_recompute"):
        simulate(G, [0, 1, 0, 2])


def test_string_ids_and_min_budget():
    G = nx.DiGraph([("x", "y"), ("w", "y")])
    nx.set_node_attributes(G, {"x": 2, "y": 3, "w": 4}, "cost_ram")
    nx.set_node_attributes(G, 1, "cost_cpu")
    assert simulate(G, ["w", "x", "y"]) == (9, 3)
    assert Problem.from_graph(G).min_budget == 9


def test_items_pinned_for_the_heuristics_may_still_run_twice():
    # 0 -> op 1 -> item 2 (attached, 4 bytes) -> 3, and 1 -> 3; node 0 is no_recompute.
    # items_pinned pins the item for the heuristics' moves, but recomputing it with its op is a
    # valid schedule. By hand: step 2 holds 0, 1, 2 (7); at step 3 the first 1 and 2 are gone
    # (read last at step 2) and 0 is read a last time (1 + 2); then 1 + 4, then 2 + 4 + 1.
    G = make_graph(4, [(0, 1), (1, 2), (2, 3), (1, 3)], [1, 1, 1, 1], [1, 2, 4, 1])
    G.nodes[2]["attached"] = True
    G.nodes[0]["no_recompute"] = True
    p = Problem.from_graph(G).items_pinned
    assert p.pinned[2] and not p.no_recompute[2]

    sim = simulate_indices(p, [0, 1, 2, 1, 2, 3])
    assert sim.memory == (1, 3, 7, 3, 6, 7) and sim.cost == 6
    with pytest.raises(InvalidSchedule, match="no_recompute"):
        simulate_indices(p, [0, 0, 1, 2, 3])
