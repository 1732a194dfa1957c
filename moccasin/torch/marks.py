"""Which joint-graph nodes must never be recomputed, and why.

Recomputing a random op (dropout, ``bernoulli``, ``rand``) draws new numbers, so the gradient
would no longer match the forward; an op reading a buffer the step mutates (BatchNorm's
running statistics) would read the updated value the second time. Ops with side effects and
the extra outputs of multi-output ops (owned by their ``getitem``, see ``storage.py``) are
kept as computed too: re-extracting one needs the whole op again.
"""

from __future__ import annotations

import torch
import torch.fx as fx

from moccasin.torch.storage import Ownership, storage_key, tensors_of

#: Random ops in case an op lacks the ``nondeterministic_seeded`` tag.
RANDOM_OPS = {
    "native_dropout", "dropout", "bernoulli", "bernoulli_", "rand", "rand_like", "randn", "randn_like",
    "randint", "randint_like", "randperm", "normal", "normal_", "uniform", "uniform_", "multinomial",
    "exponential", "exponential_", "poisson", "rrelu_with_noise", "native_dropout_backward_random",
}


def is_random(node: fx.Node) -> bool:
    target = node.target
    if not isinstance(target, torch._ops.OpOverload):
        return False
    if torch.Tag.nondeterministic_seeded in target.tags:
        return True
    return target.overloadpacket.__name__ in RANDOM_OPS


def has_side_effect(node: fx.Node) -> bool:
    target = node.target
    return isinstance(target, torch._ops.OpOverload) and target._schema.is_mutable


def no_recompute_reasons(graph: fx.Graph, own: Ownership, mutated_placeholders: set[str]) -> dict[str, str]:
    """fx node name -> reason, for every call_function node that must run exactly once."""
    mutated = {key for name in mutated_placeholders for key in own.resident.get(name, ())}
    reasons: dict[str, str] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        if is_random(node):
            reasons[node.name] = "random"
        elif has_side_effect(node):
            reasons[node.name] = "mutates an input"
        elif any(storage_key(t) in mutated for a in node.all_input_nodes for t in tensors_of(a.meta.get("val"))):
            reasons[node.name] = "reads a buffer the step updates"
        elif node.name in own.extra_outputs:
            reasons[node.name] = "extra output of a multi-output op"
    return reasons
