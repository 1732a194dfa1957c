"""Turn a schedule of a traced training step into AOTAutograd forward and backward fx graphs.

The schedule is a sequence of compute-graph node ids (a node may repeat: recomputation). It is
cut at its first backward step (the first node that reads a tangent): the steps before form
the forward graph, the rest the backward graph. Every step becomes a fresh copy of its joint
fx node whose inputs are the *newest* instances of its input nodes, so a recomputation reads
recomputed values, exactly as the simulator assumes. The forward returns the model's outputs
followed by the saved values: every forward instance (and every parameter or input) that a
backward step still reads. The generated code (``codegen.py``) drops each value after its last
use, so the node order of both graphs is the memory behaviour the planner predicted.

Nodes the tracer marked ``no_recompute`` (reads of buffers the step mutates, random ops that
cannot be replayed) must appear once in the schedule; :func:`split_schedule` refuses a schedule
that repeats one. A random op the tracer lets be recomputed (``TracedStep.replay``) saves the
generator state before its first computation and replays it in every recomputation (as
``torch.utils.checkpoint`` does), so it draws the same numbers; the global generator is left
as the first computation left it.
A recomputed training-mode BatchNorm becomes ``_native_batch_norm_legit.no_stats`` (same output
and batch statistics, no read of the running statistics, which AOTAutograd has updated in place
by then); the new running statistics are taken from its first instance only.
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.fx as fx

from moccasin.errors import MoccasinError
from moccasin.torch.codegen import compile_boxed
from moccasin.torch.marks import is_training_batch_norm


class EmitError(MoccasinError):
    """A schedule that cannot be emitted as forward and backward graphs (a bug upstream)."""


@dataclass
class EmitPlan:
    """How a schedule splits into a forward and a backward graph (node names are the joint's)."""

    forward_steps: list[str]  #: joint fx names, in forward execution order (repeats allowed)
    backward_steps: list[str]  #: joint fx names, in backward execution order (repeats allowed)
    alias_of: dict[str, str]  #: view node -> the node owning its storage (from the trace)
    recomputed: Counter = field(default_factory=Counter)  #: joint name -> extra computations
    #: joint names whose forward instance the backward reads (filled by :func:`build_graphs`)
    saved: list[str] = field(default_factory=list)
    #: random ops the schedule recomputes, replaying their generator state (of ``TracedStep.replay``)
    replay: set = field(default_factory=set)

    @property
    def num_recomputations(self) -> int:
        return sum(self.recomputed.values())


def _is_sym(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), (torch.SymInt, torch.SymFloat, torch.SymBool))


