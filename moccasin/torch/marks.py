"""Which joint-graph nodes must never be recomputed, and why; which random ops are replayed.

Recomputing a random op (dropout, ``bernoulli``, ``rand``) draws new numbers, so the gradient
would no longer match the forward, unless the recomputation replays the generator state the
first computation drew from, as ``torch.utils.checkpoint`` does: random ops on CPU and CUDA are
*replayed* that way by the emitter (``emit.py``) and stay recomputable; with
``replay_random=False``, or on other devices, they run once. An op reading a buffer the step
mutates (the ``num_batches_tracked`` increment) would read the updated value the second time.
BatchNorm in training mode is recomputable: only its new-running-statistics outputs stay single,
and a recomputation does not read the buffers (:func:`is_training_batch_norm`). Ops with side
effects run once. The extra outputs of a multi-output op (owned by their ``getitem``, see
``storage.py``) are recomputable exactly when their op is: a recomputed op makes them again.
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


def is_training_batch_norm(node: fx.Node) -> bool:
    """``_native_batch_norm_legit_functional(..., training=True, ...)``: BatchNorm in training mode.

    Its normalised output and saved batch statistics depend on the batch only; the running
    statistics it reads feed only its last two outputs (the new running statistics, which the
    step writes back). A recomputation can therefore run ``_native_batch_norm_legit.no_stats``
    on the same input, weight and bias (bitwise the same first three outputs) and never read
    the buffers; the emitter does so (``emit.py``), and the new statistics stay single.
    """
    if node.op != "call_function" or node.target is not getattr(
        torch.ops.aten._native_batch_norm_legit_functional, "default", None
    ):
        return False
    training = node.args[5] if len(node.args) > 5 else node.kwargs.get("training")
    return training is True and all(isinstance(a, fx.Node) or a is None for a in node.args[:3])


def _reads_mutated(node: fx.Node, mutated) -> bool:
    args = node.all_input_nodes
    if is_training_batch_norm(node):  # the running statistics (args 3, 4) are not read on recomputation
        args = [a for a in node.args[:3] if isinstance(a, fx.Node)]
    return any(storage_key(t) in mutated for a in args for t in tensors_of(a.meta.get("val")))


def replayable(node: fx.Node) -> bool:
    """A random op whose generator state the emitter can save and restore (CPU and CUDA)."""
    devices = {t.device.type for t in tensors_of(node.meta.get("val"))}
    return is_random(node) and len(devices) == 1 and devices <= {"cpu", "cuda"}


def _is_running_stats(node: fx.Node) -> bool:
    op = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    return op is not None and is_training_batch_norm(op) and node.args[1] >= 3


def no_recompute_reasons(
    graph: fx.Graph, own: Ownership, mutated_placeholders: set[str], replay_random: bool = True
) -> tuple[dict[str, str], set[str]]:
    """fx node name -> reason, for every call_function node that must run exactly once; and
    the random ops recomputed by replaying their generator state."""
    mutated = {key for name in mutated_placeholders for key in own.resident.get(name, ())}
    reasons: dict[str, str] = {}
    replay: set[str] = set()
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        if is_random(node):
            if replay_random and replayable(node):
                replay.add(node.name)
            else:
                reasons[node.name] = "random"
        elif has_side_effect(node):
            reasons[node.name] = "mutates an input"
        elif _reads_mutated(node, mutated):
            reasons[node.name] = "reads a buffer the step updates"
        elif node.name in own.extra_outputs:
            if _is_running_stats(node):
                reasons[node.name] = "new running statistics (written back once)"
            elif node.args[0].name in reasons:
                reasons[node.name] = f"extra output of an op that runs once ({reasons[node.args[0].name]})"
    return reasons, replay
