"""Python code for an emitted fx graph that calls each ATen op's C++ entry point directly.

FX's generated code calls ``torch.ops.aten.mm.default(...)``: four attribute lookups and a
Python ``OpOverload.__call__`` frame per op, about 1 us on this machine. The emitted backward
runs every op from Python (eager autograd runs them from C++), so on op-heavy models (GPT-2:
~1,800 ops a step) that is a few percent of the step. Here each op's ``_op`` builtin (what
``OpOverload.__call__`` calls) is bound once as a global, constants are bound as globals too
(no repr round trip), and each value is deleted right after its last use, in the boxed
convention AOTAutograd uses (the argument list is cleared once unpacked), so memory behaves
as the schedule says. Dispatch modes (``MemoryMeter``) still see every op: the call goes
through the dispatcher as before.

>>> import torch, torch.fx as fx
>>> g = fx.Graph(); x = g.placeholder("x")
>>> y = g.call_function(torch.ops.aten.mul.Tensor, (x, 2.0)); _ = g.output((y,))
>>> run = compile_boxed(fx.GraphModule(torch.nn.Module(), g))
>>> run([torch.ones(2)])
(tensor([2., 2.]),)
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
import torch.fx as fx

from moccasin.torch.execute import last_uses


class _Source:
    """The globals generated source refers to, and the source text of fx arguments."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {}
        self.ids: dict[int, str] = {}  # id(object) -> its global name

    def bind(self, obj: Any, hint: str) -> str:
        """A global name for ``obj`` (the same name for the same object)."""
        key = id(obj)
        if key not in self.ids:
            name = f"_{''.join(c if c.isalnum() else '_' for c in hint)}_{len(self.ids)}"
            self.ids[key] = name
            self.globals[name] = obj
        return self.ids[key]

    def arg(self, a: Any, local: dict[str, str]) -> str:
        """Source text of an fx argument: a node's variable, a literal, or a bound global."""
        if isinstance(a, fx.Node):
            return local[a.name]
        if isinstance(a, (list, tuple)):
            inner = ", ".join(self.arg(x, local) for x in a)
            if isinstance(a, list):
                return f"[{inner}]"
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if a is None or type(a) in (bool, int, str):
            return repr(a)
        if type(a) is float and math.isfinite(a):
            return repr(a)
        return self.bind(a, type(a).__name__)

    def callee(self, target: Any) -> str:
        if isinstance(target, torch._ops.OpOverload):
            return self.bind(target._op, str(target))
        return self.bind(target, getattr(target, "__name__", type(target).__name__))


def python_source(gm: fx.GraphModule) -> tuple[str, dict[str, Any]]:
    """The source of ``run(args)`` for ``gm``'s graph, and its globals."""
    src = _Source()
    local: dict[str, str] = {}
    frees = last_uses(gm.graph)
    nodes = list(gm.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    for i, n in enumerate(placeholders):
        local[n.name] = f"v{i}"
    lines = ["def run(args):"]
    if placeholders:
        lines.append(f"    {', '.join(local[n.name] for n in placeholders)}, = args")
    lines.append("    args.clear()")
    unused = [local[n.name] for n in placeholders if not n.users]
    if unused:
        lines.append(f"    del {', '.join(unused)}")
    for n in nodes:
        if n.op == "placeholder":
            continue
        if n.op == "output":
            lines.append(f"    return {src.arg(n.args[0], local)}")
            break
        var = local[n.name] = f"v{len(local)}"
        if n.op == "get_attr":
            obj = gm
            for part in n.target.split("."):
                obj = getattr(obj, part)
            expr = src.bind(obj, n.target)
        elif n.op == "call_function" and n.target is operator.getitem and not n.kwargs:
            expr = f"{src.arg(n.args[0], local)}[{src.arg(n.args[1], local)}]"
        elif n.op == "call_function":
            args = [src.arg(a, local) for a in n.args]
            args += [f"{k}={src.arg(v, local)}" for k, v in n.kwargs.items()]
            expr = f"{src.callee(n.target)}({', '.join(args)})"
        else:
            raise ValueError(f"{n.name}: unsupported fx op {n.op} in an emitted graph")
        lines.append(f"    {var} = {expr}" if n.users else f"    {expr}")
        dead = [local[a] for a in frees.get(n.name, ())]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    return "\n".join(lines) + "\n", src.globals


def compile_boxed(gm: fx.GraphModule) -> Callable[[list], Any]:
    """A function ``run(args)`` that runs ``gm``'s graph on a list of values and clears it."""
    source, globals_ = python_source(gm)
    code = compile(source, f"<moccasin {type(gm).__name__}>", "exec")
    namespace: dict[str, Any] = dict(globals_)
    exec(code, namespace)  # source built above from the graph's own nodes, not from input data
    run = namespace["run"]
    run.source = source  # type: ignore[attr-defined]
    return run
