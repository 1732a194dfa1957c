"""Attached nodes: items of a multi-output op, which exist from the op's step on.

A PyTorch op such as ``convolution_backward`` or ``max_pool2d_with_indices`` allocates all its
outputs at once; the traced graph gives each further output its own ``getitem`` node (so that
each output has its own lifetime) and marks it ``attached``. Its *anchor* is its latest input
in the baseline order: the op (the tracer also makes the largest item read the op's inputs, so
that they count at the moment all outputs exist, as in PyTorch). What PyTorch runs is the
schedule with every attached step moved right after the newest instance of its anchor (the
emitter extracts an op's items as soon as it runs). :func:`attach` makes that schedule, so
that the simulator sees the memory PyTorch uses; solvers return it in that form.
"""

from __future__ import annotations

from moccasin.graph.problem import Problem


def attach(problem: Problem, sequence: list[int]) -> list[int]:
    """``sequence`` with each attached step moved right after the newest earlier instance of its
    anchor; several instances reading the same anchor instance become one.

    Values do not change (an item of the same op instance is the same tensor), the cost does not
    grow, and a sequence that is already in this form is returned unchanged. A step whose anchor
    has no earlier instance is left where it is (the simulator will reject the sequence).

    >>> p = Problem.from_graph(_example())      # 0 -> 1 (attached), 0 -> 2, 1 -> 3
    >>> attach(p, [0, 2, 1, 3])
    [0, 1, 2, 3]
    >>> attach(p, [0, 1, 2, 0, 1, 1, 3])       # the second and third 1 read the same 0
    [0, 1, 2, 0, 1, 3]
    """
    attached = problem.attached
    if not attached or not any(attached):
        return list(sequence)
    preds = problem.preds
    newest: dict[int, int] = {}  # node -> position (in ``sequence``) of its newest instance so far
    after: dict[int, list[int]] = {}  # position of an input instance -> attached nodes to run after it
    stay = []  # (position, node) of the steps that keep their place
    for k, v in enumerate(sequence):
        if 0 <= v < len(attached) and attached[v] and preds[v] and preds[v][-1] in newest:
            items = after.setdefault(newest[preds[v][-1]], [])
            if v not in items:
                items.append(v)
        else:
            stay.append((k, v))
        newest[v] = k
    out = []
    for k, v in stay:
        out.append(v)
        out.extend(after.get(k, ()))
    return out


def _example():
    import networkx as nx

    G = nx.DiGraph([(0, 1), (0, 2), (1, 3)])
    nx.set_node_attributes(G, 1, "cost_cpu")
    nx.set_node_attributes(G, 1, "cost_ram")
    G.nodes[1]["attached"] = True
    return G