def split_schedule(step, sequence: list) -> EmitPlan:
    """Check ``sequence`` against the traced step and cut it into forward and backward steps.

    ``step`` is a :class:`~moccasin.torch.trace.TracedStep`. Raises :class:`EmitError` if the
    schedule repeats a ``no_recompute`` node, reads a value never computed, or needs a
    backward value before the forward outputs are all computed.
    """
    G = step.graph
    counts = Counter(nid for nid in sequence if nid != step.sink)
    missing = [nid for nid in step.node_names if counts[nid] == 0]
    if missing:
        raise EmitError(f"schedule never computes {len(missing)} node(s), e.g. {step.node_names[missing[0]]}")
    for nid, why in step.no_recompute.items():
        if counts[nid] > 1:
            raise EmitError(
                f"schedule recomputes {step.node_names[nid]} ({why}) {counts[nid] - 1} time(s); "
                f"the planner must honour no_recompute marks"
            )
    names = [step.node_names[nid] for nid in sequence if nid != step.sink]
    cut = next((k for k, nid in enumerate(n for n in sequence if n != step.sink) if G.nodes[nid]["backward"]), len(names))
    forward, backward = names[:cut], names[cut:]

    gm = step.gm
    nodes = {n.name: n for n in gm.graph.nodes}
    output = next(n for n in gm.graph.nodes if n.op == "output")
    computed_fwd: set[str] = set()
    for name in forward:
        for a in nodes[name].all_input_nodes:
            if a.op == "call_function" and a.name not in computed_fwd:
                raise EmitError(f"schedule runs {name} before its input {a.name}")
        computed_fwd.add(name)
    for o in list(output.args[0])[: step.num_fwd_outputs]:
        if isinstance(o, fx.Node) and o.op == "call_function" and o.name not in computed_fwd:
            raise EmitError(f"forward output {o.name} is first computed after the backward starts")

    computed = set(computed_fwd)
    for name in backward:
        for a in nodes[name].all_input_nodes:
            if a.op == "call_function" and a.name not in computed:
                raise EmitError(f"schedule runs {name} before its input {a.name}")
        computed.add(name)
    for o in list(output.args[0])[step.num_fwd_outputs :]:
        if isinstance(o, fx.Node) and o.op == "call_function" and o.name not in backward:
            raise EmitError(f"gradient {o.name} is never computed in the backward part of the schedule")
    recomputed = Counter({step.node_names[nid]: c - 1 for nid, c in counts.items() if c > 1})
    alias_of = {
        step.node_names[nid]: step.node_names[G.nodes[nid]["alias_of"]]
        for nid in step.node_names
        if G.nodes[nid].get("alias_of") is not None
    }
    return EmitPlan(
        forward_steps=forward, backward_steps=backward, alias_of=alias_of, recomputed=recomputed,
        # Only random ops the schedule runs again need their generator state saved.
        replay={name for name in getattr(step, "replay", ()) if recomputed[name]},
    )


def _is_tangent(node: fx.Node) -> bool:
    desc = node.meta.get("desc")
    if desc is not None:
        return type(desc).__name__ == "TangentAOTInput"
    return node.name.startswith("tangents")


def rng_state(device: str) -> torch.Tensor:
    """The state of the default generator of ``device`` (a CPU byte tensor)."""
    dev = torch.device(device)
    return torch.cuda.get_rng_state(dev) if dev.type == "cuda" else torch.get_rng_state()


