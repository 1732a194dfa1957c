"""Shared fixtures and strategies: small random DAGs, paths to the shared paper graphs."""

from __future__ import annotations

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
