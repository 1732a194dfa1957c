"""The PyTorch side of Moccasin: trace a training step into a compute graph.

Only this package imports torch; the planner works on saved graphs without it.
"""

from moccasin.torch.trace import TracedStep, trace, trace_step

__all__ = ["TracedStep", "trace", "trace_step"]
