"""Small graphs for the solver tests: random DAGs (hypothesis) and a chain's training step."""

from __future__ import annotations

import networkx as nx
from hypothesis import strategies as st


@st.composite
def small_dags(draw, min_nodes: int = 2, max_nodes: int = 7, zero_costs: bool = True):
    """A random DAG on nodes 0..n-1 (edges go up), with small integer costs and sizes."""
    n = draw(st.integers(min_nodes, max_nodes))
    G = nx.DiGraph(name=f"random{n}")
    for i in range(n):
        G.add_node(i, cost_cpu=draw(st.integers(0 if zero_costs else 1, 5)), cost_ram=draw(st.integers(0, 6)))
    for v in range(1, n):
        k = draw(st.integers(1, min(v, 3)))
        for u in draw(st.lists(st.integers(0, v - 1), min_size=k, max_size=k, unique=True)):
            G.add_edge(u, v)
    return G


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
