"""Moccasin: the cheapest recomputation schedule of a training step under a memory budget.

>>> import moccasin
>>> G = moccasin.load_graph("graphs/chain8_train.json")   # doctest: +SKIP
>>> s = moccasin.solve(G, budget=0.7, time_limit=10)     # doctest: +SKIP
>>> moccasin.simulate(G, s.sequence)                     # doctest: +SKIP
"""

from moccasin.api import solve
from moccasin.errors import InputError, InvalidSchedule, MoccasinError
from moccasin.graph import load_graph, save_graph
from moccasin.schedule import Schedule, simulate

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "InvalidSchedule",
    "MoccasinError",
    "Schedule",
    "load_graph",
    "save_graph",
    "simulate",
    "solve",
]


def __getattr__(name):
    # The torch side loads lazily: planning saved graphs never imports torch.
    if name in ("trace", "wrap", "measure_peak"):
        try:
            from moccasin import torch as _torch_side
        except ImportError as e:  # torch missing, or the torch side not built
            raise AttributeError(f"moccasin.{name} needs PyTorch: pip install torch==2.13.0 ({e})") from None
        return getattr(_torch_side, name)
    raise AttributeError(f"module 'moccasin' has no attribute {name!r}")
