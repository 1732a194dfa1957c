"""Graph files: networkx node-link JSON in, validated ``networkx.DiGraph`` out, and back.

Accepted: ``{"nodes": [{"id", "cost_cpu", "cost_ram", ...}], "links"|"edges": [{"source",
"target"}], "graph": {"name", "order"}}`` and the legacy variant of the paper's random layered
graphs (node id under ``name``, costs ``duration``/``out_cost``, links ``"0"``/``"1"``).
Every problem raises :class:`~moccasin.errors.InputError` with one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import networkx as nx

from moccasin.errors import InputError
from moccasin.fileio import atomic_write_json, read_json

#: Node keys that hold the two costs, in order of preference: the format's own, then legacy.
_COST_KEYS = {"cost_cpu": ("cost_cpu", "duration"), "cost_ram": ("cost_ram", "out_cost")}
_LEGACY_ONLY = {"duration", "out_cost"}


def load_graph(path: str | os.PathLike) -> nx.DiGraph:
    """Read and validate a graph file.

    >>> G = load_graph("graphs/chain8_train.json")  # doctest: +SKIP
    >>> G.nodes[0]["cost_ram"]  # doctest: +SKIP
    """
    data = read_json(path)
    return graph_from_data(data, source=str(path), default_name=Path(path).stem)


def _node_id(value: Any, where: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{where}: node id {value!r} must be an integer or a string")
    return value


def _cost(node: dict, key: str, nid: Any, source: str) -> int:
    for k in _COST_KEYS[key]:
        if k in node:
            value = node[k]
            break
    else:
        raise InputError(f"{source}: node {nid!r} has no {key}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{source}: node {nid!r} has {key} {value!r}, expected a non-negative integer")
    if value < 0:
        raise InputError(f"{source}: node {nid!r} has negative {key} {value}")
    return value


def graph_from_data(data: Any, source: str = "<graph>", default_name: str = "graph") -> nx.DiGraph:
    """Build and validate a DiGraph from parsed node-link data (see module docstring)."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object with 'nodes' and 'links', got {type(data).__name__}")
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise InputError(f"{source}: no 'nodes' list (expected networkx node-link JSON)")
    if not nodes:
        raise InputError(f"{source}: the graph has no nodes")
    links = data.get("links", data.get("edges", []))
    if not isinstance(links, list):
        raise InputError(f"{source}: 'links' must be a list")
    gattrs = data.get("graph") or {}
    if not isinstance(gattrs, dict):
        raise InputError(f"{source}: 'graph' must be an object")

    G = nx.DiGraph()
    for k, v in gattrs.items():
        if k not in ("pos",):
            G.graph[k] = v
    name = gattrs.get("name", default_name)
    G.graph["name"] = str(name) if name is not None else default_name

    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise InputError(f"{source}: node #{i} is not an object")
        if "id" in node:
            nid = _node_id(node["id"], f"{source}: node #{i}")
        elif "name" in node:  # legacy: the paper's random layered graphs keep the id under "name"
            nid = _node_id(node["name"], f"{source}: node #{i}")
        else:
            raise InputError(f"{source}: node #{i} has no 'id'")
        if nid in G:
            raise InputError(f"{source}: duplicate node id {nid!r}")
        attrs = {k: v for k, v in node.items() if k not in ("id",) and k not in _LEGACY_ONLY}
        attrs["cost_cpu"] = _cost(node, "cost_cpu", nid, source)
        attrs["cost_ram"] = _cost(node, "cost_ram", nid, source)
        if "no_recompute" in attrs and not isinstance(attrs["no_recompute"], bool):
            raise InputError(f"{source}: node {nid!r} has no_recompute {attrs['no_recompute']!r}, expected true or false")
        if "attached" in attrs and not isinstance(attrs["attached"], bool):
            raise InputError(f"{source}: node {nid!r} has attached {attrs['attached']!r}, expected true or false")
        G.add_node(nid, **attrs)

    for i, link in enumerate(links):
        if not isinstance(link, dict):
            raise InputError(f"{source}: link #{i} is not an object")
        if "source" in link or "target" in link:
            u, v = link.get("source"), link.get("target")
        else:
            u, v = link.get("0"), link.get("1")
        if u is None or v is None:
            raise InputError(f"{source}: link #{i} needs 'source' and 'target'")
        for end in (u, v):
            if isinstance(end, bool) or not isinstance(end, (int, str)) or end not in G:
                raise InputError(f"{source}: link #{i} {u!r} -> {v!r} refers to unknown node {end!r}")
        if u == v:
            raise InputError(f"{source}: cycle: node {u!r} reads its own output")
        G.add_edge(u, v)

    try:
        cycle = nx.find_cycle(G)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join(repr(u) for u, _ in cycle) + f" -> {cycle[0][0]!r}"
        raise InputError(f"{source}: cycle: {path}")
    for nid, attached in G.nodes(data="attached"):
        if attached and not G.in_degree(nid):
            raise InputError(f"{source}: node {nid!r} is attached but reads no node (it must read the op it belongs to)")

    order = gattrs.get("order", data.get("order"))
    if order is not None:
        G.graph["order"] = _check_order(G, order, source)
    return G


def _check_order(G: nx.DiGraph, order: Any, source: str) -> list:
    if not isinstance(order, list):
        raise InputError(f"{source}: 'order' must be a list of node ids")
    pos: dict = {}
    for i, nid in enumerate(order):
        if isinstance(nid, bool) or not isinstance(nid, (int, str)) or nid not in G:
            raise InputError(f"{source}: 'order' entry #{i} {nid!r} is not a node of the graph")
        if nid in pos:
            raise InputError(f"{source}: 'order' lists node {nid!r} twice")
        pos[nid] = i
    if len(pos) != G.number_of_nodes():
        missing = next(n for n in G if n not in pos)
        raise InputError(f"{source}: 'order' misses node {missing!r} (it must list every node once)")
    for u, v in G.edges:
        if pos[u] > pos[v]:
            raise InputError(f"{source}: 'order' is not topological: {v!r} comes before its input {u!r}")
    return list(order)


def graph_to_data(G: nx.DiGraph) -> dict:
    """Node-link data in the format of DESIGN.md (``links`` with ``source``/``target``)."""
    nodes = []
    for nid, attrs in G.nodes(data=True):
        rec = {"id": nid}
        rec.update(attrs)
        nodes.append(rec)
    gattrs = {k: v for k, v in G.graph.items()}
    return {
        "directed": True,
        "multigraph": False,
        "graph": gattrs,
        "nodes": nodes,
        "links": [{"source": u, "target": v} for u, v in G.edges],
    }


def save_graph(G: nx.DiGraph, path: str | os.PathLike) -> None:
    """Write ``G`` as node-link JSON, atomically."""
    atomic_write_json(path, graph_to_data(G))
