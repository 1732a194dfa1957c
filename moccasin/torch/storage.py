"""Who owns which bytes: storage ownership of every fx node's output in the joint graph.

Each storage is counted once, at the node that first produces it (its *owner*). Views,
aliases and in-place results find their storage already owned and weigh 0 bytes; storages of
placeholders (parameters, buffers, inputs, tangents) are resident and owned by no node.
A multi-output op (``native_batch_norm``, ``native_dropout``...) owns its first output; each
further output is owned by the ``getitem`` that extracts it, so that every output keeps its
own lifetime in the simulator, as it does in PyTorch.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch.multiprocessing.reductions import StorageWeakRef


def tensors_of(value) -> list[torch.Tensor]:
    """The tensors in a node's ``meta['val']`` (a tensor, or a tuple/list of them)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_of(v)]
    return []


def storage_key(t: torch.Tensor) -> StorageWeakRef:
    return StorageWeakRef(t.untyped_storage())


def storage_bytes(t: torch.Tensor) -> int:
    return int(t.untyped_storage().nbytes())


def is_multi_output(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), (tuple, list))


@dataclass
class Ownership:
    """Storage facts of a joint graph (see module docstring)."""

    #: fx node name -> bytes of new storage it allocates (0 for views, aliases, placeholders).
    fresh_bytes: dict[str, int] = field(default_factory=dict)
    #: fx node name -> names of the nodes owning the storages its output refers to (itself if fresh).
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: getitem nodes owning a non-first output of a multi-output op.
    extra_outputs: set[str] = field(default_factory=set)
    #: storages of placeholders, by placeholder name.
    resident: dict[str, list[StorageWeakRef]] = field(default_factory=dict)
    resident_bytes: int = 0


def analyse_storage(graph: fx.Graph) -> Ownership:
    """Assign every storage in the graph to the node that allocates it (see module docstring)."""
    own = Ownership()
    owner_of: dict[StorageWeakRef, str | None] = {}
    for node in graph.nodes:
        val = node.meta.get("val")
        if node.op in ("placeholder", "get_attr"):  # inputs and lifted constants: resident
            keys = []
            for t in tensors_of(val):
                key = storage_key(t)
                if key not in owner_of:
                    own.resident_bytes += storage_bytes(t)
                owner_of[key] = None
                keys.append(key)
            own.resident[node.name] = keys
            own.fresh_bytes[node.name] = 0
            own.owners[node.name] = ()
            continue
        if node.op != "call_function":
            continue
        if is_multi_output(node):
            # The op owns its first output only; getitems own the others (module docstring).
            first = val[0] if len(val) and isinstance(val[0], torch.Tensor) else None
            tensors = [first] if first is not None else []
        else:
            tensors = tensors_of(val)
        fresh = 0
        owners: list[str] = []
        for t in tensors:
            key = storage_key(t)
            if key not in owner_of:
                owner_of[key] = node.name
                fresh += storage_bytes(t)
            owner = owner_of[key]
            if owner is not None and owner not in owners:
                owners.append(owner)
        if (
            fresh
            and node.target is operator.getitem
            and isinstance(node.args[0], fx.Node)
            and is_multi_output(node.args[0])
            and node.args[1] != 0
        ):
            own.extra_outputs.add(node.name)
        if is_multi_output(node) and not tensors:
            owners = []
        own.fresh_bytes[node.name] = fresh
        own.owners[node.name] = tuple(owners)
    return own
