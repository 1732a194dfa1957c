"""Trace a training step (forward and backward) into a compute graph for the planner.

AOTAutograd exports the joint graph: functionalised ATen ops, no decompositions, so the
gradients stay exactly PyTorch's. Every call_function node becomes a graph node (ids 0..n-1 in
fx order, which is also the graph's ``order``), plus a final sink node.

Memory model (what ``cost_ram`` means): bytes of new storage each node allocates. Views,
aliases and in-place results weigh 0, and an edge from the node owning their storage to each of
their readers keeps that storage alive as long as PyTorch would. Parameters, buffers, inputs
and tangents are resident: they are no graph nodes, and their bytes (graph attribute
``resident_bytes``) lie outside the budget. Outputs that live until the step ends (the loss,
the gradients, new BatchNorm statistics) are read by the sink, a zero-cost, zero-size last node.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import warnings
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import torch
import torch.fx as fx
from torch.utils import _pytree as pytree

from moccasin.errors import InputError
from moccasin.torch._compat import UnsupportedTorch, joint_export_api, torch_release
from moccasin.torch.costs import UNIT_ESTIMATE, UNIT_PROFILE, estimate_cost
from moccasin.torch.execute import profile_graph
from moccasin.torch.marks import no_recompute_reasons
from moccasin.torch.storage import analyse_storage, is_multi_output

SINK_NAME = "__sink__"


@dataclass
class TracedStep:
    """A traced training step: the joint fx graph, its compute graph, and how they map.

    The joint graph ``gm`` takes its placeholders in order (``placeholders``): parameters,
    buffers, user inputs, then tangents (the gradients of the forward outputs, ones for a
    scalar loss). Its output tuple is the ``num_fwd_outputs`` forward outputs (new values of
    mutated buffers first, then the model's outputs) followed by the gradients of the
    placeholders (``None`` where there is none); ``output_descs`` names each one.
    """

    graph: nx.DiGraph  #: the compute graph (DESIGN.md format)
    gm: fx.GraphModule  #: the joint forward+backward graph; node meta['val'] holds FakeTensors
    node_names: dict[int, str]  #: graph node id -> fx node name (every node but the sink)
    ids: dict[str, int]  #: fx node name -> graph node id
    sink: int  #: id of the sink node that keeps the step's outputs alive
    placeholders: list[tuple[str, str, Any]]  #: (fx name, kind, key); kind param|buffer|input|tangent
    num_fwd_outputs: int  #: leading entries of the output tuple that the forward returns
    output_descs: list[str]  #: one description per output of the joint graph
    mutated_buffers: list[str]  #: FQNs of buffers whose new value the step returns (BN statistics)
    no_recompute: dict[int, str] = field(default_factory=dict)  #: node id -> why it must run once
    #: fx names of random ops recomputed by replaying their generator state (marks.py)
    replay: set = field(default_factory=set)
    joint: Any = None  #: the JointWithDescriptors, only while the caller's ExitStack is open

    def fx_node(self, node_id: int) -> fx.Node:
        """The fx node behind a graph node id."""
        name = self.node_names[node_id]
        return next(n for n in self.gm.graph.nodes if n.name == name)

    def names_of_kind(self, kind: str) -> list[str]:
        return [name for name, k, _ in self.placeholders if k == kind]

    @property
    def forward_ids(self) -> list[int]:
        return [i for i in self.node_names if not self.graph.nodes[i]["backward"]]

    @property
    def backward_ids(self) -> list[int]:
        return [i for i in self.node_names if self.graph.nodes[i]["backward"]]

    def placeholder_values(self, model: torch.nn.Module, *example_inputs, tangents=None) -> list:
        """Real tensors for the joint graph's placeholders, in order (tangents default to ones)."""
        flat_inputs = pytree.tree_leaves(example_inputs)
        vals = {n.name: n.meta.get("val") for n in self.gm.graph.nodes if n.op == "placeholder"}
        tangents = list(tangents) if tangents is not None else None
        out = []
        for name, kind, key in self.placeholders:
            if kind == "param":
                out.append(model.get_parameter(key))
            elif kind == "buffer":
                out.append(model.get_buffer(key))
            elif kind == "input":
                out.append(flat_inputs[key])
            elif tangents is not None:
                out.append(tangents.pop(0))
            else:
                v = vals[name]
                out.append(torch.ones(tuple(v.shape), dtype=v.dtype))
        return out


def _kind(desc: Any) -> tuple[str, Any]:
    cls = type(desc).__name__
    if cls == "ParamAOTInput":
        return "param", desc.target
    if cls == "BufferAOTInput":
        return "buffer", desc.target
    if cls == "PlainAOTInput":
        return "input", desc.idx
    if cls == "TangentAOTInput":
        return "tangent", str(desc.output)
    raise UnsupportedTorch(f"joint graph input of an unsupported kind {desc!r} (torch {torch_release()})")


def _export(model: torch.nn.Module, inputs: tuple, stack: contextlib.ExitStack):
    export, _ = joint_export_api()
    quiet = logging.getLogger("torch._subclasses.fake_tensor")  # logs a traceback before raising
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return export(stack, model, inputs)
    except UnsupportedTorch:
        raise
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        hint = " (control flow that depends on tensor values cannot be traced)" if "DataDependent" in type(e).__name__ else ""
        raise InputError(f"cannot trace {type(model).__name__}: {type(e).__name__}: {first}{hint}") from e
    finally:
        quiet.setLevel(level)


#: Ops whose outputs can be undefined tensors at run time (None in Python) though tracing saw
#: tensors, and whose backward ops take them as plain ``Tensor`` arguments: no Python code can
#: pass them on, so a graph holding one cannot be emitted.
UNDEFINED_OUTPUTS = ("aten.mkldnn_rnn_layer.default",)


def _native_rnns(model: torch.nn.Module):
    """Trace RNN modules without oneDNN: with it, CPU LSTM training runs ``mkldnn_rnn_layer``,
    which returns an undefined workspace for its backward (:data:`UNDEFINED_OUTPUTS`); without
    it, ``aten.lstm`` decomposes into per-step matmuls and pointwise ops that the planner can
    schedule (and recompute) one time step at a time."""
    stack = contextlib.ExitStack()
    if any(isinstance(m, torch.nn.RNNBase) for m in model.modules()):
        # Setting the flags warns about TF32 on Intel GPUs, which has nothing to do with this.
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message=".*TF32 acceleration on top of oneDNN.*")
        stack.enter_context(torch.backends.mkldnn.flags(enabled=False))
    return stack


