"""Graph generators and the saved graphs Moccasin ships (installed as ``moccasin_graphs``)."""

from moccasin_graphs.generators import chain, random_layered, training_graph, unet

__all__ = ["chain", "random_layered", "training_graph", "unet"]