def replay(state: torch.Tensor, device: str, op, *args, **kwargs):
    """Run random ``op`` again from generator ``state``: the numbers its first computation drew.
    The generator is restored afterwards, so later random ops draw what they would in eager."""
    dev = torch.device(device)
    if dev.type == "cuda":
        with torch.random.fork_rng(devices=[dev], device_type="cuda"):
            torch.cuda.set_rng_state(state, dev)
            return op(*args, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(state)
        return op(*args, **kwargs)


def _state_meta(node: fx.Node, device: str):
    """A stand-in value of the generator state for the node's meta (a fake tensor when the
    graph's values are fake, as AOTAutograd expects of saved values)."""
    state = rng_state(device) if torch.device(device).type == "cpu" else torch.empty(16, dtype=torch.uint8)
    val = node.meta.get("val")
    fake = next((t for t in (val if isinstance(val, (tuple, list)) else (val,)) if hasattr(t, "fake_mode")), None)
    if fake is not None:
        with fake.fake_mode:
            return torch.empty(state.shape, dtype=state.dtype)
    return state


def _device_of(node: fx.Node) -> str:
    val = node.meta.get("val")
    for t in val if isinstance(val, (tuple, list)) else (val,):
        if isinstance(t, torch.Tensor):
            return str(t.device)
    return "cpu"


class _Builder:
    """Copies joint nodes into one new graph, tracking the newest instance of every joint node.

    A view (``alias_of`` an owner node) is only valid while it looks at the newest instance of
    its owner: the simulator assumes a reader of a view reads the owner's newest instance. When
    the owner was recomputed after the view was made, the view is re-made (views are free) from
    the newest instances of its inputs, so the old storage is not kept alive through the view.
    """

    def __init__(self, graph: fx.Graph, nodes: dict[str, fx.Node], alias_of: dict[str, str], fallback=None):
        self.graph, self.nodes, self.alias_of = graph, nodes, alias_of
        self.env: dict[str, fx.Node] = {}
        self.gen: Counter = Counter()  # joint name -> instances made so far (here or before)
        self.base_gen: dict[str, int] = {}  # view name -> owner generation it looks at
        self.fallback = fallback  # name -> node for values from elsewhere (saved values)
        self.first: dict[str, fx.Node] = {}  # joint name -> its first instance in this graph
        self.item_fallback = None  # getitem node -> its value when its op's tuple is elsewhere
        #: getitem name -> generation of its op whose item was extracted right after the op ran
        self.extracted: dict[str, int] = {}
        self.replay: set[str] = set()  # random ops recomputed by replaying the generator state
        self.rng: dict[str, fx.Node] = {}  # random op -> its saved generator state in this graph
        self.rng_fallback = None  # random op -> its state when the first computation is elsewhere
        self.following: set[str] = set()  # getitems the schedule runs right after the current step

    def stale(self, name: str) -> bool:
        """Whether view ``name``'s newest instance looks at an older instance of its owner."""
        owner = self.alias_of.get(name)
        return owner is not None and name in self.base_gen and self.base_gen[name] != self.gen[owner]

    def value(self, node: fx.Node) -> fx.Node:
        name = node.name
        if self.stale(name):
            return self.copy(name)  # stale view of a recomputed owner: re-make it
        if name in self.env:
            return self.env[name]
        if node.op == "get_attr":
            self.env[name] = self.graph.node_copy(node)
            return self.env[name]
        if self.fallback is not None:
            self.env[name] = self.fallback(node)
            return self.env[name]
        raise EmitError(f"no instance of {name} is available")

    def copy(self, name: str) -> fx.Node:
        node = self.nodes[name]
        if node.target is operator.getitem and isinstance(node.args[0], fx.Node):
            op = node.args[0].name
            if name in self.extracted and self.extracted[name] == self.gen[op] and not self.stale(op):
                del self.extracted[name]  # taken out right after this instance of its op
                return self.env[name]
        if name in self.replay:
            new = self._random(node)
        elif self.gen[name] and is_training_batch_norm(node):
            # A recomputed training-mode BatchNorm: same output and batch statistics without
            # reading the running statistics (written back after the forward; see marks.py).
            x, w, b_ = (self.value(a) if isinstance(a, fx.Node) else a for a in node.args[:3])
            new = self.graph.call_function(
                torch.ops.aten._native_batch_norm_legit.no_stats, (x, w, b_, True, *node.args[6:8])
            )
            new.meta = dict(node.meta)
            new.meta["val"] = tuple(node.meta["val"][:3]) if isinstance(node.meta.get("val"), (tuple, list)) else None
        elif (
            node.target is operator.getitem
            and isinstance(node.args[0], fx.Node)
            and is_training_batch_norm(node.args[0])
            and node.args[1] >= 3
        ):
            # New running statistics: only the first instance computes them.
            first = self.first.get(node.args[0].name)
            if first is None:
                raise EmitError(f"{name} (new running statistics) must be computed in the forward")
            new = self.graph.call_function(operator.getitem, (first, node.args[1]))
            new.meta = dict(node.meta)
        elif (
            node.target is operator.getitem
            and self.item_fallback is not None
            and isinstance(node.args[0], fx.Node)
            and isinstance(node.args[0].meta.get("val"), (tuple, list))
            and node.args[0].name not in self.env
            and not self.stale(node.args[0].name)
        ):
            # The op's newest instance is in the forward. Not for a view op (``split``) whose
            # owner was recomputed since: its items are re-made from the owner's newest
            # instance, else the saved items would keep the old storage alive.
            new = self.item_fallback(node)
        else:
            new = self.graph.node_copy(node, self.value)
        if not self.gen[name]:
            self.first[name] = new
        self.env[name] = new
        self.gen[name] += 1
        owner = self.alias_of.get(name)
        if owner is not None:
            self.base_gen[name] = self.gen[owner]
        if isinstance(node.meta.get("val"), (tuple, list)) and node.target is not operator.getitem:
            self._extract_items(node, new)
        return new

    def _random(self, node: fx.Node) -> fx.Node:
        """A random op: the first computation saves the generator state, later ones replay it."""
        device = _device_of(node)
        if not self.gen[node.name]:
            state = self.graph.call_function(rng_state, (device,))
            state.meta["val"] = _state_meta(node, device)
            self.rng[node.name] = state
            return self.graph.node_copy(node, self.value)
        state = self.rng.get(node.name)
        if state is None:
            if self.rng_fallback is None:
                raise EmitError(f"no generator state saved for {node.name}")
            state = self.rng[node.name] = self.rng_fallback(node.name)
        args = fx.map_arg(node.args, self.value)
        kwargs = fx.map_arg(node.kwargs, self.value)
        new = self.graph.call_function(replay, (state, device, node.target, *args), kwargs)
        new.meta = dict(node.meta)
        return new

    def _extract_items(self, node: fx.Node, new: fx.Node) -> None:
        """Take the items of a multi-output op's new instance out at once, so that its result
        tuple (which holds every output) dies here: PyTorch then frees each output at its own
        last use, as the simulator assumes (attached nodes, moccasin.schedule.attach). A
        recomputation takes out the views of its first output and the items the schedule
        recomputes with it; the other items are freed at once (the op allocated them for this
        step only) and readers keep the instance the schedule says they read."""
        produced = len(new.meta["val"]) if isinstance(new.meta.get("val"), (tuple, list)) else None
        for user in list(node.users):
            if user.target is not operator.getitem or user.name in self.extracted:
                continue
            index = user.args[1]
            if produced is not None and index >= produced:
                continue  # e.g. running statistics: a recomputed BatchNorm does not make them
            if self.gen[user.name] and user.name not in self.alias_of and user.name not in self.following:
                continue
            self.copy(user.name)
            self.extracted[user.name] = self.gen[node.name]


def _items_after(nodes: dict[str, fx.Node], steps: list[str], k: int) -> set[str]:
    """The getitems of step ``k``'s op that the schedule runs right after it."""
    items = set()
    for name in steps[k + 1 :]:
        node = nodes[name]
        if node.target is not operator.getitem or not isinstance(node.args[0], fx.Node) or node.args[0].name != steps[k]:
            break
        items.add(name)
    return items


def build_graphs(
    gm: fx.GraphModule, plan: EmitPlan, num_fwd_outputs: int, accumulate: dict[int, Callable] | None = None
) -> tuple[fx.GraphModule, fx.GraphModule]:
    """The forward and backward GraphModules of ``plan`` over the joint graph ``gm``.

    Forward: placeholders are the joint's primals (parameters, buffers, inputs), outputs the
    ``num_fwd_outputs`` forward outputs then the saved values. Backward: placeholders are the
    saved values then the tangents; outputs the joint's gradient outputs. Fills ``plan.saved``.
    Static shapes only (no symbolic sizes are saved).
    """
    joint = gm.graph
    nodes = {n.name: n for n in joint.nodes}
    output = next(n for n in joint.nodes if n.op == "output")
    outs = list(output.args[0])
    placeholders = [n for n in joint.nodes if n.op == "placeholder"]
    primals = [n for n in placeholders if not _is_tangent(n)]
    tangents = [n for n in placeholders if _is_tangent(n)]

    def placeholder(graph: fx.Graph, node: fx.Node) -> fx.Node:
        p = graph.placeholder(node.name)
        # A saved value's placeholder is made when the backward first reads it, after copies
        # of other nodes may have taken its name: FX then names the node ``getitem_8`` but
        # keeps the target (the argument name) ``getitem_7``, and its generated code renames
        # arguments in sequence (``getitem_8 = getitem_7; getitem_9 = getitem_8``), handing
        # the wrong tensor to later readers. The argument must carry the node's own name.
        p.target = p.name
        p.meta = dict(node.meta)
        return p

    # Forward graph.
    fwd = fx.Graph()
    f = _Builder(fwd, nodes, plan.alias_of)
    f.replay = plan.replay
    for p in primals:
        f.env[p.name] = placeholder(fwd, p)
    for k, name in enumerate(plan.forward_steps):
        f.following = _items_after(nodes, plan.forward_steps, k)
        f.copy(name)
    fwd_outs = [f.value(o) if isinstance(o, fx.Node) else o for o in outs[:num_fwd_outputs]]

    # Backward graph: a value whose newest instance lives in the forward becomes a saved value.
    bwd = fx.Graph()
    tangent_nodes = [placeholder(bwd, t) for t in tangents]
    saved: list[str] = []

    if not tangent_nodes:
        raise EmitError("the joint graph has no tangent input: nothing to differentiate")

    saved_fwd: list[fx.Node] = []  # the forward instance of each saved value

    def save(node: fx.Node, fwd_node: fx.Node) -> fx.Node:
        if _is_sym(node):
            raise EmitError(f"{node.name} is a symbolic size: dynamic shapes are not supported (trace with static shapes)")
        saved.append(node.name)
        saved_fwd.append(fwd_node)
        with bwd.inserting_before(tangent_nodes[0]):
            return placeholder(bwd, nodes[node.name])

    def from_forward(node: fx.Node) -> fx.Node:
        if node.name not in f.env:
            raise EmitError(f"the backward reads {node.name}, which the forward never computes")
        return save(node, f.value(node))

    def item_from_forward(node: fx.Node) -> fx.Node:
        """``getitem`` of a multi-output op whose newest instance is in the forward: a tuple
        cannot be saved, so the forward extracts the item right after that instance."""
        if f.extracted.get(node.name) == f.gen[node.args[0].name]:
            return save(node, f.env[node.name])  # taken out right after its op
        op = f.env.get(node.args[0].name)
        if op is None:
            raise EmitError(f"the backward reads {node.args[0].name}, which the forward never computes")
        with fwd.inserting_after(op):
            item = fwd.call_function(operator.getitem, (op, node.args[1]))
        item.meta = dict(node.meta)
        return save(node, item)

    def state_from_forward(name: str) -> fx.Node:
        """The generator state a random op's forward computation saved, as a saved value."""
        state = f.rng.get(name)
        if state is None:
            raise EmitError(f"the backward replays {name}, which the forward never computes")
        saved.append(f"{name}.rng_state")
        saved_fwd.append(state)
        with bwd.inserting_before(tangent_nodes[0]):
            p = bwd.placeholder(f"{name}_rng_state")
        p.target = p.name
        p.meta = dict(state.meta)
        return p

    b = _Builder(bwd, nodes, plan.alias_of, fallback=from_forward)
    b.item_fallback = item_from_forward
    b.replay = plan.replay
    b.rng_fallback = state_from_forward
    b.gen = Counter(f.gen)
    b.base_gen = dict(f.base_gen)
    for t in tangents:
        b.env[t.name] = next(p for p in tangent_nodes if p.name == t.name)
    grad_outs = outs[num_fwd_outputs:]
    early: dict[str, list[Callable]] = {}
    for j, fn in (accumulate or {}).items():
        o = grad_outs[j]
        if isinstance(o, fx.Node):
            early.setdefault(o.name, []).append(fn)
    done: set[str] = set()
    for k, name in enumerate(plan.backward_steps):
        b.following = _items_after(nodes, plan.backward_steps, k)
        new = b.copy(name)
        if name in early:
            if name in done:
                raise EmitError(f"schedule computes gradient {name} twice; it must be marked no_recompute")
            done.add(name)
            for fn in early[name]:
                bwd.call_function(fn, (new,))
    bwd.output(tuple(
        None if (accumulate and j in accumulate) else (b.value(o) if isinstance(o, fx.Node) else o)
        for j, o in enumerate(grad_outs)
    ))

    plan.saved = saved
    fwd.output(tuple(fwd_outs + saved_fwd))
    fwd.lint()
    bwd.lint()
    return fx.GraphModule(gm, fwd, "MoccasinForward"), fx.GraphModule(gm, bwd, "MoccasinBackward")


def boxed(gm: fx.GraphModule) -> Callable[[list], Any]:
    """An eager callable in AOTAutograd's boxed convention that drops its argument list early.

    The code (``codegen.py``) unpacks the list and clears it, so a saved value is freed at its
    last use in the graph rather than when the call returns; it calls each ATen op's C++ entry
    point directly. The callable is also kept as ``gm.moccasin_run``.
    """
    run = compile_boxed(gm)
    run._boxed_call = True  # type: ignore[attr-defined]
    gm.moccasin_run = run
    return run


def partition_fn_for(step, plan: EmitPlan, graphs: dict, accumulate: dict[int, Callable] | None = None):
    """An AOTAutograd ``partition_fn`` that returns the schedule's graphs instead of a min-cut.

    It checks that AOTAutograd hands it the joint graph that was traced (the plan refers to its
    node names); ``graphs`` receives ``"forward"`` and ``"backward"`` for inspection.
    """

    def partition(joint_module: fx.GraphModule, joint_inputs, *, num_fwd_outputs: int, **kwargs):
        names = [n.name for n in joint_module.graph.nodes]
        if names != [n.name for n in step.gm.graph.nodes]:
            raise EmitError("AOTAutograd changed the joint graph between tracing and compiling; cannot emit the plan")
        if num_fwd_outputs != step.num_fwd_outputs:
            raise EmitError(f"AOTAutograd expects {num_fwd_outputs} forward outputs, the trace found {step.num_fwd_outputs}")
        fw, bw = build_graphs(joint_module, plan, num_fwd_outputs, accumulate)
        graphs["forward"], graphs["backward"] = fw, bw
        return fw, bw

    return partition


def compile_plan(step, plan: EmitPlan, accumulate: dict[int, Callable] | None = None) -> tuple[Callable, dict]:
    """Compile the traced step (its export stack must still be open) with the plan's graphs.

    Returns ``(fn, graphs)``: ``fn(*params, *buffers, *inputs)`` runs the forward eagerly and
    records an autograd node whose backward runs the emitted backward graph; AOTAutograd's
    runtime applies buffer mutations (BatchNorm statistics) after the forward.
    """
    if step.joint is None:
        raise EmitError("compile_plan needs a step traced with an open stack (trace_step(..., stack=...))")
    from torch._functorch.aot_autograd import aot_compile_joint_with_descriptors

    graphs: dict[str, fx.GraphModule] = {}

    def compiler(gm: fx.GraphModule, example_inputs) -> Callable:
        return boxed(gm)

    fn = aot_compile_joint_with_descriptors(
        step.joint,
        partition_fn=partition_fn_for(step, plan, graphs, accumulate),
        fw_compiler=compiler,
        bw_compiler=compiler,
    )
    return fn, graphs


def early_grad_graph(step):
    """A copy of the traced graph for gradients accumulated as soon as they exist.

    The sink keeps only the forward outputs alive; each parameter gradient is marked
    no_recompute (it is added into ``.grad`` once) and is freed after that, so the planner
    no longer counts every gradient as alive until the backward ends.
    """
    G = step.graph.copy()
    outs = list(next(n for n in step.gm.graph.nodes if n.op == "output").args[0])
    keep: set[int] = set()
    for o in outs[: step.num_fwd_outputs]:
        nid = step.ids.get(o.name) if isinstance(o, fx.Node) else None
        while nid is not None and nid not in keep:
            keep.add(nid)
            nid = G.nodes[nid].get("alias_of")
    G.remove_edges_from([(u, step.sink) for u in list(G.predecessors(step.sink)) if u not in keep])
    for j, (_, kind, _) in enumerate(step.placeholders):
        o = outs[step.num_fwd_outputs + j] if step.num_fwd_outputs + j < len(outs) else None
        if kind == "param" and isinstance(o, fx.Node) and o.name in step.ids:
            G.nodes[step.ids[o.name]]["no_recompute"] = True
    return G


def count_ops(gm: fx.GraphModule) -> Counter:
    """How many times each ATen op (overload name) runs in ``gm``: recomputations show up here."""
    return Counter(
        str(n.target) for n in gm.graph.nodes if n.op == "call_function" and n.target is not operator.getitem
    )
