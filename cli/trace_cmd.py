"""``moccasin trace MODULE:FACTORY``: trace a model's training step into a graph file."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

from moccasin.errors import InputError

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "trace",
        help="trace a PyTorch training step (forward and backward) into a graph file",
        description=(
            "Trace one training step of the model that MODULE:FACTORY builds. FACTORY returns an "
            "nn.Module, or a (module, example_inputs) tuple. The graph's cost_ram is bytes; "
            "cost_cpu is FLOPs (cost_unit 'flop') or, with --profile, microseconds ('us')."
        ),
    )
    p.add_argument("factory", metavar="MODULE:FACTORY", help="e.g. mypkg.models:build or path/to/models.py:build")
    p.add_argument("--input-shape", action="append", default=[], metavar="D0,D1,...",
                   help="shape of one random example input; repeat for several inputs (overrides the factory's)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="dtype of --input-shape inputs (integer inputs are zeros); default float32")
    p.add_argument("--profile", action="store_true", help="measure each op's CPU time instead of estimating FLOPs")
    p.add_argument("--keep-random", action="store_true",
                   help="mark random ops (dropout) no_recompute instead of recomputable by replaying the generator state")
    p.add_argument("-o", "--output", required=True, metavar="GRAPH.json", help="where to write the graph")
    p.add_argument("--name", help="graph name (default: FACTORY_train)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a sentence")
    return p


def parse_shape(text: str) -> tuple[int, ...]:
    """``"32,3,224,224"`` -> ``(32, 3, 224, 224)``; InputError on anything else."""
    try:
        shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise InputError(f"--input-shape {text!r}: expected comma-separated integers like 32,3,224,224") from None
    if not shape or any(d <= 0 for d in shape):
        raise InputError(f"--input-shape {text!r}: expected positive integers like 32,3,224,224")
    return shape


def load_factory(spec: str):
    """The callable named by ``MODULE:FACTORY`` (MODULE a dotted name or a .py file)."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"{spec!r}: expected MODULE:FACTORY, e.g. mypkg.models:build")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise InputError(f"{spec!r}: no file {module_name}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[path.stem] = module
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{spec!r}: cannot import {module_name}: {type(e).__name__}: {e}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InputError(f"{spec!r}: {module_name} has no callable {attr}")
    return factory


def build_model(args):
    """Call the factory and settle the example inputs (see ``add_parser``)."""
    import torch

    factory = load_factory(args.factory)
    try:
        made = factory()
    except Exception as e:
        raise InputError(f"{args.factory}: the factory failed: {type(e).__name__}: {e}") from None
    inputs = None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module):
        made, inputs = made
        inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if not isinstance(made, torch.nn.Module):
        raise InputError(f"{args.factory}: returned {type(made).__name__}, expected an nn.Module or (module, inputs)")
    if args.input_shape:
        dtype = getattr(torch, args.dtype)
        shapes = [parse_shape(s) for s in args.input_shape]
        if dtype.is_floating_point:
            inputs = tuple(torch.randn(s, dtype=dtype) for s in shapes)
        else:
            inputs = tuple(torch.zeros(s, dtype=dtype) for s in shapes)
    if not inputs:
        raise InputError(f"{args.factory}: the factory returns no example inputs: pass --input-shape")
    return made, inputs


def run(args) -> int:
    from moccasin.graph.io import save_graph
    from moccasin.graph.problem import Problem
    from moccasin.schedule.simulator import baseline

    try:
        from moccasin.torch import trace
    except ImportError as e:
        raise InputError(f"moccasin trace needs PyTorch: pip install torch==2.13.0 ({e})") from None
    model, inputs = build_model(args)
    name = args.name or f"{args.factory.rpartition(':')[2]}_train"
    started = time.perf_counter()
    G = trace(model, *inputs, profile=args.profile, name=name, replay_random=not args.keep_random)
    seconds = time.perf_counter() - started
    try:
        save_graph(G, args.output)
    except OSError as e:
        raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
    base = baseline(Problem.from_graph(G))
    summary = {
        "graph": str(args.output), "name": name, "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
        "baseline_peak": base.peak, "baseline_cost": base.cost, "cost_unit": G.graph["cost_unit"],
        "resident_bytes": G.graph["resident_bytes"],
        "no_recompute": sum(1 for _, d in G.nodes(data=True) if d.get("no_recompute")),
        "trace_seconds": round(seconds, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{name}: {summary['nodes']} nodes, {summary['edges']} edges, baseline peak "
            f"{base.peak / 2**20:.2f} MiB (+{summary['resident_bytes'] / 2**20:.2f} MiB resident), "
            f"baseline cost {base.cost} {summary['cost_unit']}, traced in {seconds:.1f} s -> {args.output}"
        )
    return 0
