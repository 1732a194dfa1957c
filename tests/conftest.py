"""Shared fixtures: small synthetic training graphs (no dependence on ../shared)."""

from __future__ import annotations

import json

import networkx as nx
import pytest


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
    data = nx.node_link_data(G, edges="links")
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def toy_graph():
    return training_graph()


@pytest.fixture
def toy_graph_file(tmp_path):
    return save_graph(training_graph(), tmp_path / "toy_train.json")
