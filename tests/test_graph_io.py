"""Graph files: every bad input gets one InputError line naming the file; good ones load."""

import json

import pytest

from moccasin import InputError, load_graph, save_graph
from moccasin.graph.problem import Problem, baseline_order

from conftest import paper_graph

GOOD = {
    "graph": {"name": "tiny"},
    "nodes": [{"id": 0, "cost_cpu": 1, "cost_ram": 2}, {"id": 1, "cost_cpu": 3, "cost_ram": 4}],
    "links": [{"source": 0, "target": 1}],
}


def variant(**changes):
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        data[key] = value
    return data


BAD = {
    "cycle": (variant(links=[{"source": 0, "target": 1}, {"source": 1, "target": 0}]), "cycle: 0 -> 1 -> 0"),
    "self_loop": (variant(links=[{"source": 1, "target": 1}]), "cycle"),
    "missing_cost": (variant(nodes=[{"id": 0, "cost_cpu": 1}, {"id": 1, "cost_cpu": 3, "cost_ram": 4}]), "node 0 has no cost_ram"),
    "negative_cost": (variant(nodes=[{"id": 0, "cost_cpu": -1, "cost_ram": 2}, {"id": 1, "cost_cpu": 3, "cost_ram": 4}]), "negative cost_cpu"),
    "float_cost": (variant(nodes=[{"id": 0, "cost_cpu": 1.5, "cost_ram": 2}, {"id": 1, "cost_cpu": 3, "cost_ram": 4}]), "expected a non-negative integer"),
    "string_cost": (variant(nodes=[{"id": 0, "cost_cpu": "7", "cost_ram": 2}, {"id": 1, "cost_cpu": 3, "cost_ram": 4}]), "expected a non-negative integer"),
    "dangling_edge": (variant(links=[{"source": 0, "target": 9}]), "unknown node 9"),
    "order_unknown": (variant(graph={"order": [0, 1, 5]}), "'order' entry #2 5 is not a node"),
    "order_missing": (variant(graph={"order": [0]}), "'order' misses node 1"),
    "order_not_topological": (variant(graph={"order": [1, 0]}), "not topological"),
    "order_duplicate": (variant(graph={"order": [0, 0, 1]}), "twice"),
    "empty": (variant(nodes=[], links=[]), "no nodes"),
    "duplicate_id": (variant(nodes=[{"id": 0, "cost_cpu": 1, "cost_ram": 2}, {"id": 0, "cost_cpu": 1, "cost_ram": 2}]), "duplicate node id 0"),
    "not_object": ([1, 2, 3], "expected a JSON object"),
    "no_nodes_key": ({"links": []}, "no 'nodes' list"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_graph_data(tmp_path, case):
    data, message = BAD[case]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_graph(path)
    text = str(err.value)
    assert message in text
    assert str(path) in text and "\n" not in text


def test_not_json_truncated_and_missing(tmp_path):
    truncated = tmp_path / "t.json"
    truncated.write_text(json.dumps(GOOD)[:40])
    with pytest.raises(InputError, match="truncated JSON"):
        load_graph(truncated)
    garbage = tmp_path / "g.json"
    garbage.write_text("nodes: [1, 2]")
    with pytest.raises(InputError, match="not valid JSON"):
        load_graph(garbage)
    with pytest.raises(InputError, match="no such file"):
        load_graph(tmp_path / "missing.json")
    empty = tmp_path / "e.json"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        load_graph(empty)


def test_round_trip(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(variant(graph={"name": "tiny", "order": [0, 1]})))
    G = load_graph(path)
    save_graph(G, tmp_path / "copy.json")
    H = load_graph(tmp_path / "copy.json")
    assert dict(H.nodes(data=True)) == dict(G.nodes(data=True))
    assert list(H.edges) == list(G.edges)
    assert H.graph["order"] == [0, 1] and H.graph["name"] == "tiny"


def test_legacy_random_layered_variant():
    G = load_graph(paper_graph("random_layered_n100"))
    assert G.number_of_nodes() == 100 and G.number_of_edges() == 236
    assert all("cost_cpu" in a and "cost_ram" in a for _, a in G.nodes(data=True))
    order = baseline_order(G)
    assert order == G.graph["order"] and order[-1] == 1  # the sink is node 1 in this file
    p = Problem.from_graph(G)
    assert p.n == 100


def test_lexicographic_baseline_without_order():
    G = load_graph(paper_graph("resnet50_train"))
    assert baseline_order(G) == sorted(G.nodes)


def test_shipped_graphs_load_and_plan():
    """Every graph in graphs/ loads; the generated ones have a heuristic plan at 80%, the traced
    zoo graphs (BatchNorm and dropout pinned, gradients kept to the end) plan at 100%."""
    import moccasin
    from conftest import ROOT

    generated = sorted((ROOT / "graphs").glob("*.json"))
    traced = sorted((ROOT / "graphs" / "zoo").glob("*.json"))
    assert len(generated) >= 3 and len(traced) == 6
    for path, budget in [(p, 0.8) for p in generated] + [(p, 1.0) for p in traced]:
        G = load_graph(path)
        s = moccasin.solve(G, budget=budget, solver="heuristic", time_limit=5)
        assert s.found and s.peak_memory <= s.budget, path
