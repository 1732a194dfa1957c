"""The indexed form every solver works on: nodes numbered by the baseline (stage) order.

Index ``i`` is the ``i``-th node of :func:`baseline_order`, so every edge goes from a smaller
index to a larger one, and stage ``i`` of the CP and MILP models computes node ``i`` first.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property

import networkx as nx


def baseline_order(G: nx.DiGraph) -> list:
    """The graph's ``order`` attribute if present, else the lexicographic topological sort.

    >>> G = nx.DiGraph([(2, 1), (0, 1)])
    >>> baseline_order(G)
    [0, 2, 1]
    """
    order = G.graph.get("order")
    if order is not None:
        return list(order)
    try:
        return list(nx.lexicographical_topological_sort(G))
    except TypeError:  # ids of mixed types: order them by (type name, value)
        return list(nx.lexicographical_topological_sort(G, key=lambda n: (type(n).__name__, n)))


def _items_after_their_op(G: nx.DiGraph, order: list) -> list:
    """``order`` with every attached node moved right after its latest input (its op), where
    PyTorch makes it; unchanged for traced graphs, whose items already follow their op."""
    if not any(attached for _, attached in G.nodes(data="attached")):
        return order
    pos = {nid: i for i, nid in enumerate(order)}
    after: dict = {}
    rest = []
    for nid in order:
        preds = list(G.predecessors(nid))
        if G.nodes[nid].get("attached") and preds:
            after.setdefault(max(preds, key=pos.get), []).append(nid)
        else:
            rest.append(nid)
    out = []

    def place(nid):
        out.append(nid)
        for item in after.get(nid, ()):
            place(item)

    for nid in rest:
        place(nid)
    return out


@dataclass(frozen=True)
class Problem:
    """A compute graph as arrays over the baseline order (see module docstring)."""

    name: str
    ids: tuple
    cost: tuple[int, ...]
    ram: tuple[int, ...]
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]
    pinned: tuple[bool, ...]  # True: never recompute (random ops, reads of mutated buffers)
    #: True: runs right after the newest instance of its latest input in the baseline order (an
    #: item of a multi-output op, which exists from the op's step on; its other inputs are the
    #: op's, kept alive through the op's step); see :mod:`moccasin.schedule.attach`.
    attached: tuple[bool, ...] = ()
    #: The nodes that may never run twice (``no_recompute``); empty: ``pinned``.
    #: :meth:`items_pinned` pins more nodes than these, for the heuristics' moves only.
    no_recompute: tuple[bool, ...] = ()

    @classmethod
    def from_graph(cls, G: nx.DiGraph) -> "Problem":
        ids = tuple(_items_after_their_op(G, baseline_order(G)))
        index = {nid: i for i, nid in enumerate(ids)}
        preds = tuple(tuple(sorted(index[u] for u in G.predecessors(nid))) for nid in ids)
        succs = tuple(tuple(sorted(index[w] for w in G.successors(nid))) for nid in ids)
        return cls(
            name=str(G.graph.get("name", "graph")),
            ids=ids,
            cost=tuple(int(G.nodes[n]["cost_cpu"]) for n in ids),
            ram=tuple(int(G.nodes[n]["cost_ram"]) for n in ids),
            preds=preds,
            succs=succs,
            pinned=tuple(bool(G.nodes[n].get("no_recompute", False)) for n in ids),
            attached=tuple(bool(G.nodes[n].get("attached", False)) and bool(p) for n, p in zip(ids, preds)),
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def index(self) -> dict:
        return {nid: i for i, nid in enumerate(self.ids)}

    @cached_property
    def num_edges(self) -> int:
        return sum(len(p) for p in self.preds)

    @cached_property
    def base_cost(self) -> int:
        """Cost of computing every node once: a lower bound on any schedule's cost."""
        return sum(self.cost)

    @cached_property
    def min_budget(self) -> int:
        """A cheap lower bound on the smallest feasible budget.

        Computing ``v`` needs its own output and all its inputs in memory at once, so no schedule
        peaks below ``max_v (ram[v] + sum of ram[u] for inputs u)``.
        """
        return max(self.ram[v] + sum(self.ram[u] for u in self.preds[v]) for v in range(self.n))

    @cached_property
    def items_pinned(self) -> "Problem":
        """This problem with attached nodes of nonzero size pinned too: for the heuristics,
        which recompute a node alone, never an op together with its items (the CP model can).
        A zero-size item (a view of the op's first output) may be recomputed alone: placed
        after its op's newest instance (:func:`~moccasin.schedule.attach.attach`), it changes
        no memory."""
        if not any(self.attached):
            return self
        pinned = tuple(p or (a and r > 0) for p, a, r in zip(self.pinned, self.attached, self.ram))
        return dataclasses.replace(self, pinned=pinned, no_recompute=self.no_recompute or self.pinned)

    def to_ids(self, sequence) -> list:
        return [self.ids[i] for i in sequence]

    def from_ids(self, sequence) -> list[int]:
        return [self.index[nid] for nid in sequence]


def ceil_fraction(fraction: float, total: int) -> int:
    """``ceil(fraction * total)`` computed without float error for common fractions."""
    value = fraction * total
    nearest = round(value)
    return nearest if math.isclose(value, nearest, rel_tol=1e-12, abs_tol=1e-9) else math.ceil(value)
