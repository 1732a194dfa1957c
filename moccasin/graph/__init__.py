"""Compute graphs: loading, validating and saving node-link JSON; baseline order and bounds."""

from moccasin.graph.io import graph_from_data, load_graph, save_graph, graph_to_data
from moccasin.graph.problem import Problem, baseline_order

__all__ = [
    "Problem",
    "baseline_order",
    "graph_from_data",
    "graph_to_data",
    "load_graph",
    "save_graph",
]