def trace_step(
    model: torch.nn.Module,
    *example_inputs,
    profile: bool = False,
    repeats: int = 5,
    name: str | None = None,
    stack: contextlib.ExitStack | None = None,
    replay_random: bool = True,
) -> TracedStep:
    """Trace one training step of ``model`` on ``example_inputs`` (see module docstring).

    ``profile=True`` measures each node's CPU time (median of ``repeats`` runs, microseconds)
    instead of estimating FLOPs. Pass an open ``stack`` to keep the AOTAutograd export usable
    (``TracedStep.joint``, e.g. for ``aot_compile_joint_with_descriptors``) until you close it.
    ``replay_random=False`` marks random ops ``no_recompute`` instead of recomputable by replaying
    the generator state (``marks.py``).
    """
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"trace needs an nn.Module, got {type(model).__name__}")
    if not example_inputs:
        raise InputError(f"trace needs example inputs for {type(model).__name__}")
    own_stack = stack is None
    stack = contextlib.ExitStack() if own_stack else stack
    try:
        _, unset_fake = joint_export_api()
        with _native_rnns(model):
            joint = _export(model, tuple(example_inputs), stack)
        with unset_fake():
            step = _build(joint, name or f"{type(model).__name__}_train", replay_random)
    finally:
        if own_stack:
            stack.close()
    if not own_stack:
        step.joint = joint
    if profile:
        # Real tensors, even while the caller's stack keeps fake mode on; random ops must not
        # move the caller's generator.
        with unset_fake(), torch.random.fork_rng(devices=[]):
            times = profile_graph(step.gm, step.placeholder_values(model, *example_inputs), repeats=repeats)
        for nid, fx_name in step.node_names.items():
            step.graph.nodes[nid]["cost_cpu"] = times.get(fx_name, 1)
        step.graph.graph["cost_unit"] = UNIT_PROFILE
    return step


def trace(
    model: torch.nn.Module, *example_inputs, profile: bool = False, name: str | None = None, replay_random: bool = True
) -> nx.DiGraph:
    """The compute graph of one training step of ``model`` (forward and backward); see
    :func:`trace_step` for the options.

    >>> G = trace(torch.nn.Linear(4, 2), torch.randn(8, 4))  # doctest: +SKIP
    """
    return trace_step(model, *example_inputs, profile=profile, name=name, replay_random=replay_random).graph


def _op_name(target) -> str:
    """``aten.mm.default`` for ATen ops, the function name otherwise (``getitem``)."""
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    return getattr(target, "__name__", str(target))


