"""Compute-graph generators: chains, U-Nets and random layered DAGs, with a training half.

Every generator returns a ``networkx.DiGraph`` in DESIGN.md's format (integer node ids in a
topological order, ``cost_cpu``, ``cost_ram``, ``name``, ``backward``, graph ``name``).
:func:`training_graph` appends a Checkmate-style backward pass to a forward graph.
"""

from __future__ import annotations

import random

import networkx as nx


def _node(G: nx.DiGraph, nid: int, name: str, cpu: int, ram: int, backward: bool = False) -> None:
    G.add_node(nid, name=name, cost_cpu=int(cpu), cost_ram=int(ram), backward=backward)


def chain(n: int, ram: int = 1 << 20, cpu: int = 100, name: str | None = None) -> nx.DiGraph:
    """A forward chain of ``n`` layers, each output ``ram`` bytes and ``cpu`` cost.

    >>> G = chain(4)
    >>> list(G.edges)
    [(0, 1), (1, 2), (2, 3)]
    """
    G = nx.DiGraph(name=name or f"chain{n}")
    for i in range(n):
        _node(G, i, f"layer{i}", cpu, ram)
        if i:
            G.add_edge(i - 1, i)
    return G


def unet(depth: int = 4, base_ram: int = 1 << 22, base_cpu: int = 1000, name: str | None = None) -> nx.DiGraph:
    """A U-Net-like forward graph: an encoder that halves the activation size (and doubles the
    cost per byte) ``depth`` times, a decoder back up, and a skip edge across each level."""
    G = nx.DiGraph(name=name or f"unet{depth}")
    nid = 0
    skips = []
    prev = None
    for level in range(depth):  # encoder: two convs per level
        size = base_ram >> level
        for k in range(2):
            _node(G, nid, f"enc{level}_conv{k}", base_cpu * (1 + level), size)
            if prev is not None:
                G.add_edge(prev, nid)
            prev = nid
            nid += 1
        skips.append(prev)
    _node(G, nid, "bottleneck", base_cpu * (depth + 1), base_ram >> depth)
    G.add_edge(prev, nid)
    prev, nid = nid, nid + 1
    for level in reversed(range(depth)):  # decoder: upsample, concat with skip, conv
        size = base_ram >> level
        _node(G, nid, f"dec{level}_up", base_cpu // 2, size)
        G.add_edge(prev, nid)
        up, nid = nid, nid + 1
        _node(G, nid, f"dec{level}_concat", 1, 2 * size)
        G.add_edge(up, nid)
        G.add_edge(skips[level], nid)
        cat, nid = nid, nid + 1
        _node(G, nid, f"dec{level}_conv", base_cpu * (1 + level), size)
        G.add_edge(cat, nid)
        prev, nid = nid, nid + 1
    return G


def random_layered(
    n: int,
    seed: int = 0,
    width: float = 0.27,
    edge_density: float = 0.2,
    skip_density: float = 0.14,
    max_cost: int = 1000,
    name: str | None = None,
) -> nx.DiGraph:
    """A random layered DAG in the spirit of Appendix A of Gagrani et al. (2022), the family of
    the Moccasin paper's random graphs: one source, one sink, layers of random width (about
    ``width * sqrt(n)`` nodes), edges to the next layer with probability ``edge_density`` and
    skip edges to later layers with probability ``skip_density / distance``; every node gets at
    least one input and one output. Source and sink cost nothing to compute.
    """
    rng = random.Random(seed)
    G = nx.DiGraph(name=name or f"random_layered_n{n}_s{seed}")
    mean_width = max(2, round(width * n ** 0.5))
    layers: list[list[int]] = [[0]]
    nid = 1
    while nid < n - 1:
        w = max(1, min(n - 1 - nid, round(rng.gauss(mean_width, mean_width * 0.5))))
        layers.append(list(range(nid, nid + w)))
        nid += w
    layers.append([n - 1])
    for layer in layers:
        for v in layer:
            endpoint = v in (0, n - 1)
            _node(G, v, f"n{v}", 0 if endpoint else rng.randint(1, max_cost), rng.randint(1, max_cost))
    for li, layer in enumerate(layers[:-1]):
        for v in layer:
            for lj in range(li + 1, len(layers)):
                p = edge_density if lj == li + 1 else skip_density / (lj - li)
                for w in layers[lj]:
                    if rng.random() < p:
                        G.add_edge(v, w)
            if not G.out_degree(v):
                G.add_edge(v, rng.choice(layers[li + 1]))
    for li, layer in enumerate(layers[1:], start=1):
        for v in layer:
            if not G.in_degree(v):
                G.add_edge(rng.choice(layers[li - 1]), v)
    return G


def training_graph(forward: nx.DiGraph, backward_factor: float = 2.0, name: str | None = None) -> nx.DiGraph:
    """Append a Checkmate-style backward pass to ``forward`` (integer ids in topological order).

    A ``loss`` node reads every forward output. The gradient node of forward node ``v`` reads the
    gradients of ``v``'s consumers (or the loss), ``v``'s output and ``v``'s inputs; it costs
    ``backward_factor`` times ``v`` and is as large as ``v``'s output. Node ids stay a
    topological order, kept as the graph's ``order``.
    """
    order = list(nx.lexicographical_topological_sort(forward))
    G = nx.DiGraph(name=name or f"{forward.graph.get('name', 'graph')}_train")
    ids = {v: i for i, v in enumerate(order)}
    for v in order:
        a = forward.nodes[v]
        _node(G, ids[v], a.get("name", str(v)), a["cost_cpu"], a["cost_ram"])
    for u, v in forward.edges:
        G.add_edge(ids[u], ids[v])
    loss = len(order)
    _node(G, loss, "loss", 1, 4)
    for v in order:
        if not forward.out_degree(v):
            G.add_edge(ids[v], loss)
    grad = {}
    nid = loss + 1
    for v in reversed(order):
        a = forward.nodes[v]
        _node(G, nid, f"grad_{a.get('name', v)}", round(backward_factor * a["cost_cpu"]), a["cost_ram"], backward=True)
        consumers = [grad[w] for w in forward.successors(v)] or [loss]
        for src in consumers + [ids[v]] + [ids[u] for u in forward.predecessors(v)]:
            G.add_edge(src, nid)
        grad[v] = nid
        nid += 1
    G.graph["order"] = list(range(nid))
    return G
