"""cost_cpu of joint-graph nodes: FLOPs plus a bytes-moved term, or measured CPU microseconds.

The estimate (unit ``"flop"``): FLOPs from ``torch.utils.flop_counter`` (matmul, convolution,
attention), counted on ``meta`` tensors so nothing is computed; ops it counts as 0 FLOPs
(pointwise, normalisation, pooling, reductions, copies) cost ``BYTE_COST`` per byte they read
and write instead. Views and aliases move nothing. Every op costs at least 1.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx
from torch.utils._pytree import tree_map_only
from torch.utils.flop_counter import FlopCounterMode

from moccasin.torch.storage import Ownership, tensors_of

#: FLOP-equivalents charged per byte read or written by ops without a FLOP formula. Profiling the
#: bench models on a 2-core CPU gave 2 to 11 FLOPs of matmul/conv time per byte moved by
#: pointwise, norm and pooling ops; 4 sits in the middle (it keeps them cheap but not free).
BYTE_COST = 4

#: graph attribute ``cost_unit`` of each mode.
UNIT_ESTIMATE = "flop"  # FLOPs, or BYTE_COST per byte moved for ops without a FLOP formula
UNIT_PROFILE = "us"  # median measured CPU time in microseconds


def _as_meta(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype, device="meta")


def _meta_args(node: fx.Node):
    def val(n: fx.Node):
        v = n.meta.get("val")
        return tree_map_only(torch.Tensor, _as_meta, v)

    return tree_map_only(fx.Node, val, (node.args, node.kwargs))


def node_flops(node: fx.Node) -> int:
    """FLOPs of one ATen op per ``torch.utils.flop_counter`` (0 if it has no formula or no meta kernel)."""
    if not isinstance(node.target, torch._ops.OpOverload):
        return 0
    try:
        args, kwargs = _meta_args(node)
        with FlopCounterMode(display=False) as counter:
            node.target(*args, **kwargs)
        return int(counter.get_total_flops())
    except Exception:  # an op without a meta kernel: fall back to bytes moved
        return 0


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def bytes_moved(node: fx.Node, own: Ownership) -> int:
    """Bytes read (tensor inputs) plus bytes written (new storage) by a non-view op."""
    if not own.fresh_bytes.get(node.name) and not (
        isinstance(node.meta.get("val"), (tuple, list)) and node.target is not operator.getitem
    ):
        return 0
    read = sum(_tensor_bytes(t) for a in node.all_input_nodes for t in tensors_of(a.meta.get("val")))
    written = sum(_tensor_bytes(t) for t in tensors_of(node.meta.get("val")))
    return read + written


def estimate_cost(node: fx.Node, own: Ownership) -> int:
    """The ``"flop"`` cost of a call_function node (module docstring); at least 1."""
    if node.target is operator.getitem:
        return 1
    flops = node_flops(node)
    if flops > 0:
        return flops
    return max(1, BYTE_COST * bytes_moved(node, own))