def _compute_graph(graph: fx.Graph, own, reasons: dict[str, str], tangents: set[str], outs: list):
    """The DiGraph of the module docstring and the fx name -> id map."""
    G = nx.DiGraph()
    ids: dict[str, int] = {}
    backward: set[str] = set()
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        nid = ids[node.name] = len(ids)
        if any(a.name in tangents or a.name in backward for a in node.all_input_nodes):
            backward.add(node.name)
        attrs = {
            "name": node.name,
            "op": _op_name(node.target),
            "backward": node.name in backward,
            "cost_cpu": estimate_cost(node, own),
            "cost_ram": own.fresh_bytes.get(node.name, 0),
            "no_recompute": node.name in reasons,
        }
        aliased = [o for o in own.owners.get(node.name, ()) if o != node.name]
        if aliased and aliased[0] in ids:
            attrs["alias_of"] = ids[aliased[0]]
        G.add_node(nid, **attrs)
        # read the input, and keep alive the node owning its storage (views keep their base)
        for a in node.all_input_nodes:
            for src in (a.name, *own.owners.get(a.name, ())):
                if src in ids and src != node.name:
                    G.add_edge(ids[src], nid)
    # Items of a multi-output op exist from the op's step on (moccasin.schedule.attach); the
    # largest item also reads the op's inputs, which PyTorch holds while the op makes them all.
    items: dict[str, list[int]] = {}
    for node in graph.nodes:
        if (
            node.target is operator.getitem
            and isinstance(node.args[0], fx.Node)
            and is_multi_output(node.args[0])
            and node.name in ids
            and node.args[0].name in ids
            and list(G.predecessors(ids[node.name])) == [ids[node.args[0].name]]
        ):
            G.nodes[ids[node.name]]["attached"] = True
            items.setdefault(node.args[0].name, []).append(ids[node.name])
    for op, nids in items.items():
        largest = max(nids, key=lambda i: G.nodes[i]["cost_ram"])
        if G.nodes[largest]["cost_ram"]:
            G.add_edges_from((u, largest) for u in list(G.predecessors(ids[op])))
    sink = len(ids)
    G.add_node(sink, name=SINK_NAME, op="sink", backward=True, cost_cpu=0, cost_ram=0, no_recompute=True)
    for o in outs:
        if isinstance(o, fx.Node):
            for src in (o.name, *own.owners.get(o.name, ())):
                if src in ids:
                    G.add_edge(ids[src], sink)
    return G, ids


def _build(joint, name: str, replay_random: bool = True) -> TracedStep:
    """Analyse the exported joint graph: placeholders, outputs, storage, marks, costs."""
    gm: fx.GraphModule = joint.graph_module
    graph = gm.graph
    for n in graph.nodes:
        if n.op == "call_function" and str(n.target) in UNDEFINED_OUTPUTS:
            raise InputError(f"cannot trace {name}: {n.target} returns tensors that can be undefined at run time, "
                             "which its backward needs and the emitted code cannot pass on (moccasin.wrap and moccasin.trace "
                             "trace torch.nn.LSTM/GRU/RNN modules without oneDNN to avoid it)")
    placeholders = [(n.name, *_kind(n.meta.get("desc"))) for n in graph.nodes if n.op == "placeholder"]
    output = next(n for n in graph.nodes if n.op == "output")
    outs = list(output.args[0])
    descs = list(output.meta.get("desc") or [None] * len(outs))
    num_fwd = sum(1 for d in descs if d is not None and type(d).__name__ != "GradAOTOutput")
    mutated = [d.mutated_input for d in descs if type(d).__name__ == "InputMutationAOTOutput"]
    mutated_names = {n.name for n in graph.nodes if n.op == "placeholder" and n.meta.get("desc") in mutated}

    own = analyse_storage(graph)
    reasons, replay = no_recompute_reasons(graph, own, mutated_names, replay_random)
    tangents = {nm for nm, kind, _ in placeholders if kind == "tangent"}
    G, ids = _compute_graph(graph, own, reasons, tangents, outs)
    sink = G.number_of_nodes() - 1
    G.graph.update(
        name=name,
        order=list(range(sink + 1)),
        cost_unit=UNIT_ESTIMATE,
        resident_bytes=own.resident_bytes,
        torch_version=torch.__version__,
    )
    return TracedStep(
        graph=G,
        gm=gm,
        node_names={i: nm for nm, i in ids.items()},
        ids=ids,
        sink=sink,
        placeholders=placeholders,
        num_fwd_outputs=num_fwd,
        output_descs=[str(d) for d in descs],
        mutated_buffers=[d.target for d in mutated if hasattr(d, "target")],
        no_recompute={ids[nm]: why for nm, why in reasons.items()},
        replay=replay,
    )
