"""The PyTorch side of Moccasin: measuring, tracing and wrapping real training steps.

Importing this package imports torch; the planning side (``moccasin.graph``,
``moccasin.schedule``, ``moccasin.solvers``) never does. ``moccasin.measure_peak``,
``moccasin.trace`` and ``moccasin.wrap`` reach here lazily through ``moccasin.__getattr__``.

``trace(model, *example_inputs)`` returns the graph (networkx, DESIGN.md's format);
``trace_step`` returns a :class:`TracedStep` that also holds the joint fx graph and the map
between graph nodes and fx nodes, for the emitter. Only this package imports torch.

What the graph means:

- Nodes are the ATen ops of AOTAutograd's joint forward+backward graph (functionalised, no
  decompositions), ids ``0..n-1`` in execution order (also the ``order`` attribute), and a
  last ``__sink__`` node. ``backward`` is true for ops that depend on a tangent.
- ``cost_ram`` is bytes of new storage. Views and aliases weigh 0 and carry ``alias_of`` (the node
  owning their storage), with edges from that node to each of their readers, so the base stays
  alive as long as a view is used. User in-place ops are functionalised into new tensors.
- Resident, outside the budget: parameters, buffers, inputs, tangents (the gradient fed to the
  backward, ones for a scalar loss) and lifted constants; their bytes are the graph attribute
  ``resident_bytes``. The loss, the parameter gradients and the new BatchNorm statistics live
  until the step ends: the sink reads them (the simulator keeps them until the last step).
- ``cost_cpu`` is in the unit of the graph attribute ``cost_unit``: ``"flop"`` (FLOPs from
  ``torch.utils.flop_counter``; ops it does not count cost ``costs.BYTE_COST`` per byte moved;
  at least 1) or ``"us"`` with ``profile=True`` (median measured CPU microseconds).
- ``no_recompute`` marks ops reading buffers the step updates (BatchNorm's
  ``num_batches_tracked`` increment; training-mode BatchNorm itself is recomputable, its new
  running statistics are not), ops with side effects, random ops with ``replay_random=False``
  (otherwise they are recomputed by replaying their generator state), and the extra outputs
  of ops that run once; ``TracedStep.no_recompute`` says why.
- ``attached`` marks the items of multi-output ops, which exist from the op's step on
  (``moccasin/schedule/attach.py``).

``backend(budget=...)`` is a ``torch.compile`` backend that plans every graph dynamo captures
the same way (``backend.py``).
"""

from moccasin.torch.backend import MoccasinBackend, backend
from moccasin.torch.measure import MemoryMeter, measure_peak
from moccasin.torch.trace import TracedStep, trace, trace_step
from moccasin.torch.wrap import MoccasinModule, PlanError, wrap

__all__ = ["MemoryMeter", "MoccasinBackend", "backend", "MoccasinModule", "PlanError", "TracedStep", "measure_peak", "trace", "trace_step", "wrap"]
