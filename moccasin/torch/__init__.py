"""The PyTorch side of Moccasin: measuring, tracing and wrapping real training steps.

Importing this package imports torch; the planning side (``moccasin.graph``,
``moccasin.schedule``, ``moccasin.solvers``) never does. ``moccasin.measure_peak`` etc. reach
here lazily through ``moccasin.__getattr__``.
"""

from moccasin.torch.measure import MemoryMeter, measure_peak

# trace (moccasin.torch.trace) and wrap (the emitter) are added here by their own branches.

__all__ = ["MemoryMeter", "measure_peak"]
