"""Graphs the project makes itself (installed as ``moccasin_graphs``)."""
