"""Shared fixtures and strategies: small random DAGs, a small synthetic training graph, paths to
the shared paper graphs."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT.parent / "shared" / "graphs" / "paper"


def paper_graph(name: str) -> Path:
    """A graph of ../shared/graphs/paper (skips the test where the folder is absent)."""
    path = PAPER / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def make_graph(n: int, edges, cpu, ram, name: str = "g") -> nx.DiGraph:
    G = nx.DiGraph(name=name)
    for v in range(n):
        G.add_node(v, cost_cpu=cpu[v], cost_ram=ram[v])
    G.add_edges_from(edges)
    return G


@st.composite
def small_dags(draw, min_nodes: int = 1, max_nodes: int = 6, max_cost: int = 6):
    """Random DAGs on nodes 0..n-1 (edges go up in id), random costs and sizes."""
    n = draw(st.integers(min_nodes, max_nodes))
    pairs = [(u, v) for v in range(n) for u in range(v)]
    chosen = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    edges = [e for e, c in zip(pairs, chosen) if c]
    cpu = draw(st.lists(st.integers(0, max_cost), min_size=n, max_size=n))
    ram = draw(st.lists(st.integers(0, max_cost), min_size=n, max_size=n))
    return make_graph(n, edges, cpu, ram)


def pinned_problem(G: nx.DiGraph, t: float, seed: int):
    """``G`` with about 15% of its nodes marked ``no_recompute`` (drawn from ``seed``) as a
    Problem, a budget at ``t`` of the way from its smallest possible one to its baseline peak,
    and the random source (to draw more from)."""
    import random

    from moccasin.graph.problem import Problem
    from moccasin.schedule.simulator import baseline

    rng = random.Random(seed)
    for v in G:
        G.nodes[v]["no_recompute"] = rng.random() < 0.15
    p = Problem.from_graph(G)
    top = baseline(p).peak
    return p, int(p.min_budget + t * (top - p.min_budget)), rng


def training_graph(layers: int = 12, name: str = "toy_train") -> nx.DiGraph:
    """A forward chain with skip connections and its mirrored backward pass, sizes in bytes.

    Backward node ``b_i`` reads forward ``f_i`` and ``b_{i+1}``, so below the baseline peak
    some forward outputs must be recomputed: the classic checkpointing trade-off.
    """
    G = nx.DiGraph(name=name)
    for i in range(layers):
        G.add_node(i, cost_cpu=10 + (i * 7) % 13, cost_ram=(1 + (i * 5) % 4) * 2**20)
        if i:
            G.add_edge(i - 1, i)
        if i >= 3 and i % 3 == 0:
            G.add_edge(i - 3, i)
    for i in reversed(range(layers)):
        b = 2 * layers - 1 - i  # backward ids follow the forward ones
        G.add_node(b, cost_cpu=20 + (i * 3) % 11, cost_ram=(1 + (i * 3) % 4) * 2**20)
        G.add_edge(i, b)
        if i < layers - 1:
            G.add_edge(b - 1, b)
        else:
            G.add_edge(layers - 1, b)
    return G


def save_graph(G: nx.DiGraph, path) -> str:
    """Write ``G`` as node-link JSON to ``path``; returns the path as a string."""
    path.write_text(json.dumps(nx.node_link_data(G, edges="links")))
    return str(path)


@pytest.fixture
def toy_graph():
    return training_graph()


@pytest.fixture
def toy_graph_file(tmp_path):
    return save_graph(training_graph(), tmp_path / "toy_train.json")


def chain_train(layers: int, ram: int = 10) -> nx.DiGraph:
    """Forward chain f0..f{L-1}, loss, backward chain b{L-1}..b0; b_i reads f_i (and f_{i-1})."""
    G = nx.DiGraph(name=f"chain{layers}_train")
    f = [f"f{i}" for i in range(layers)]
    b = [f"b{i}" for i in range(layers)]
    for x in f + ["loss"] + b:
        G.add_node(x, cost_cpu=1, cost_ram=ram)
    for i in range(1, layers):
        G.add_edge(f[i - 1], f[i])
    G.add_edge(f[-1], "loss")
    G.add_edge("loss", b[-1])
    for i in reversed(range(layers - 1)):
        G.add_edge(b[i + 1], b[i])
    for i in range(layers):
        G.add_edge(f[i], b[i])
        if i:
            G.add_edge(f[i - 1], b[i])
    G.graph["order"] = f + ["loss"] + list(reversed(b))
    return G
