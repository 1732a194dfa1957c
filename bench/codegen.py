"""Time an emitted plan's forward and backward graphs under FX's code and Moccasin's own code.

The emitted backward runs every ATen op from Python (eager autograd runs them from C++), so the
cost of one Python call per op is the emitter's overhead at budget 1.0. This wraps a zoo model,
takes its plan's emitted graphs and runs them, alternately, through FX's generated code (boxed,
``torch.ops.aten.x.y(...)`` per op) and through ``moccasin.torch.codegen.compile_boxed`` (each
op's C++ entry point bound once), both without autograd, the same inputs, in the same process.

    python bench/codegen.py gpt2 --budget 1.0 --rounds 40
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import moccasin
from moccasin.torch.codegen import compile_boxed
from moccasin.torch.zoo import ZOO, load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import LMWithLoss  # noqa: E402


def fx_boxed(gm):
    """FX's own generated code for ``gm`` in the boxed convention (a private FX class)."""
    from torch.fx.graph import _BoxedCodeGen

    gm = copy.deepcopy(gm)
    gm.graph.set_codegen(_BoxedCodeGen())
    gm.recompile()
    return lambda args: gm(args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=sorted(ZOO))
    ap.add_argument("--budget", type=float, default=1.0, help="fraction of the traced baseline peak")
    ap.add_argument("--rounds", type=int, default=40, help="alternating timing rounds")
    ap.add_argument("--time-limit", type=float, default=8.0, help="solver seconds for the plan")
    args = ap.parse_args()
    torch.set_num_threads(1)

    model, inputs = load(args.model)
    if args.model == "gpt2":
        model = LMWithLoss(model)
    wrapped = moccasin.wrap(model, *inputs, budget=args.budget, time_limit=args.time_limit)
    out = wrapped(*inputs)
    (out if out.dim() == 0 else out.sum()).backward()
    plan = wrapped.moccasin_plan
    fw, bw = plan.graphs["forward"], plan.graphs["backward"]
    primals = [inputs[f] if isinstance(f, int) else f() for f in plan.fetch]
    n_saved = len(plan.emit.saved)
    tangents = [n for n in bw.graph.nodes if n.op == "placeholder" and n.name.startswith("tangents")]
    variants = {"fx": (fx_boxed(fw), fx_boxed(bw)), "moccasin": (compile_boxed(fw), compile_boxed(bw))}

    def once(forward, backward) -> tuple[float, float]:
        with torch.no_grad():
            torch.manual_seed(0)
            start = time.perf_counter()
            outs = list(forward(list(primals)))
            mid = time.perf_counter()
            saved = outs[len(outs) - n_saved:] if n_saved else []
            grads_out = [torch.ones(n.meta["val"].shape, dtype=n.meta["val"].dtype) for n in tangents]
            backward([*saved, *grads_out])
            return mid - start, time.perf_counter() - mid

    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, (f, b) in variants.items():
            times[name].append(once(f, b))
    ops = [sum(1 for n in g.graph.nodes if n.op == "call_function") for g in (fw, bw)]
    print(f"{args.model} budget {args.budget}: {ops[0]} forward and {ops[1]} backward ops; "
          f"torch {torch.__version__}, {platform.machine()}, 1 thread, {args.rounds} rounds")
    for name, ts in times.items():
        f = [t[0] * 1e3 for t in ts]
        b = [t[1] * 1e3 for t in ts]
        print(f"  {name:9s} forward {min(f):7.2f} ms (median {statistics.median(f):7.2f})   "
              f"backward {min(b):7.2f} ms (median {statistics.median(b):7.2f})")
    saved_us = sum(min(t[i] for t in times["fx"]) - min(t[i] for t in times["moccasin"]) for i in (0, 1))
    print(f"  saved per op (minima): {saved_us * 1e6 / sum(ops):.2f} us")


if __name__ == "__main__":
    main()
